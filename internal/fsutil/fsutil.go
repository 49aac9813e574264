// Package fsutil writes files so that a crash never leaves a damaged one: everything growthtrain
// saves (weights, checkpoints, tokenizers, reports) goes through it.
package fsutil

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File is a file being replaced atomically: what is written goes (buffered) to a temporary
// file beside the final path; Commit syncs it, renames it over the path and syncs the
// directory, so a reader, or a crash at any moment, sees either the old file or the complete
// new one. Close without Commit discards the temporary file: `defer f.Close()` right after
// Create, `return f.Commit()` at the end.
type File struct {
	path string
	tmp  *os.File
	w    *bufio.Writer
	done bool
}

// Create starts replacing the file at path (see File).
func Create(path string) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{path: path, tmp: tmp, w: bufio.NewWriterSize(tmp, 1<<20)}, nil
}

// Write writes to the temporary file.
func (f *File) Write(p []byte) (int, error) {
	if f.done {
		return 0, fmt.Errorf("%s: write after Commit or Close", f.path)
	}
	return f.w.Write(p)
}

// Commit makes what was written the file at the path (mode 0644).
func (f *File) Commit() (err error) {
	if f.done {
		return fmt.Errorf("%s: Commit after Commit or Close", f.path)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err = f.w.Flush(); err != nil {
		return fmt.Errorf("%s: write: %w", f.path, err)
	}
	if err = f.tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	if err = f.tmp.Sync(); err != nil {
		return fmt.Errorf("%s: fsync: %w", f.path, err)
	}
	if err = f.tmp.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", f.path, err)
	}
	if err = os.Rename(f.tmp.Name(), f.path); err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	f.done = true
	if err = SyncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("%s: fsync directory: %w", f.path, err)
	}
	return nil
}

// Close discards the temporary file unless Commit succeeded; the file at the path is then as it
// was. It is safe to call after Commit.
func (f *File) Close() error {
	if f.done {
		return nil
	}
	f.done = true
	f.tmp.Close()
	return os.Remove(f.tmp.Name())
}

// WriteAtomic has fill write the file's content (see File): on an error from fill, the file at
// path is left as it was.
func WriteAtomic(path string, fill func(*bufio.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := fill(f.w); err != nil {
		return fmt.Errorf("%s: write: %w", path, err)
	}
	return f.Commit()
}

// CopyFile replaces dst by a copy of src, atomically.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return WriteAtomic(dst, func(w *bufio.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// WriteFile writes data to path atomically (see WriteAtomic).
func WriteFile(path string, data []byte) error {
	return WriteAtomic(path, func(w *bufio.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// SyncDir flushes a directory's entries (a rename inside it) to disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
