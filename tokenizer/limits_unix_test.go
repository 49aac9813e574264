//go:build unix

package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/inputtest"
)

// TestNonRegularFiles: a named pipe or a device given as a tokenizer file is refused, without
// blocking and without reading it.
func TestNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := inputtest.FIFO(t, dir, "tokenizer.json")
	cases := []struct {
		name string
		load func(string) (*Tokenizer, error)
		path string
	}{
		{"Load FIFO", Load, fifo},
		{"Load /dev/zero", Load, "/dev/zero"},
		{"Load /dev/urandom", Load, "/dev/urandom"},
		{"LoadGGUF FIFO", LoadGGUF, fifo},
		{"LoadGGUF /dev/zero", LoadGGUF, "/dev/zero"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stop := inputtest.Guard(t, 256<<20)
			inputtest.Within(t, 10*time.Second, c.name, func() {
				_, err := c.load(c.path)
				if err == nil || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("error %v, want one naming %s and saying it is not a regular file", err, c.path)
				}
			})
			stop()
		})
	}
	// A FIFO posing as the optional tokenizer_config.json beside a good file is skipped.
	good := writeJSON(t, tinyJSON())
	inputtest.FIFO(t, filepath.Dir(good), "tokenizer_config.json")
	inputtest.Within(t, 10*time.Second, "Load beside a FIFO tokenizer_config.json", func() {
		if _, err := Load(good); err != nil {
			t.Error(err)
		}
	})
}

// TestOversizedTokenizerFile: a tokenizer.json larger than MaxJSONSize is refused before it is
// read (the file here is sparse: no disk or memory is used).
func TestOversizedTokenizerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxJSONSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	stop := inputtest.Guard(t, 64<<20)
	_, err = Load(path)
	stop()
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("error %v, want one naming %s and the size limit", err, path)
	}
}
