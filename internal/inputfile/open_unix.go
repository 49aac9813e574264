//go:build unix

package inputfile

import (
	"os"
	"syscall"
)

// openNonblock opens path read-only with O_NONBLOCK: on a named pipe the open returns at once
// instead of waiting for a writer (reads of regular files ignore the flag).
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
