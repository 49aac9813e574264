// Package inputfile opens and reads the files a user names (weights, configs, tokenizers, text).
// Only regular files are accepted: a named pipe would block the open (or mmap) until a writer
// comes, and a device such as /dev/zero or /dev/urandom never ends. The check is made without
// blocking, and JSON-like files are read with a size limit (docs/limits.md).
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular matches (errors.Is) the error for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge matches (errors.Is) the error for a file over its size limit.
var ErrTooLarge = errors.New("file exceeds its size limit")

// Open opens path for reading if it is a regular file (symbolic links followed). The path is
// checked before it is opened, and the open itself does not block (O_NONBLOCK), so a named pipe
// swapped in between is caught by the second check on the open file instead of hanging. The
// returned FileInfo describes the open file. Errors name the path.
func Open(path string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err // *fs.PathError: names the path
	}
	if err := checkRegular(path, st); err != nil {
		return nil, nil, err
	}
	f, err := openNonblock(path)
	if err != nil {
		return nil, nil, err
	}
	st2, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkRegular(path, st2); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st2, nil
}

func checkRegular(path string, st fs.FileInfo) error {
	if st.Mode().IsRegular() {
		return nil
	}
	kind := "special file"
	switch m := st.Mode(); {
	case m.IsDir():
		kind = "directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "named pipe"
	case m&fs.ModeCharDevice != 0:
		kind = "character device"
	case m&fs.ModeDevice != 0:
		kind = "block device"
	case m&fs.ModeSocket != 0:
		kind = "socket"
	}
	return fmt.Errorf("%s: %w (a %s)", path, ErrNotRegular, kind)
}

// ReadFile reads the regular file at path, refusing one larger than limit bytes (before reading
// it) or one that grows past its size while being read. what names the kind of file in the
// error ("config.json", "tokenizer.json", ...).
func ReadFile(path string, limit int64, what string) ([]byte, error) {
	f, st, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, tooLarge(path, st.Size(), limit, what)
	}
	// Read one byte more than the size to notice a file that grew since the stat.
	buf := make([]byte, st.Size()+1)
	n, err := io.ReadFull(f, buf)
	switch {
	case err == nil:
		return nil, fmt.Errorf("%s: grew while being read (more than the %d bytes it had)", path, st.Size())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return buf[:n], nil
	default:
		return nil, fmt.Errorf("%s: %w", path, err)
	}
}

func tooLarge(path string, size, limit int64, what string) error {
	return fmt.Errorf("%s: %d bytes: %w (%d bytes for a %s)", path, size, ErrTooLarge, limit, what)
}
