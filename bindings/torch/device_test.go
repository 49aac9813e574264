package torch_test

import (
	"errors"
	"math"
	"os"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// requireCUDA skips a CUDA test on a machine without a GPU, unless GROWTHTRAIN_REQUIRE_CUDA=1
// (set by scripts/gpu-check.sh on GPU hosts), where a missing GPU is a failure.
func requireCUDA(t *testing.T) torch.Device {
	t.Helper()
	if !torch.CUDAAvailable() {
		if os.Getenv("GROWTHTRAIN_REQUIRE_CUDA") == "1" {
			t.Fatalf("GROWTHTRAIN_REQUIRE_CUDA=1 but CUDA is not available (library linked with CUDA kernels: %v)", torch.CUDACompiled())
		}
		t.Skip("no CUDA device here; scripts/gpu-check.sh runs this on a GPU host")
	}
	return torch.CUDA(0)
}

func TestNoCUDAIsReportedAsErrors(t *testing.T) {
	if torch.CUDAAvailable() {
		t.Skip("this machine has CUDA; see the CUDA tests")
	}
	if n := torch.CUDADeviceCount(); n != 0 {
		t.Fatalf("device count %d without CUDA", n)
	}
	for name, f := range map[string]func(){
		"tensor":      func() { torch.Ones([]int64{2}, torch.WithDevice(torch.CUDA(0))) },
		"move":        func() { x := torch.Ones([]int64{2}); defer x.Close(); x.ToDevice(torch.CUDA(0)) },
		"memory":      func() { torch.CUDAMemory(torch.CUDA(0)) },
		"memory info": func() { torch.CUDAMemoryInfo(torch.CUDA(0)) },
		"CPU info":    func() { torch.CUDAMemoryInfo(torch.CPU) },
		"synchronize": func() { torch.Synchronize(torch.CUDA(0)) },
		"generator":   func() { torch.NewGenerator(1, torch.CUDA(0)) },
	} {
		if err := torch.Try(f); err == nil {
			t.Errorf("%s on CUDA without CUDA: no error", name)
		}
	}
	torch.Synchronize(torch.CPU) // a no-op, not an error
}

func TestCUDATensorsAndOps(t *testing.T) {
	dev := requireCUDA(t)
	torch.WithScope(func(s *torch.Scope) {
		a := torch.Randn([]int64{64, 32}, torch.WithDevice(dev))
		if a.Device() != dev {
			t.Fatalf("device %v, want %v", a.Device(), dev)
		}
		b := torch.Randn([]int64{32, 16}, torch.WithDevice(dev))
		want := a.ToDevice(torch.CPU).Matmul(b.ToDevice(torch.CPU)).Float32s()
		// bf16 matmul on the GPU agrees with float32 on the CPU to bf16 precision.
		got := a.To(torch.BFloat16).Matmul(b.To(torch.BFloat16)).Float32s()
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 0.1+0.02*math.Abs(float64(want[i])) {
				t.Fatalf("bf16 matmul [%d]: %v vs %v", i, got[i], want[i])
			}
		}
		// Attention (flash/efficient kernels in bf16) matches the CPU math kernel.
		q := torch.Randn([]int64{2, 9, 128, 64}, torch.WithDevice(dev))
		k := torch.Randn([]int64{2, 3, 128, 64}, torch.WithDevice(dev))
		v := torch.Randn([]int64{2, 3, 128, 64}, torch.WithDevice(dev))
		opts := torch.AttentionOptions{Causal: true, GroupedKV: true}
		ref := torch.ScaledDotProductAttention(q.ToDevice(torch.CPU), k.ToDevice(torch.CPU), v.ToDevice(torch.CPU), opts).Float32s()
		out := torch.ScaledDotProductAttention(q.To(torch.BFloat16), k.To(torch.BFloat16), v.To(torch.BFloat16), opts).Float32s()
		for i := range ref {
			if d := math.Abs(float64(out[i] - ref[i])); d > 0.05 {
				t.Fatalf("bf16 attention [%d]: %v vs %v", i, out[i], ref[i])
			}
		}
		// Backward on the GPU.
		w := torch.Randn([]int64{32, 16}, torch.WithDevice(dev), torch.RequiresGrad())
		a.Matmul(w).Square().Mean(false).Backward()
		g := w.Grad()
		if g == nil || g.Device() != dev {
			t.Fatalf("gradient %v on the wrong device", g)
		}
		torch.Synchronize(dev)
		gen := torch.NewGenerator(3, dev)
		defer gen.Close()
		torch.Randn([]int64{4}, torch.WithDevice(dev), torch.WithGenerator(gen))
	})
}

func TestCUDAMemoryStatsAndOOM(t *testing.T) {
	dev := requireCUDA(t)
	torch.ResetPeakMemory(dev)
	before := torch.CUDAMemory(dev)
	x := torch.Empty([]int64{256, 1024, 1024}, torch.WithDevice(dev)) // 1 GiB
	during := torch.CUDAMemory(dev)
	if during.Allocated-before.Allocated < 1<<30 {
		t.Fatalf("allocated grew by %d bytes for a 1 GiB tensor", during.Allocated-before.Allocated)
	}
	x.Close()
	after := torch.CUDAMemory(dev)
	if after.Allocated > before.Allocated || after.PeakAllocated < during.Allocated {
		t.Fatalf("stats before %+v during %+v after %+v", before, during, after)
	}
	torch.EmptyCache()
	free, total := torch.CUDAMemoryInfo(dev)
	if !(free > 1<<30 && free <= total) {
		t.Fatalf("CUDAMemoryInfo: free %d of %d bytes", free, total)
	}
	z := torch.Empty([]int64{256, 1024, 1024}, torch.WithDevice(dev))
	if free2, _ := torch.CUDAMemoryInfo(dev); free-free2 < 1<<30 {
		t.Errorf("free memory went from %d to %d bytes with a 1 GiB tensor", free, free2)
	}
	z.Close()
	torch.EmptyCache()
	// 2^50 bytes: the allocator refuses, and that is an error, not an abort.
	err := torch.Try(func() { torch.Empty([]int64{1 << 48}, torch.WithDevice(dev)) })
	if !errors.Is(err, torch.ErrOutOfMemory) {
		t.Fatalf("huge CUDA allocation: %v, want ErrOutOfMemory", err)
	}
	y := torch.Ones([]int64{4}, torch.WithDevice(dev)) // still usable afterwards
	defer y.Close()
	if s := y.Sum(false); s.Item() != 4 {
		t.Fatal("CUDA unusable after OOM")
	}
}
