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

// CheckAlloc returns an error if n bytes of memory cannot be had now. It maps n bytes of
// anonymous memory and unmaps them at once, touching nothing: that fails with ENOMEM under an
// address-space limit (ulimit -v) or when n exceeds what the kernel's overcommit accounting
// allows. It is a check before a large Go allocation, which the Go runtime cannot fail with an
// error (it ends the process with a trace). A success promises nothing about later
// allocations, and a cgroup memory limit is not seen (the kernel kills the process instead).
func CheckAlloc(n int64) error {
	if n <= 0 {
		return nil
	}
	if int64(int(n)) != n {
		return syscall.ENOMEM
	}
	b, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return err
	}
	return syscall.Munmap(b)
}
