package torch_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/disttest"
	"github.com/growthtrain/growthtrain/internal/testref"
)

// The process-group tests run each rank as a process of its own (internal/disttest), Gloo over
// loopback, one intra-op thread per rank.

// joinGroup is a rank's process group from the launcher variables disttest sets.
func joinGroup(t *testing.T, timeout time.Duration, bucket int64) *torch.ProcessGroup {
	t.Helper()
	torch.SetNumThreads(1)
	requireGloo(t)
	atoi := func(k string) int {
		v, err := strconv.Atoi(os.Getenv(k))
		if err != nil {
			t.Fatalf("%s=%q", k, os.Getenv(k))
		}
		return v
	}
	g, err := torch.NewProcessGroup(torch.GroupOptions{Backend: torch.Gloo, Rank: atoi("RANK"), WorldSize: atoi("WORLD_SIZE"),
		MasterAddr: os.Getenv("MASTER_ADDR"), MasterPort: atoi("MASTER_PORT"), Timeout: timeout, BucketBytes: bucket})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func requireGloo(t *testing.T) {
	t.Helper()
	if !torch.DistAvailable(torch.Gloo) {
		t.Fatal("libgrowthtorch was built without c10d Gloo support: run `make gloo` (installs libgloo-dev) and `make lib`")
	}
}

// TestProcessGroupGloo checks every collective's values across 2 ranks, and a barrier's
// ordering. The gloo headers libgrowthtorch compiles against (Debian's libgloo-dev, a 2022
// snapshot) are older than the gloo inside libtorch; a layout mismatch between them would show
// here as wrong values, a crash, or a barrier that does not wait.
func TestProcessGroupGloo(t *testing.T) {
	if rank, ok := disttest.Rank(t); ok {
		// 64-byte buckets: every list below spans several buckets and mixes direct and
		// flattened ones.
		g := joinGroup(t, 20*time.Second, 64)
		defer g.Close()
		if g.Rank() != rank || g.Size() != 2 || g.Backend() != torch.Gloo {
			t.Fatalf("group: rank %d size %d backend %v", g.Rank(), g.Size(), g.Backend())
		}
		r := float64(rank)

		// The verified fact of DESIGN.md: [1,1,1,1] + [2,2,2,2] = [3,3,3,3].
		a := torch.Full([]int64{4}, r+1)
		n, err := g.AllReduce([]*torch.Tensor{a}, torch.Sum)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Float32s(); !slices.Equal(got, []float32{3, 3, 3, 3}) || n != 16 {
			t.Fatalf("all-reduce: %v (%d bytes), want [3 3 3 3] (16 bytes)", got, n)
		}

		// Several dtypes, a non-contiguous view, a tensor larger than a bucket, and averaging.
		f32 := torch.FromSlice([]float32{1 + float32(r), 2, 3}, 3)
		f64 := torch.FromSlice([]float64{10 * (r + 1), 0.5}, 2)
		big := torch.Arange(0, 40, 1).MulScalar(r + 1) // float32, 160 bytes
		nc := torch.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3).MulScalar(r+1).Transpose(0, 1)
		i64 := torch.FromSlice([]int64{int64(rank), 7}, 2)
		if n, err = g.AllReduce([]*torch.Tensor{f32, f64, big, nc, i64}, torch.Sum); err != nil {
			t.Fatal(err)
		}
		if want := int64(12 + 16 + 160 + 24 + 16); n != want {
			t.Errorf("all-reduce payload %d bytes, want %d", n, want)
		}
		check := func(name string, got, want []float64) {
			t.Helper()
			if !slices.Equal(got, want) {
				t.Errorf("%s: %v, want %v", name, got, want)
			}
		}
		check("float32", f32.To(torch.Float64).Float64s(), []float64{3, 4, 6})
		check("float64", f64.Float64s(), []float64{30, 1})
		bigWant := make([]float64, 40)
		for i := range bigWant {
			bigWant[i] = 3 * float64(i)
		}
		check("bucket-sized", big.To(torch.Float64).Float64s(), bigWant)
		check("non-contiguous", nc.Contiguous().To(torch.Float64).Float64s(), []float64{3, 12, 6, 15, 9, 18})
		check("int64", i64.To(torch.Float64).Float64s(), []float64{1, 14})
		avg := torch.FromSlice([]float32{2 * float32(r), 4}, 2)
		if _, err := g.AllReduce([]*torch.Tensor{avg}, torch.Average); err != nil {
			t.Fatal(err)
		}
		check("average", avg.To(torch.Float64).Float64s(), []float64{1, 4})
		if _, err := g.AllReduce([]*torch.Tensor{torch.FromSlice([]int64{1}, 1)}, torch.Average); !errors.Is(err, torch.ErrArgument) {
			t.Errorf("averaging int64: %v, want an argument error", err)
		}

		// Broadcast from rank 1 into a parameter that requires grad and a plain tensor.
		p := torch.FromSlice([]float32{float32(r), float32(r), float32(r)}, 3)
		p.SetRequiresGrad(true)
		q := torch.FromSlice([]int64{int64(rank) * 5}, 1)
		if n, err = g.Broadcast([]*torch.Tensor{p, q}, 1); err != nil || n != 20 {
			t.Fatalf("broadcast: %v, %d bytes", err, n)
		}
		check("broadcast float32", p.Detach().To(torch.Float64).Float64s(), []float64{1, 1, 1})
		check("broadcast int64", q.To(torch.Float64).Float64s(), []float64{5})

		// Gradients: one from backward, one parameter that has none (it gets zeros).
		w := torch.FromSlice([]float32{1, 2}, 2)
		w.SetRequiresGrad(true)
		none := torch.FromSlice([]float32{9}, 1)
		none.SetRequiresGrad(true)
		w.MulScalar(r + 1).Sum(false).Backward() // grad: rank + 1 per element
		if n, err = g.AllReduceGrads([]*torch.Tensor{w, none}, torch.Average); err != nil || n != 12 {
			t.Fatalf("gradients: %v, %d bytes", err, n)
		}
		check("averaged gradient", w.Grad().To(torch.Float64).Float64s(), []float64{1.5, 1.5})
		check("missing gradient", none.Grad().To(torch.Float64).Float64s(), []float64{0})

		// Scalars from every rank, in rank order.
		all, err := g.AllGatherFloat64s([]float64{r, 10*r + 0.25})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(all) != "[[0 0.25] [1 10.25]]" {
			t.Errorf("all-gather: %v", all)
		}
		gathered, err := g.AllGather(torch.FromSlice([]int64{int64(rank), 3}, 2))
		if err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprint(gathered.Shape(), gathered.Int64s()); s != "[2 2] [0 3 1 3]" {
			t.Errorf("all-gather of a tensor: %s", s)
		}

		// A barrier waits for the last rank: rank 1 arrives 400 ms late.
		if rank == 1 {
			time.Sleep(400 * time.Millisecond)
		}
		t0 := time.Now()
		if err := g.Barrier(); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(t0); rank == 0 && waited < 300*time.Millisecond {
			t.Errorf("rank 0 left the barrier after %v, before rank 1 entered it", waited)
		}
		return
	}
	requireGloo(t)
	disttest.RequireSuccess(t, disttest.Start(t, 2, disttest.Options{}).Wait(t, 2*time.Minute))
}

// TestProcessGroupPeerDies: rank 1 exits right after joining; rank 0's next collective must
// fail with ErrDistributed, well within the timeout, and every later call at once.
func TestProcessGroupPeerDies(t *testing.T) {
	const timeout = 30 * time.Second
	if rank, ok := disttest.Rank(t); ok {
		g := joinGroup(t, timeout, 0)
		if rank == 1 {
			os.Exit(3)
		}
		time.Sleep(200 * time.Millisecond)
		t0 := time.Now()
		_, err := g.AllReduce([]*torch.Tensor{torch.Ones([]int64{1 << 16})}, torch.Sum)
		took := time.Since(t0)
		if !errors.Is(err, torch.ErrDistributed) {
			t.Fatalf("all-reduce with a dead peer: %v, want ErrDistributed", err)
		}
		fmt.Printf("after %v: %v\n", took.Round(time.Millisecond), err)
		if took > timeout/2 {
			t.Errorf("the failure took %v", took)
		}
		if err := g.Barrier(); !errors.Is(err, torch.ErrDistributed) || !strings.Contains(err.Error(), "failed earlier") {
			t.Errorf("barrier after the failure: %v", err)
		}
		g.Close() // must not hang
		return
	}
	requireGloo(t)
	res := disttest.Start(t, 2, disttest.Options{}).Wait(t, time.Minute)
	if res[0].Err != nil || !strings.Contains(res[0].Output, "--- PASS") {
		t.Fatalf("rank 0:\n%s", disttest.Describe(res))
	}
	t.Logf("rank 0: %s", firstLine(res[0].Output, "after "))
}

// TestProcessGroupTimeout: rank 1 joins, then hangs (alive, silent); rank 0's collective must
// fail with ErrDistributed after the group's timeout, not wait forever.
func TestProcessGroupTimeout(t *testing.T) {
	const timeout = 3 * time.Second
	if rank, ok := disttest.Rank(t); ok {
		g := joinGroup(t, timeout, 0)
		if rank == 1 {
			time.Sleep(2*timeout + 2*time.Second) // hung, as far as rank 0 can tell
			return
		}
		t0 := time.Now()
		_, err := g.AllReduce([]*torch.Tensor{torch.Ones([]int64{4})}, torch.Sum)
		took := time.Since(t0)
		if !errors.Is(err, torch.ErrDistributed) {
			t.Fatalf("all-reduce with a hung peer: %v, want ErrDistributed", err)
		}
		fmt.Printf("after %v: %v\n", took.Round(time.Millisecond), err)
		if took < timeout-500*time.Millisecond || took > 2*timeout {
			t.Errorf("failed after %v with a timeout of %v", took, timeout)
		}
		return
	}
	requireGloo(t)
	res := disttest.Start(t, 2, disttest.Options{}).Wait(t, time.Minute)
	if res[0].Err != nil || !strings.Contains(res[0].Output, "--- PASS") {
		t.Fatalf("rank 0:\n%s", disttest.Describe(res))
	}
	t.Logf("rank 0: %s", firstLine(res[0].Output, "after "))
}

// firstLine returns the first line of out that starts with prefix.
func firstLine(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestProcessGroupRendezvousTimeout: a world of 2 where the other rank never comes fails to form
// within the timeout, with an error that says so.
func TestProcessGroupRendezvousTimeout(t *testing.T) {
	requireGloo(t)
	t0 := time.Now()
	_, err := torch.NewProcessGroup(torch.GroupOptions{Backend: torch.Gloo, Rank: 0, WorldSize: 2, MasterAddr: "127.0.0.1",
		MasterPort: disttest.FreePort(t), Timeout: 2 * time.Second})
	if !errors.Is(err, torch.ErrDistributed) || !strings.Contains(err.Error(), "rendezvous") {
		t.Fatalf("NewProcessGroup without the other rank: %v", err)
	}
	if took := time.Since(t0); took > 20*time.Second {
		t.Errorf("gave up after %v with a timeout of 2s", took)
	}
	t.Log(err)
}

// TestProcessGroupArguments: bad options and a backend that cannot run here are errors, never
// aborts.
func TestProcessGroupArguments(t *testing.T) {
	for _, o := range []torch.GroupOptions{
		{Backend: torch.Gloo, Rank: 2, WorldSize: 2, MasterAddr: "127.0.0.1", MasterPort: 1234},
		{Backend: torch.Gloo, Rank: 0, WorldSize: 1, MasterAddr: "", MasterPort: 1234},
		{Backend: torch.Gloo, Rank: 0, WorldSize: 1, MasterAddr: "127.0.0.1", MasterPort: 70000},
		{Backend: torch.Backend(7), Rank: 0, WorldSize: 1, MasterAddr: "127.0.0.1", MasterPort: 1234},
	} {
		if _, err := torch.NewProcessGroup(o); !errors.Is(err, torch.ErrArgument) {
			t.Errorf("%+v: %v, want an argument error", o, err)
		}
	}
	if !torch.DistAvailable(torch.NCCL) {
		_, err := torch.NewProcessGroup(torch.GroupOptions{Backend: torch.NCCL, Rank: 0, WorldSize: 1, MasterAddr: "127.0.0.1", MasterPort: disttest.FreePort(t)})
		if !errors.Is(err, torch.ErrArgument) || !strings.Contains(err.Error(), "built without c10d NCCL support") {
			t.Errorf("NCCL in a build without it: %v", err)
		}
	} else if !torch.CUDAAvailable() {
		_, err := torch.NewProcessGroup(torch.GroupOptions{Backend: torch.NCCL, Rank: 0, WorldSize: 1, MasterAddr: "127.0.0.1",
			MasterPort: disttest.FreePort(t), Timeout: 10 * time.Second})
		if err == nil {
			t.Error("an NCCL group without a GPU was created")
		}
		t.Logf("NCCL without a GPU: %v", err)
	}
	var closed *torch.ProcessGroup
	if err := closed.Barrier(); !errors.Is(err, torch.ErrArgument) {
		t.Errorf("barrier on a nil group: %v", err)
	}
}

// TestProcessGroupNCCLCUDA runs the collectives over NCCL: world size 1 on cuda:0, then, with two
// or more GPUs, 2 ranks on cuda:0 and cuda:1. It runs on GPU hosts (scripts/gpu-check.sh runs
// the *CUDA* tests there, where the library is built with USE_C10D_NCCL); elsewhere it skips.
func TestProcessGroupNCCLCUDA(t *testing.T) {
	rank, isRank := disttest.Rank(t)
	if !isRank {
		testref.RequireCUDA(t)
		if !torch.DistAvailable(torch.NCCL) {
			t.Fatal("CUDA is available but libgrowthtorch was built without c10d NCCL support")
		}
	}
	collectives := func(g *torch.ProcessGroup, rank, size int) {
		t.Helper()
		dev := torch.CUDA(rank)
		r := float64(rank)
		a := torch.Full([]int64{4}, r+1).ToDevice(dev)
		b := torch.FromSlice([]float64{10 * (r + 1), 0.5}).ToDevice(dev)
		if _, err := g.AllReduce([]*torch.Tensor{a, b}, torch.Sum); err != nil {
			t.Fatal(err)
		}
		sum := float64(size * (size + 1) / 2)
		if got := a.ToDevice(torch.CPU).Float32s(); !slices.Equal(got, []float32{float32(sum), float32(sum), float32(sum), float32(sum)}) {
			t.Fatalf("all-reduce: %v, want %v each", got, sum)
		}
		if got := b.ToDevice(torch.CPU).Float64s(); got[0] != 10*sum || got[1] != 0.5*float64(size) {
			t.Fatalf("all-reduce float64: %v", got)
		}
		c := torch.Full([]int64{3}, r+7).ToDevice(dev)
		if _, err := g.Broadcast([]*torch.Tensor{c}, 0); err != nil {
			t.Fatal(err)
		}
		if got := c.ToDevice(torch.CPU).Float32s(); !slices.Equal(got, []float32{7, 7, 7}) {
			t.Fatalf("broadcast: %v", got)
		}
		all, err := g.AllGatherFloat64s([]float64{r, 1.0 / 3})
		if err != nil {
			t.Fatal(err)
		}
		for k := range all {
			if all[k][0] != float64(k) || all[k][1] != 1.0/3 {
				t.Fatalf("all-gather: %v", all)
			}
		}
		if err := g.Barrier(); err != nil {
			t.Fatal(err)
		}
	}
	if isRank {
		g, err := torch.NewProcessGroup(torch.GroupOptions{Backend: torch.NCCL, Rank: rank, WorldSize: 2, MasterAddr: "127.0.0.1",
			MasterPort: atoiEnv(t, "MASTER_PORT"), Device: torch.CUDA(rank), Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		collectives(g, rank, 2)
		return
	}
	g, err := torch.NewProcessGroup(torch.GroupOptions{Backend: torch.NCCL, Rank: 0, WorldSize: 1, MasterAddr: "127.0.0.1",
		MasterPort: disttest.FreePort(t), Device: torch.CUDA(0), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	collectives(g, 0, 1)
	g.Close()
	if torch.CUDADeviceCount() < 2 {
		t.Logf("world size 1 passed; %d GPU: the 2-rank part needs two", torch.CUDADeviceCount())
		return
	}
	disttest.RequireSuccess(t, disttest.Start(t, 2, disttest.Options{}).Wait(t, 3*time.Minute))
}

func atoiEnv(t *testing.T, k string) int {
	t.Helper()
	v, err := strconv.Atoi(os.Getenv(k))
	if err != nil {
		t.Fatalf("%s=%q", k, os.Getenv(k))
	}
	return v
}
