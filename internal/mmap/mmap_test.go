//go:build linux

package mmap

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const childEnv = "GROWTHTRAIN_MMAP_TEST_CHILD"

// TestMapFailureIsAnError: when mmap fails for lack of address space or memory (ENOMEM, as
// under `ulimit -v`), Open must return an error, not fall back to allocating a buffer the size
// of the file, which the Go runtime cannot refuse gracefully (a fatal out-of-memory with a
// trace). The mapping runs in a child process whose address space is capped just above what it
// already uses, so that nothing here can take the machine's memory.
func TestMapFailureIsAnError(t *testing.T) {
	if path := os.Getenv(childEnv); path != "" {
		vm := vmSize(t)
		lim := syscall.Rlimit{Cur: vm + 64<<20, Max: vm + 64<<20}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			t.Fatal(err)
		}
		_, _, err := Open(path)
		if err == nil {
			t.Fatal("Open mapped 4 GiB under a 64 MiB address-space margin")
		}
		os.Stdout.WriteString("child error: " + err.Error() + "\n")
		return
	}
	path := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4 << 30); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMapFailureIsAnError$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err != nil || !strings.Contains(out.String(), "child error: "+path) {
		t.Fatalf("child: %v\n%s", err, firstLines(out.String(), 5))
	}
}

// vmSize returns the process's virtual memory size from /proc/self/status.
func vmSize(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
