//go:build linux

package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/inputtest"
)

// TestTextLargerThanMemory: a text file larger than the memory the process can have is an
// error naming the file, not the Go runtime's fatal out-of-memory. It runs in a child process
// whose address space is capped just above what it uses; the 4 GiB file is sparse.
func TestTextLargerThanMemory(t *testing.T) {
	path := filepath.Join(os.TempDir(), "growthtrain-data-test-4GiB.txt")
	if os.Getenv("GROWTHTRAIN_CAPPED_CHILD") == "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		if err := f.Truncate(4 << 30); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	child, out, err := inputtest.Capped(t, 64<<20)
	if !child {
		if err != nil || !strings.Contains(out, "--- PASS: "+t.Name()) {
			t.Fatalf("child: %v\n%s", err, firstLines(out, 8))
		}
		return
	}
	_, err = ReadText(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "memory") {
		t.Fatalf("ReadText: %v, want an out-of-memory error naming the file", err)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
