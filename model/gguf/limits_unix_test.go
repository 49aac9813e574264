//go:build unix

package gguf

import (
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/inputtest"
)

// TestNonRegularFiles: a named pipe or a device given as a GGUF file is refused without
// blocking and without reading it.
func TestNonRegularFiles(t *testing.T) {
	fifo := inputtest.FIFO(t, t.TempDir(), "model.gguf")
	for _, path := range []string{fifo, "/dev/zero", "/dev/urandom"} {
		t.Run(path, func(t *testing.T) {
			stop := inputtest.Guard(t, 256<<20)
			inputtest.Within(t, 10*time.Second, "Open", func() {
				_, err := Open(path)
				if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("error %v, want one naming %s and saying it is not a regular file", err, path)
				}
			})
			stop()
		})
	}
}
