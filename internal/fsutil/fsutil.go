// Package fsutil writes files so that a crash never leaves a damaged one: everything growthtrain
// saves (weights, checkpoints, tokenizers, reports) goes through it.
package fsutil

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// WriteAtomic has fill write the file's content to a temporary file beside path (buffered),
// then syncs it, renames it over path and syncs the directory: a reader, or a crash at any
// moment, sees either the old file or the complete new one.
func WriteAtomic(path string, fill func(*bufio.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err = fill(w); err != nil {
		return fmt.Errorf("%s: write: %w", path, err)
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("%s: write: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("%s: fsync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = SyncDir(dir); err != nil {
		return fmt.Errorf("%s: fsync directory: %w", path, err)
	}
	return nil
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
