package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/urfave/cli/v2"
)

// Data-parallel runs (docs/distributed.md). A process is one rank of a run when the launcher
// variables say so: RANK and WORLD_SIZE (with LOCAL_RANK, MASTER_ADDR, MASTER_PORT), as torchrun
// sets them, or as a SLURM script exports them from SLURM_PROCID and SLURM_NTASKS. --nproc N
// makes growthtrain its own launcher: it starts N copies of itself on this machine with those
// variables set (NNODES and NODE_RANK extend that to several machines, as torchrun's --nnodes
// and --node-rank) and waits for them.

// launchedEnv marks a process started by --nproc, which then ignores the flag.
const launchedEnv = "GROWTHTRAIN_LAUNCHED"

func distFlags() []cli.Flag {
	return []cli.Flag{
		intIn(&cli.IntFlag{Name: "nproc", Usage: "start this many data-parallel workers on this machine (docs/distributed.md)"}, 0, 1024, "0: one process, or the launcher's RANK/WORLD_SIZE"),
		&cli.DurationFlag{Name: "dist-timeout", Value: 10 * time.Minute, Usage: "a rank that died, hangs or never joined makes the others fail within this"},
	}
}

// rankEnv is what the launcher variables say about this process.
type rankEnv struct {
	rank, size, localRank int
	addr                  string
	port                  int
	agentStore            bool   // torchrun's agent serves the TCPStore
	iface                 string // GLOO_SOCKET_IFNAME
}

// readRankEnv returns the launcher variables, ok false when this process is not a rank
// (WORLD_SIZE unset).
func readRankEnv() (e rankEnv, ok bool, err error) {
	if os.Getenv("WORLD_SIZE") == "" {
		if os.Getenv("RANK") != "" {
			return e, false, errors.New("RANK is set but WORLD_SIZE is not: set both (and MASTER_ADDR, MASTER_PORT) for a data-parallel run")
		}
		return e, false, nil
	}
	num := func(k string, def int) (int, error) {
		v := os.Getenv(k)
		if v == "" && def >= 0 {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s=%q: want a non-negative integer", k, v)
		}
		return n, nil
	}
	if e.size, err = num("WORLD_SIZE", -1); err != nil {
		return e, false, err
	}
	if e.rank, err = num("RANK", -1); err != nil {
		return e, false, err
	}
	if e.localRank, err = num("LOCAL_RANK", e.rank); err != nil {
		return e, false, err
	}
	if e.port, err = num("MASTER_PORT", 29500); err != nil {
		return e, false, err
	}
	if e.size < 1 || e.rank >= e.size || e.port < 1 || e.port > 65535 {
		return e, false, fmt.Errorf("RANK=%d WORLD_SIZE=%d MASTER_PORT=%d: want 0 <= RANK < WORLD_SIZE and a TCP port", e.rank, e.size, e.port)
	}
	e.addr = os.Getenv("MASTER_ADDR")
	if e.addr == "" {
		e.addr = "127.0.0.1"
	}
	e.agentStore = strings.EqualFold(os.Getenv("TORCHELASTIC_USE_AGENT_STORE"), "true")
	e.iface = os.Getenv("GLOO_SOCKET_IFNAME")
	return e, true, nil
}

// joinGroup joins the process group of a rank: Gloo for a CPU budget, NCCL on this rank's GPU
// (cuda:LOCAL_RANK) for a CUDA one. device is the device the rank trains on ("" to keep the
// budget's).
func joinGroup(e rankEnv, budgetDevice string, timeout time.Duration) (g *torch.ProcessGroup, device string, err error) {
	dev, err := torch.ParseDevice(budgetDevice)
	if err != nil {
		return nil, "", err
	}
	o := torch.GroupOptions{Backend: torch.Gloo, Rank: e.rank, WorldSize: e.size, MasterAddr: e.addr, MasterPort: e.port,
		Timeout: timeout, AgentStore: e.agentStore, GlooIface: e.iface}
	if dev.IsCUDA() {
		o.Backend, o.Device = torch.NCCL, torch.Device{Type: dev.Type, Index: e.localRank}
		device = o.Device.String()
	}
	if !torch.DistAvailable(o.Backend) {
		hint := "run `make gloo` (installs libgloo-dev) and `make lib`"
		if o.Backend == torch.NCCL {
			hint = "build libgrowthtorch on the GPU host against its CUDA PyTorch (docs/gpu.md)"
		}
		return nil, "", fmt.Errorf("rank %d of %d: libgrowthtorch was built without c10d %v support: %s", e.rank, e.size, o.Backend, hint)
	}
	g, err = torch.NewProcessGroup(o)
	if err != nil {
		return nil, "", fmt.Errorf("rank %d of %d: %w", e.rank, e.size, err)
	}
	return g, device, nil
}

// selfCommand is the command that runs this program with args (the tests replace it: their
// binary is not growthtrain).
var selfCommand = func(args []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return exec.Command(exe, args...), nil
}

// launch starts nproc ranks of this command line on this machine and waits for them. Their
// output goes to this process's; on Ctrl-C or SIGTERM every rank is signalled (each
// checkpoints and stops at the same step). The first rank that fails names the outcome.
func launch(args []string, nproc int) error {
	if os.Getenv("WORLD_SIZE") != "" {
		return errors.New("--nproc starts the workers itself; under a launcher (WORLD_SIZE is set) leave it out")
	}
	nodes, node := 1, 0
	for k, p := range map[string]*int{"NNODES": &nodes, "NODE_RANK": &node} {
		if v := os.Getenv(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%s=%q: want a non-negative integer", k, v)
			}
			*p = n
		}
	}
	if nodes < 1 || node >= nodes {
		return fmt.Errorf("NODE_RANK=%d of NNODES=%d", node, nodes)
	}
	addr, port := os.Getenv("MASTER_ADDR"), os.Getenv("MASTER_PORT")
	if addr == "" {
		if nodes > 1 {
			return errors.New("NNODES > 1: set MASTER_ADDR (the address of node 0) and MASTER_PORT on every node")
		}
		addr = "127.0.0.1"
	}
	if port == "" {
		if nodes > 1 {
			return errors.New("NNODES > 1: set MASTER_PORT (the same free port on every node)")
		}
		p, err := freePort()
		if err != nil {
			return fmt.Errorf("--nproc: %w", err)
		}
		port = strconv.Itoa(p)
	}
	// Each rank's share of the cores, unless the user chose (OMP_NUM_THREADS is what libtorch's
	// intra-op pool reads): several ranks each using every core slow each other down.
	threads := os.Getenv("OMP_NUM_THREADS")
	if threads == "" {
		threads = strconv.Itoa(max(1, runtime.NumCPU()/nproc))
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	world := nodes * nproc
	cmds := make([]*exec.Cmd, nproc)
	exited := make(chan int, nproc)
	for l := range cmds {
		cmd, err := selfCommand(args)
		if err != nil {
			return err
		}
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, launchedEnv+"=1",
			"RANK="+strconv.Itoa(node*nproc+l), "WORLD_SIZE="+strconv.Itoa(world),
			"LOCAL_RANK="+strconv.Itoa(l), "LOCAL_WORLD_SIZE="+strconv.Itoa(nproc),
			"MASTER_ADDR="+addr, "MASTER_PORT="+port, "OMP_NUM_THREADS="+threads)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
		// A rank must not outlive its launcher. It gets a process group of its own, so that a
		// Ctrl-C in the terminal reaches it once, forwarded by the launcher below, and not
		// also from the terminal: a second SIGINT ends a growthtrain process at once, before
		// its checkpoint.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		if err := cmd.Start(); err != nil {
			for _, c := range cmds[:l] {
				_ = c.Process.Kill()
			}
			return fmt.Errorf("--nproc: starting rank %d: %w", l, err)
		}
		cmds[l] = cmd
		go func() {
			_ = cmd.Wait()
			exited <- l
		}()
	}
	first, code := -1, 0
	for left := nproc; left > 0; {
		select {
		case s := <-sigs:
			for _, c := range cmds {
				_ = c.Process.Signal(s)
			}
		case l := <-exited:
			left--
			if c := cmds[l].ProcessState.ExitCode(); c != 0 && first < 0 {
				first, code = l, c
			}
		}
	}
	if first < 0 {
		return nil
	}
	if code < 0 {
		code = 1 // killed by a signal
	}
	return cli.Exit(fmt.Sprintf("rank %d of %d exited with status %d (%s)", node*nproc+first, world, code, cmds[first].ProcessState), code)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launching reports whether this process should start --nproc ranks instead of working.
func launching(c *cli.Context) bool {
	return c.Int("nproc") > 0 && os.Getenv(launchedEnv) == ""
}
