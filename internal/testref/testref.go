// Package testref locates the reference implementations (the Python virtual environment made by
// `make deps`) and shared test assets for growthtrain's parity tests. A test that cannot find its
// reference fails with a message saying how to make it; it never skips.
package testref

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod for this module, found by walking up from the
// working directory (go test runs each package in its own directory).
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("testref: %v", err)
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(data, []byte("module github.com/growthtrain/growthtrain\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("testref: no growthtrain go.mod above the working directory")
		}
		dir = parent
	}
}

// Python returns the reference interpreter: $GROWTHTRAIN_PYTHON if set, else the repository's
// .venv/bin/python. It fails the test when neither exists.
func Python(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("GROWTHTRAIN_PYTHON"); p != "" {
		return p
	}
	p := filepath.Join(RepoRoot(tb), ".venv", "bin", "python")
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("testref: reference Python not found at %s (run `make deps`, or set GROWTHTRAIN_PYTHON)", p)
	}
	return p
}

// RunPython runs a Python script with the reference interpreter and returns its standard output.
// Extra args are passed as sys.argv[1:]. A non-zero exit fails the test with the script's stderr.
func RunPython(tb testing.TB, script string, args ...string) []byte {
	tb.Helper()
	cmd := exec.Command(Python(tb), append([]string{"-c", script}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "TOKENIZERS_PARALLELISM=false")
	if err := cmd.Run(); err != nil {
		tb.Fatalf("testref: reference script failed: %v\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}

// SmolLM2GGUF returns the path of SmolLM2-135M-Instruct.Q4_1.gguf extracted by `make smollm2`.
func SmolLM2GGUF(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(RepoRoot(tb), ".cache", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("testref: %s missing (run `make smollm2`)", p)
	}
	return p
}
