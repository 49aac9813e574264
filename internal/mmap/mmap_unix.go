//go:build unix

// Package mmap maps files read-only for the weight readers (model/gguf, model/safetensors).
package mmap

import (
	"errors"
	"os"
	"syscall"
)

// File maps the whole file read-only. The returned release function unmaps it.
// An empty file yields an empty slice (mmap of length 0 is invalid).
//
// Only a file system that cannot map files (ENODEV) makes File read the file into memory
// instead. Any other failure is returned: in particular ENOMEM (no address space or memory, as
// under `ulimit -v`), where allocating a buffer the size of the file would end the process with
// the Go runtime's fatal out-of-memory instead of an error.
func File(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if int64(int(size)) != size {
		return nil, nil, syscall.EFBIG
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		if !errors.Is(err, syscall.ENODEV) {
			return nil, nil, err
		}
		buf := make([]byte, size)
		if _, rerr := f.ReadAt(buf, 0); rerr != nil {
			return nil, nil, err
		}
		return buf, func() error { return nil }, nil
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
