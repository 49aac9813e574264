//go:build unix

package safetensors

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/inputtest"
)

// TestNonRegularFiles: a named pipe or a device given as a weight file, an index or a shard is
// refused without blocking (a FIFO's open, or mmap, would wait for a writer for ever) and
// without reading it.
func TestNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := inputtest.FIFO(t, dir, "model.safetensors")
	// An index whose shard is a FIFO.
	shardDir := t.TempDir()
	inputtest.FIFO(t, shardDir, "shard-1.safetensors")
	idx := filepath.Join(shardDir, IndexName)
	if err := os.WriteFile(idx, []byte(`{"weight_map": {"w": "shard-1.safetensors"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory whose index is a FIFO.
	idxDir := t.TempDir()
	fifoIdx := inputtest.FIFO(t, idxDir, IndexName)
	cases := []struct {
		name, want string
		open       func() error
	}{
		{"Open FIFO", fifo, func() error { _, err := Open(fifo); return err }},
		{"Open /dev/zero", "/dev/zero", func() error { _, err := Open("/dev/zero"); return err }},
		{"OpenIndex FIFO", fifo, func() error { _, err := OpenIndex(fifo); return err }},
		{"OpenIndex /dev/urandom", "/dev/urandom", func() error { _, err := OpenIndex("/dev/urandom"); return err }},
		{"OpenIndex with a FIFO shard", "shard-1.safetensors", func() error { _, err := OpenIndex(idx); return err }},
		{"OpenDir with a FIFO index", fifoIdx, func() error { _, err := OpenDir(idxDir); return err }},
		{"OpenDir with a FIFO model.safetensors", fifo, func() error { _, err := OpenDir(dir); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stop := inputtest.Guard(t, 256<<20)
			inputtest.Within(t, 10*time.Second, c.name, func() {
				err := c.open()
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("error %v, want one naming %s and saying it is not a regular file", err, c.want)
				}
			})
			stop()
		})
	}
}

// TestOversizedIndex: an index larger than MaxIndexSize is refused before it is read (the file
// is sparse: no disk or memory is used).
func TestOversizedIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), IndexName)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64<<20 + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	stop := inputtest.Guard(t, 64<<20)
	_, err = OpenIndex(path)
	stop()
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("error %v, want one naming %s and the size limit", err, path)
	}
}
