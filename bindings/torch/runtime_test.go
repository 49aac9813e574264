package torch_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// childCase names, in a test binary re-executed by inChild, the case that child runs. Such a
// child starts without Init, as any program linking the library does.
const childCase = "GT_BINDINGS_TEST_CHILD"

// The package's tests run with the whole runtime on, as growthtrain's commands do; the tests of
// the defaults and of Init itself run in child processes.
func TestMain(m *testing.M) {
	if os.Getenv(childCase) == "" {
		if err := torch.Init(torch.Runtime{Pace: true, FusedKernels: true, CPUCache: true}); err != nil {
			fmt.Fprintln(os.Stderr, "torch.Init:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// inChild reports whether this process is the child that runs case c of test t. In the parent
// it runs t alone in a fresh process of this test binary, with childCase=c, and fails t if
// the child does; then it returns false.
func inChild(t *testing.T, c string) bool {
	t.Helper()
	if os.Getenv(childCase) != "" {
		return os.Getenv(childCase) == c
	}
	var run []string
	for _, part := range strings.Split(t.Name(), "/") {
		run = append(run, "^"+regexp.QuoteMeta(part)+"$")
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(run, "/"), "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childCase+"="+c)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child process for %s: %v\n%s", t.Name(), err, out)
	}
	return false
}

// fusedKernelsUsed reports whether RMSNorm ran the fused kernel: its output then differs in
// the last bits from the composite formula's (SetFusedKernels(false)), because the kernel sums
// each row's squares in another order than ATen's reduction. Over 64 random rows of 1000 some
// row differs unless the two orders were the same. Without a vector path for the fused kernels
// (no AVX2) it reports false.
func fusedKernelsUsed(t *testing.T) bool {
	t.Helper()
	var got, composite []float32
	chkScoped(t, func() {
		g := torch.NewGenerator(7, torch.CPU)
		defer g.Close()
		x := torch.Randn([]int64{64, 1000}, torch.WithGenerator(g))
		got = torch.RMSNorm(x, nil, 1e-5).Float32s()
		prev := torch.FusedKernels()
		torch.SetFusedKernels(false)
		defer torch.SetFusedKernels(prev)
		composite = torch.RMSNorm(x, nil, 1e-5).Float32s()
	})
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(composite[i]) {
			return true
		}
	}
	return false
}

// pacingHints counts the pacing hints of 8 tensor operations on a fresh OS thread (pacing reads
// the clock on every 4th, and a thread's first read hints if pacing is on).
func pacingHints(t *testing.T) int {
	count, restore := torch.CountPaceHints()
	defer restore()
	torch.RestartPacing() // the thread may be one that ran tensor work already
	newOSThread(t).run(t, func() {
		for i := 0; i < 8; i++ {
			tensorOp()
		}
	})
	return count()
}

// cacheServes allocates, frees and reallocates a 1.2 MB tensor and reports whether the second
// allocation was a hit of the CPU cache.
func cacheServes(t *testing.T) bool {
	t.Helper()
	const n = 300_000
	before := torch.CPUCache()
	torch.Full([]int64{n}, 1).Close()
	x := torch.Full([]int64{n}, 2)
	defer x.Close()
	after := torch.CPUCache()
	if s := x.Sum(false); s.Item() != 2*n {
		t.Fatalf("sum %v of a reused block, want %v", s.Item(), 2*n)
	}
	return after.Hits > before.Hits
}

// A program that never calls Init gets libtorch's defaults: libtorch's own CPU allocator, the
// composite formulas, no pacing.
func TestRuntimeDefaultsWithoutInit(t *testing.T) {
	if !inChild(t, "defaults") {
		return
	}
	if torch.Initialized() {
		t.Fatal("Initialized before Init")
	}
	if rt := torch.CurrentRuntime(); rt != (torch.Runtime{}) {
		t.Errorf("CurrentRuntime() = %+v, want the zero Runtime", rt)
	}
	if st := torch.CPUCache(); st.Installed || st != (torch.CPUCacheStats{}) {
		t.Errorf("CPU cache installed without Init: %+v", st)
	}
	if cacheServes(t) {
		t.Error("a freed block was served again without the cache")
	}
	torch.SetCPUCacheLimit(1 << 20)
	torch.ResetCPUCachePeak()
	if st := torch.CPUCache(); st.Installed || st.Limit != 0 || torch.EmptyCPUCache() != 0 || torch.CPUCachePeak() != 0 {
		t.Errorf("SetCPUCacheLimit without the cache changed something: %+v", st)
	}
	if torch.FusedKernels() {
		t.Error("fused kernels on without Init")
	}
	if fusedKernelsUsed(t) {
		t.Error("the fused RMSNorm ran without Init")
	}
	if n := pacingHints(t); n != 0 {
		t.Errorf("%d pacing hints without Init", n)
	}
}

// Each option of Init takes effect, and only it.
func TestRuntimeInitOptions(t *testing.T) {
	fusedISA := torch.FusedKernelISA() != "none"
	cases := []struct {
		name string
		rt   torch.Runtime
	}{
		{"pace", torch.Runtime{Pace: true}},
		{"fused", torch.Runtime{FusedKernels: true}},
		{"cpu-cache", torch.Runtime{CPUCache: true}},
		{"cpu-cache-limit", torch.Runtime{CPUCache: true, CPUCacheLimit: 64 << 20}},
		{"all", torch.Runtime{Pace: true, FusedKernels: true, CPUCache: true}},
		{"none", torch.Runtime{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !inChild(t, c.name) {
				return
			}
			if err := torch.Init(c.rt); err != nil {
				t.Fatal(err)
			}
			want := c.rt
			if want.CPUCache && want.CPUCacheLimit == 0 {
				want.CPUCacheLimit = torch.DefaultCPUCacheLimit()
			}
			if got := torch.CurrentRuntime(); got != want || !torch.Initialized() {
				t.Fatalf("after Init(%+v): CurrentRuntime() = %+v (initialised %v), want %+v", c.rt, got, torch.Initialized(), want)
			}
			if st := torch.CPUCache(); st.Installed != c.rt.CPUCache || st.Limit != want.CPUCacheLimit {
				t.Errorf("CPU cache %+v, want installed %v with limit %d", st, c.rt.CPUCache, want.CPUCacheLimit)
			}
			if got := cacheServes(t); got != c.rt.CPUCache {
				t.Errorf("freed block served again: %v, want %v", got, c.rt.CPUCache)
			}
			if got := torch.FusedKernels(); got != c.rt.FusedKernels {
				t.Errorf("FusedKernels() = %v, want %v", got, c.rt.FusedKernels)
			}
			if got := fusedKernelsUsed(t); got != (c.rt.FusedKernels && fusedISA) {
				t.Errorf("fused RMSNorm used: %v, want %v (vector path here: %v)", got, c.rt.FusedKernels && fusedISA, fusedISA)
			}
			want1 := 0
			if c.rt.Pace {
				want1 = 1
			}
			if n := pacingHints(t); n != want1 {
				t.Errorf("%d pacing hints in 8 operations on a new thread, want %d", n, want1)
			}
		})
	}
}

// Installing the cache after tensors exist is safe: those tensors keep working and, freed, go
// back through the allocator that made them (the cache neither sees nor keeps their blocks),
// while new tensors come from the cache.
func TestRuntimeInitAfterTensors(t *testing.T) {
	if !inChild(t, "after-tensors") {
		return
	}
	const n = 300_000 // 1.2 MB: a size the cache would keep
	big := torch.Full([]int64{n}, 1)
	huge := torch.Full([]int64{10 * n}, 2) // 12 MB
	small := torch.Full([]int64{10}, 3)
	view := big.Slice(0, 1000, n, 1)
	x := torch.Randn([]int64{256, 256}) // 256 KiB: the graph's saved tensors are cached sizes
	x.SetRequiresGrad(true)
	mm := x.Matmul(x)
	sq := mm.Square()
	loss := sq.Mean(false)
	s := torch.NewScope()
	torch.Full([]int64{n}, 4) // released by the scope, after Init

	if err := torch.Init(torch.Runtime{CPUCache: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st := torch.CPUCache(); !st.Installed || st.Live != 0 || st.Idle != 0 {
		t.Fatalf("after Init and freeing a tensor made before it: %+v, want the cache installed and empty", st)
	}
	big.AddScalarInPlace(1) // an old block written after the switch
	chkVals(t, "tensors made before Init", []float64{big.Sum(false).Item(), huge.Sum(false).Item(), small.Sum(false).Item(), view.Sum(false).Item()},
		[]float64{2 * n, 20 * n, 30, 2 * (n - 1000)}, 0, 0)
	loss.Backward() // frees the old graph's buffers, makes gradients from the cache
	grad := x.Grad()
	fresh := torch.Full([]int64{n}, 5)
	mixed := torch.Cat([]*torch.Tensor{big, fresh}, 0) // old and new storage in one op
	chkVals(t, "cat of old and new", []float64{mixed.Sum(false).Item()}, []float64{7 * n}, 0, 0)
	live := torch.CPUCache()
	if live.Live == 0 {
		t.Fatalf("tensors made after Init do not come from the cache: %+v", live)
	}

	torch.Close(big, huge, small, view, mm, sq, loss)
	if st := torch.CPUCache(); st.Live != live.Live || st.Idle != live.Idle {
		t.Errorf("freeing tensors made before Init changed the cache: %+v, then %+v", live, st)
	}
	torch.Close(fresh, mixed, grad, x) // x's storage is old, its gradient new
	if st := torch.CPUCache(); st.Live != 0 || st.Idle != live.Idle+live.Live {
		t.Errorf("freeing the tensors made after Init: %+v, want %d live bytes back in the bins (%+v before)", st, live.Live, live)
	}
	if !cacheServes(t) {
		t.Error("the cache installed after tensors existed does not serve new ones")
	}
}

// The peak of live bytes rises with every tensor held at once, not with tensors made one after
// another, and a reset starts it over from what is live.
func TestCPUCachePeak(t *testing.T) {
	const n = 300_000 // 1.2 MB each
	base := torch.Full([]int64{n}, 1)
	defer base.Close()
	torch.ResetCPUCachePeak()
	live := torch.CPUCache().Live
	if p := torch.CPUCachePeak(); p != live {
		t.Fatalf("peak %d right after a reset, want the live %d", p, live)
	}
	for i := 0; i < 3; i++ { // one at a time: the peak grows by one block
		torch.Full([]int64{n}, 2).Close()
	}
	one := torch.CPUCachePeak() - live
	if one < 4*n {
		t.Fatalf("peak grew by %d bytes for a %d-byte tensor", one, 4*n)
	}
	a, b, c := torch.Full([]int64{n}, 3), torch.Full([]int64{n}, 4), torch.Full([]int64{n}, 5)
	if got := torch.CPUCachePeak() - live; got != 3*one {
		t.Errorf("three tensors held at once: peak grew by %d, want %d", got, 3*one)
	}
	torch.Close(a, b, c)
	if got := torch.CPUCachePeak() - live; got != 3*one {
		t.Errorf("freeing lowered the peak to %d above the base, want %d", got, 3*one)
	}
	torch.ResetCPUCachePeak()
	if p := torch.CPUCachePeak(); p != live {
		t.Errorf("peak %d after the tensors went and a reset, want the live %d", p, live)
	}
}

// In this process TestMain has initialised the runtime: any further Init fails and changes
// nothing.
func TestRuntimeInitTwice(t *testing.T) {
	for _, rt := range []torch.Runtime{{}, {Pace: true, FusedKernels: true, CPUCache: true}} {
		before := torch.CurrentRuntime()
		if err := torch.Init(rt); !errors.Is(err, torch.ErrArgument) || !strings.Contains(err.Error(), "already initialised") {
			t.Errorf("second Init(%+v): %v, want an ErrArgument saying it is already initialised", rt, err)
		}
		if after := torch.CurrentRuntime(); after != before {
			t.Errorf("a refused Init changed the runtime from %+v to %+v", before, after)
		}
	}
}

// Misuse of Init is an error, never a crash, and changes nothing.
func TestRuntimeInitMisuse(t *testing.T) {
	if !inChild(t, "misuse") {
		return
	}
	bad := []struct {
		rt   torch.Runtime
		want string
	}{
		{torch.Runtime{CPUCache: true, CPUCacheLimit: -1}, "negative cpu_cache_limit"},
		{torch.Runtime{CPUCacheLimit: 1 << 20}, "without cpu_cache"},
	}
	for _, b := range bad {
		err := torch.Init(b.rt)
		if !errors.Is(err, torch.ErrArgument) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Init(%+v): %v, want an ErrArgument about %q", b.rt, err, b.want)
		}
		if torch.Initialized() || torch.CPUCache().Installed {
			t.Fatalf("a refused Init(%+v) initialised something", b.rt)
		}
	}
	if err := torch.Init(torch.Runtime{FusedKernels: true}); err != nil {
		t.Fatalf("a valid Init after refused ones: %v", err)
	}
	if err := torch.Init(torch.Runtime{CPUCache: true}); !errors.Is(err, torch.ErrArgument) {
		t.Fatalf("second Init: %v, want ErrArgument", err)
	}
	if st := torch.CPUCache(); st.Installed || !torch.FusedKernels() {
		t.Fatalf("the refused second Init changed the runtime: cache %+v, fused %v", st, torch.FusedKernels())
	}
}

// The fine-grained controls still change what Init set.
func TestRuntimeAdjustAfterInit(t *testing.T) {
	rt := torch.CurrentRuntime()
	defer torch.SetFusedKernels(rt.FusedKernels)
	defer torch.SetCPUCacheLimit(rt.CPUCacheLimit)
	torch.SetFusedKernels(!rt.FusedKernels)
	torch.SetCPUCacheLimit(3 << 20)
	got := torch.CurrentRuntime()
	if got.FusedKernels == rt.FusedKernels || got.CPUCacheLimit != 3<<20 || got.Pace != rt.Pace || got.CPUCache != rt.CPUCache {
		t.Fatalf("after SetFusedKernels(%v) and SetCPUCacheLimit(3 MiB): %+v (was %+v)", !rt.FusedKernels, got, rt)
	}
	if d := torch.DefaultCPUCacheLimit(); d <= 0 || d > 2<<30 {
		t.Fatalf("DefaultCPUCacheLimit() = %d, want (0, 2 GiB]", torch.DefaultCPUCacheLimit())
	}
}
