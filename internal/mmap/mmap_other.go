//go:build !unix

package mmap

import "os"

// File reads the whole file; platforms without syscall.Mmap get a private copy.
func File(f *os.File, size int64) ([]byte, func() error, error) {
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && size > 0 {
		return nil, nil, err
	}
	return buf, func() error { return nil }, nil
}

// CheckAlloc cannot check anything on this platform.
func CheckAlloc(n int64) error { return nil }
