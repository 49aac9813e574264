//go:build unix

package inputtest

import (
	"path/filepath"
	"syscall"
	"testing"
)

// FIFO makes a named pipe at dir/name with no writer: opening it for reading blocks until one
// comes. When the test ends, a writer opens and closes it, releasing any reader left blocked.
func FIFO(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		if fd, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			syscall.Close(fd)
		}
	})
	return p
}
