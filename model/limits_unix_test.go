//go:build unix

package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/internal/inputtest"
)

// TestNonRegularModelFiles: a named pipe or a device given as config.json or a weight file is
// refused without blocking and without reading it.
func TestNonRegularModelFiles(t *testing.T) {
	cfgFIFO := inputtest.FIFO(t, t.TempDir(), "config.json")
	ggufFIFO := inputtest.FIFO(t, t.TempDir(), "model.gguf")
	stDir := t.TempDir()
	cfg, err := SmolLM2_135M().JSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stDir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	stFIFO := inputtest.FIFO(t, stDir, "model.safetensors")
	cases := []struct {
		name, want string
		load       func() error
	}{
		{"LoadConfig FIFO", cfgFIFO, func() error { _, err := LoadConfig(cfgFIFO); return err }},
		{"LoadConfig /dev/zero", "/dev/zero", func() error { _, err := LoadConfig("/dev/zero"); return err }},
		{"LoadHF with a FIFO config.json", cfgFIFO, func() error { _, err := LoadHF(filepath.Dir(cfgFIFO), LoadOptions{}); return err }},
		{"Load FIFO .gguf", ggufFIFO, func() error { _, err := Load(ggufFIFO, LoadOptions{}); return err }},
		{"Load FIFO .safetensors", stFIFO, func() error { _, err := Load(stFIFO, LoadOptions{}); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stop := inputtest.Guard(t, 256<<20)
			inputtest.Within(t, 10*time.Second, c.name, func() {
				err := c.load()
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("error %v, want one naming %s and saying it is not a regular file", err, c.want)
				}
			})
			stop()
		})
	}
}
