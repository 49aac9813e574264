//go:build linux

package inputtest

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const cappedEnv = "GROWTHTRAIN_CAPPED_CHILD"

// Capped runs the calling test again in a child process whose address space (RLIMIT_AS) is
// capped at what the child already uses plus margin bytes, as `ulimit -v` would cap it, so that
// a test of "no allocation the system cannot give ends the process" can run without taking the
// machine's memory. In the child it sets the cap and returns child = true: the test then does
// its work and reports through t as usual. In the parent it returns the child's combined output
// and exit error.
func Capped(t *testing.T, margin uint64) (child bool, out string, err error) {
	t.Helper()
	if os.Getenv(cappedEnv) == t.Name() {
		vm := vmSize(t)
		lim := syscall.Rlimit{Cur: vm + margin, Max: vm + margin}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			t.Fatal(err)
		}
		return true, "", nil
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), cappedEnv+"="+t.Name())
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err = cmd.Run()
	return false, b.String(), err
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
