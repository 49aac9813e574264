package fsutil

import (
	"errors"
	"os"
)

// ErrLocked is wrapped by Lock's error when another process holds the lock.
var ErrLocked = errors.New("in use by another process")

// Locked is a held lock (see Lock). The lock file itself stays behind on release: removing it
// would let two processes lock two different files of the same name.
type Locked struct{ f *os.File }

// Unlock releases the lock.
func (l *Locked) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
