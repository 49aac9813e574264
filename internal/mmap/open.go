package mmap

import (
	"fmt"

	"github.com/growthtrain/growthtrain/internal/inputfile"
)

// Open maps the regular file at path read-only (a named pipe or a device is refused without
// blocking: see inputfile.Open). The release function unmaps it; errors name the file.
func Open(path string) (buf []byte, release func() error, err error) {
	f, st, err := inputfile.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	buf, release, err = File(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: map: %w", path, err)
	}
	return buf, release, nil
}
