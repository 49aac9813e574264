//go:build !unix

package inputfile

import "os"

// openNonblock opens path read-only (other systems have no named pipes in the file system).
func openNonblock(path string) (*os.File, error) { return os.Open(path) }
