//go:build unix

package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/inputtest"
)

// TestTextFromNonRegularFile: a named pipe or a device is refused without blocking or reading,
// alone or among a directory's text files.
func TestTextFromNonRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := inputtest.FIFO(t, dir, "pipe.txt")
	corpus := filepath.Join(t.TempDir(), "corpus")
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corpus, "a.txt"), []byte("some text"), 0o644); err != nil {
		t.Fatal(err)
	}
	inFIFO := inputtest.FIFO(t, corpus, "b.txt")
	if err := os.Symlink("/dev/zero", filepath.Join(corpus, "c.txt")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, want string
		read             func() error
	}{
		{"ReadText FIFO", fifo, fifo, func() error { _, err := ReadText(fifo); return err }},
		{"ReadText /dev/zero", "/dev/zero", "/dev/zero", func() error { _, err := ReadText("/dev/zero"); return err }},
		{"LoadFiles FIFO", fifo, fifo, func() error { _, err := LoadFiles(fifo); return err }},
		{"LoadFiles directory", corpus, inFIFO, func() error { _, err := LoadFiles(corpus); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stop := inputtest.Guard(t, 256<<20)
			inputtest.Within(t, 10*time.Second, c.name, func() {
				err := c.read()
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("error %v, want one naming %s and saying it is not a regular file", err, c.want)
				}
			})
			stop()
		})
	}
}
