//go:build linux

package mmap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/inputtest"
)

// TestMapFailureIsAnError: when mmap fails for lack of address space or memory (ENOMEM, as
// under `ulimit -v`), Open must return an error, not fall back to allocating a buffer the size
// of the file, which the Go runtime cannot refuse gracefully (a fatal out-of-memory with a
// trace). The mapping runs in a child process whose address space is capped just above what it
// already uses; the file is sparse (no disk used).
func TestMapFailureIsAnError(t *testing.T) {
	path := filepath.Join(os.TempDir(), "growthtrain-mmap-test-4GiB.bin")
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
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	if _, _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open under a 64 MiB address-space margin: %v", err)
	}
	if CheckAlloc(4<<30) == nil {
		t.Fatal("CheckAlloc(4 GiB) succeeded under a 64 MiB margin")
	}
	if err := CheckAlloc(1 << 20); err != nil {
		t.Fatalf("CheckAlloc(1 MiB): %v", err)
	}
}
