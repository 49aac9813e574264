//go:build unix

// Package mmap maps files read-only for the weight readers (model/gguf, model/safetensors).
package mmap

import (
	"os"
	"syscall"
)

// File maps the whole file read-only. The returned release function unmaps it.
// An empty file yields an empty slice (mmap of length 0 is invalid).
func File(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if int64(int(size)) != size {
		return nil, nil, syscall.EFBIG
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// Fall back to reading (e.g. file systems without mmap support).
		buf := make([]byte, size)
		if _, rerr := f.ReadAt(buf, 0); rerr != nil {
			return nil, nil, err
		}
		return buf, func() error { return nil }, nil
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
