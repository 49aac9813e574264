//go:build !unix

package fsutil

import (
	"fmt"
	"os"
)

// Lock creates the file at path; where flock does not exist, it does not exclude other
// processes (see lock_unix.go for the guarantee on Unix).
func Lock(path string) (*Locked, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Locked{f: f}, nil
}
