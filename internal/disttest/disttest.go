// Package disttest runs a test as several ranks of a process group: the test binary re-executes
// itself once per rank, with the variables a launcher sets (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and a marker saying which test is the rank body.
// The same test function is then the parent (it starts the ranks and checks their outcome) and
// the rank (it does the distributed work):
//
//	func TestX(t *testing.T) {
//		if rank, ok := disttest.Rank(t); ok {
//			... work as rank `rank`, fail with t.Fatal ...
//			return
//		}
//		res := disttest.Start(t, 2, disttest.Options{}).Wait(t, time.Minute)
//		... check res[r].Err, res[r].Output ...
//	}
//
// Each rank runs with one intra-op thread (OMP_NUM_THREADS=1; the test's TestMain or the rank
// body sets torch.SetNumThreads(1) as well), so several ranks on a small machine do not
// oversubscribe its cores.
package disttest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// Marker is set to the test's name in a rank process.
const Marker = "GROWTHTRAIN_DISTTEST"

// Rank reports whether this process is a rank of test t, and which.
func Rank(t *testing.T) (int, bool) {
	if os.Getenv(Marker) != t.Name() {
		return 0, false
	}
	r, err := strconv.Atoi(os.Getenv("RANK"))
	if err != nil {
		t.Fatalf("RANK=%q", os.Getenv("RANK"))
	}
	return r, true
}

// InRank reports whether this process is a rank of any test (TestMain uses it to choose the
// ranks' runtime).
func InRank() bool { return os.Getenv(Marker) != "" }

// Group joins the Gloo process group of a rank started by Start (one intra-op thread), failing
// t when the library was built without Gloo support or the rendezvous fails.
func Group(t *testing.T, timeout time.Duration) *torch.ProcessGroup {
	t.Helper()
	torch.SetNumThreads(1)
	if !torch.DistAvailable(torch.Gloo) {
		t.Fatal("libgrowthtorch was built without c10d Gloo support: run `make gloo` (installs libgloo-dev) and `make lib`")
	}
	atoi := func(k string) int {
		v, err := strconv.Atoi(os.Getenv(k))
		if err != nil {
			t.Fatalf("%s=%q", k, os.Getenv(k))
		}
		return v
	}
	g, err := torch.NewProcessGroup(torch.GroupOptions{Backend: torch.Gloo, Rank: atoi("RANK"), WorldSize: atoi("WORLD_SIZE"),
		MasterAddr: os.Getenv("MASTER_ADDR"), MasterPort: atoi("MASTER_PORT"), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Options adjust the ranks.
type Options struct {
	Env     []string         // added to every rank's environment
	RankEnv map[int][]string // added to one rank's environment
	Port    int              // MASTER_PORT (0: a free one)
}

// Ranks are started rank processes.
type Ranks struct {
	cmds  []*exec.Cmd
	outs  []*bytes.Buffer
	start time.Time
}

// Result is one rank's outcome.
type Result struct {
	Err     error         // nil when the rank exited with status 0
	Output  string        // its stdout and stderr
	Elapsed time.Duration // from the start of all ranks to this one's exit
}

// Start launches n ranks of the calling test.
func Start(t *testing.T, n int, o Options) *Ranks {
	t.Helper()
	port := o.Port
	if port == 0 {
		port = FreePort(t)
	}
	var run []string
	for _, part := range strings.Split(t.Name(), "/") {
		run = append(run, "^"+regexp.QuoteMeta(part)+"$")
	}
	rs := &Ranks{start: time.Now()}
	for r := 0; r < n; r++ {
		cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(run, "/"), "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), Marker+"="+t.Name(),
			"RANK="+strconv.Itoa(r), "WORLD_SIZE="+strconv.Itoa(n), "LOCAL_RANK="+strconv.Itoa(r),
			"LOCAL_WORLD_SIZE="+strconv.Itoa(n), "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port),
			"OMP_NUM_THREADS=1")
		cmd.Env = append(cmd.Env, o.Env...)
		cmd.Env = append(cmd.Env, o.RankEnv[r]...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			rs.Kill()
			t.Fatal(err)
		}
		rs.cmds, rs.outs = append(rs.cmds, cmd), append(rs.outs, &out)
	}
	return rs
}

// Pid is rank r's process id.
func (rs *Ranks) Pid(r int) int { return rs.cmds[r].Process.Pid }

// Kill ends every rank still running.
func (rs *Ranks) Kill() {
	for _, c := range rs.cmds {
		if c.Process != nil {
			_ = c.Process.Kill()
		}
	}
}

// Wait waits for every rank, killing them all when limit passes first (the test then fails:
// a distributed failure must end the ranks, not hang them), and returns their results.
func (rs *Ranks) Wait(t *testing.T, limit time.Duration) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	res := make([]Result, len(rs.cmds))
	done := make(chan int, len(rs.cmds))
	for i, c := range rs.cmds {
		go func() {
			err := c.Wait()
			res[i].Err, res[i].Elapsed = err, time.Since(rs.start)
			done <- i
		}()
	}
	for range rs.cmds {
		select {
		case <-done:
		case <-ctx.Done():
			rs.Kill()
			for range len(rs.cmds) {
				<-done
			}
			for i := range res {
				res[i].Output = rs.outs[i].String()
			}
			t.Fatalf("ranks still running after %v (killed):\n%s", limit, Describe(res))
			return res
		}
	}
	for i := range res {
		res[i].Output = rs.outs[i].String()
	}
	return res
}

// Describe formats results for a failure message.
func Describe(res []Result) string {
	var b strings.Builder
	for r, x := range res {
		fmt.Fprintf(&b, "--- rank %d (exit: %v, after %v):\n%s\n", r, x.Err, x.Elapsed.Round(time.Millisecond), x.Output)
	}
	return b.String()
}

// RequireSuccess fails t unless every rank exited with status 0 and printed its test's PASS.
func RequireSuccess(t *testing.T, res []Result) {
	t.Helper()
	for _, x := range res {
		if x.Err != nil || !strings.Contains(x.Output, "--- PASS: "+t.Name()) {
			t.Fatalf("a rank failed:\n%s", Describe(res))
		}
	}
}
