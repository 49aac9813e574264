// Command bench-ops measures what driving libtorch op by op from Go costs compared with the same
// sequence in a C++ loop over libtorch, in one process (make bench-ops). It prints the time per
// iteration of each side and their ratio; the target is at most 1.3x.
//
// The sequences are defined twice, here and in csrc/bench/bench.cpp (libgrowthtorch_bench, built
// by `make lib` and never installed), and must stay identical.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/cmd/internal/runtimeenv"
)

type sequence struct {
	name  string
	kind  int // the C++ reference's kind
	size  int
	iters int
	run   func(iters, size int) float64 // returns seconds
}

func main() {
	repeats := flag.Int("repeats", 7, "timed repetitions of each sequence (the median is reported)")
	scale := flag.Float64("scale", 1, "multiply every iteration count (e.g. 0.1 for a quick look)")
	threads := flag.Int("threads", 1, "libtorch intra-op threads (1 keeps small-op timings steady)")
	flag.Parse()
	runtime.LockOSThread() // one OpenMP team for libtorch: see cmd/growthtrain/main.go
	// The CLI's runtime (GROWTHTORCH_* variables as there). The caching CPU allocator is
	// libtorch's process-wide CPU allocator once installed, so the C++ reference loops allocate
	// through it too: both sides run under the same settings.
	if err := runtimeenv.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-ops:", err)
		os.Exit(1)
	}
	if err := run(*repeats, *scale, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "bench-ops:", err)
		os.Exit(1)
	}
}

func run(repeats int, scale float64, threads int) (err error) {
	defer torch.Recover(&err)
	torch.SetNumThreads(threads)
	seqs := []sequence{
		{"forward chain, 6 ops, Scope per iteration", 0, 16, 20000, forwardScope},
		{"forward chain, 6 ops, Close per tensor", 0, 16, 20000, forwardClose},
		{"forward chain, 6 ops", 0, 64, 10000, forwardScope},
		{"MLP train step (fwd, bwd, SGD)", 1, 16, 5000, trainStep},
		{"MLP train step (fwd, bwd, SGD)", 1, 64, 3000, trainStep},
	}
	rt := torch.CurrentRuntime()
	fmt.Printf("bench-ops  %s  libtorch %s, %d intra-op thread(s), GOMAXPROCS %d, %s/%s, "+
		"pacing %v, CPU cache %v (both sides)\n",
		time.Now().Format("2006-01-02"), torch.TorchVersion(), torch.NumThreads(),
		runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, rt.Pace, rt.CPUCache)
	fmt.Printf("%-44s %5s %7s %12s %12s %7s\n", "sequence", "size", "iters", "C++ us/iter", "Go us/iter", "ratio")
	worst := 0.0
	for _, s := range seqs {
		iters := max(1, int(float64(s.iters)*scale))
		// Warm up both sides (allocator caches, lazy initialisation).
		if _, err := reference(s.kind, iters/10+1, s.size); err != nil {
			return err
		}
		s.run(iters/10+1, s.size)
		var cpp, gos []float64
		for r := 0; r < repeats; r++ {
			c, err := reference(s.kind, iters, s.size)
			if err != nil {
				return err
			}
			cpp = append(cpp, c)
			gos = append(gos, s.run(iters, s.size))
		}
		c, g := median(cpp)/float64(iters)*1e6, median(gos)/float64(iters)*1e6
		worst = max(worst, g/c)
		fmt.Printf("%-44s %5d %7d %12.2f %12.2f %6.2fx\n", s.name, s.size, iters, c, g, g/c)
	}
	fmt.Printf("worst ratio %.2fx (target <= 1.30x)\n", worst)
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// forwardScope is csrc/bench/bench.cpp's forward_chain, each iteration's tensors freed by a Scope.
func forwardScope(iters, n int) float64 {
	x := torch.Randn([]int64{int64(n), int64(n)})
	y := torch.Randn([]int64{int64(n), int64(n)})
	defer torch.Close(x, y)
	var elapsed time.Duration
	torch.NoGrad(func() {
		start := time.Now()
		for i := 0; i < iters; i++ {
			s := torch.NewScope()
			t1 := x.Add(y)
			t2 := t1.Mul(x)
			t3 := t2.Silu()
			t4 := t3.MulScalar(0.5)
			t5 := t4.Matmul(y)
			t5.Sum(false)
			s.Close()
		}
		elapsed = time.Since(start)
	})
	return elapsed.Seconds()
}

// forwardClose is the same chain with an explicit Close of every intermediate.
func forwardClose(iters, n int) float64 {
	x := torch.Randn([]int64{int64(n), int64(n)})
	y := torch.Randn([]int64{int64(n), int64(n)})
	defer torch.Close(x, y)
	var elapsed time.Duration
	torch.NoGrad(func() {
		start := time.Now()
		for i := 0; i < iters; i++ {
			t1 := x.Add(y)
			t2 := t1.Mul(x)
			t3 := t2.Silu()
			t4 := t3.MulScalar(0.5)
			t5 := t4.Matmul(y)
			t6 := t5.Sum(false)
			torch.Close(t1, t2, t3, t4, t5, t6)
		}
		elapsed = time.Since(start)
	})
	return elapsed.Seconds()
}

// trainStep is csrc/bench/bench.cpp's train_step.
func trainStep(iters, n int) float64 {
	sh := []int64{int64(n), int64(n)}
	x, target := torch.Randn(sh), torch.Randn(sh)
	w1 := torch.Randn(sh).MulScalar(0.1).SetRequiresGrad(true)
	w2 := torch.Randn(sh).MulScalar(0.1).SetRequiresGrad(true)
	defer torch.Close(x, target, w1, w2)
	start := time.Now()
	for i := 0; i < iters; i++ {
		s := torch.NewScope()
		h := x.Matmul(w1)
		a := h.Silu()
		o := a.Matmul(w2)
		d := o.Sub(target)
		sq := d.Mul(d)
		loss := sq.Mean(false)
		loss.Backward()
		torch.NoGrad(func() {
			w1.AddInPlace(w1.Grad(), -0.01)
			w2.AddInPlace(w2.Grad(), -0.01)
		})
		w1.SetGradNone()
		w2.SetGradNone()
		s.Close()
	}
	return time.Since(start).Seconds()
}
