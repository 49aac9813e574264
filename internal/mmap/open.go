package mmap

import (
	"fmt"
	"os"
)

// Open maps the regular file at path read-only. The release function unmaps it; errors name
// the file.
func Open(path string) (buf []byte, release func() error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	buf, release, err = File(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: map: %w", path, err)
	}
	return buf, release, nil
}
