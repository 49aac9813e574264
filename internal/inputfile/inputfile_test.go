//go:build unix

package inputfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/inputtest"
)

func TestOpenAndReadFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "a.json")
	if err := os.WriteFile(regular, []byte(`{"a": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	devLink := filepath.Join(dir, "zero.json")
	if err := os.Symlink("/dev/zero", devLink); err != nil {
		t.Fatal(err)
	}
	fifo := inputtest.FIFO(t, dir, "pipe.json")
	cases := []struct {
		path  string
		limit int64
		want  error  // nil: read succeeds
		kind  string // in the message
	}{
		{regular, 100, nil, ""},
		{link, 100, nil, ""},
		{regular, 7, ErrTooLarge, "8 bytes"},
		{fifo, 100, ErrNotRegular, "named pipe"},
		{"/dev/zero", 100, ErrNotRegular, "character device"},
		{devLink, 100, ErrNotRegular, "character device"},
		{dir, 100, ErrNotRegular, "directory"},
		{filepath.Join(dir, "absent"), 100, os.ErrNotExist, "absent"},
	}
	for _, c := range cases {
		inputtest.Within(t, 5*time.Second, "ReadFile "+c.path, func() {
			b, err := ReadFile(c.path, c.limit, "test file")
			if c.want == nil {
				if err != nil || string(b) != `{"a": 1}` {
					t.Errorf("ReadFile(%s) = %q, %v", c.path, b, err)
				}
				return
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.kind) {
				t.Errorf("ReadFile(%s): %v, want %v naming the path and %q", c.path, err, c.want, c.kind)
			}
		})
	}
}
