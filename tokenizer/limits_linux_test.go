//go:build linux

package tokenizer

import (
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/internal/inputtest"
)

// TestEncodeLargerThanMemory: a text whose ids need more memory than the process can have is an
// error, not the Go runtime's fatal out-of-memory. It runs in a child process whose address
// space is capped just above what it uses.
func TestEncodeLargerThanMemory(t *testing.T) {
	child, out, err := inputtest.Capped(t, 160<<20)
	if !child {
		if err != nil || !strings.Contains(out, "--- PASS: "+t.Name()) {
			lines := strings.SplitN(out, "\n", 9)
			t.Fatalf("child: %v\n%s", err, strings.Join(lines[:min(8, len(lines))], "\n"))
		}
		return
	}
	tok := tinyTokenizer(t)
	text := strings.Repeat("a", 64<<20) // its ids get 128 MiB up front
	_, err = tok.TryEncode(text)
	if err == nil || !strings.Contains(err.Error(), "memory") {
		t.Fatalf("TryEncode: %v, want an out-of-memory error", err)
	}
}
