package model

import (
	"errors"
	"math"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/testref"
)

// The CUDA tests of the model: they run on GPU hosts (scripts/gpu-check.sh selects the tests
// named *CUDA*) and skip elsewhere.

// cudaCase is the same small model and batch on the CPU in float32 and on CUDA in mixed
// precision: loss and gradients agree to bfloat16's rounding, through the CUDA paths (fused
// head and loss, at::rms_norm, autocast).
func TestMixedPrecisionTrainingOnCUDA(t *testing.T) {
	dev := testref.RequireCUDA(t)
	wins := [][]int64{{1, 7, 9, 200, 13, 4, 5, 6, 7, 8, 9}, {8, 8, 3, 299, 4, 4, 4, 4, 4, 4, 4}}
	names := []string{"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.norm.weight"}
	run := func(m *Model) (loss float64, grads [][]float32) {
		torch.WithScope(func(s *torch.Scope) {
			b, err := Pack(wins, Shifted, m.Device)
			if err != nil {
				t.Fatal(err)
			}
			l, err := m.Loss(b, LossOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l.Backward()
			loss = l.Item()
			for _, n := range names {
				g := m.Param(n).Grad()
				if g.DType() != torch.Float32 {
					t.Fatalf("%s: gradient %v, want float32", n, g.DType())
				}
				grads = append(grads, g.ToDevice(torch.CPU).Float32s())
			}
		})
		return loss, grads
	}
	cpu := tinyLossModel(t)
	want, wantGrads := run(cpu)
	gpu := tinyLossModel(t)
	if err := gpu.To(dev, torch.Float32); err != nil {
		t.Fatal(err)
	}
	gpu.Compute = torch.BFloat16
	got, grads := run(gpu)
	if math.Abs(got-want) > 2e-2*want {
		t.Errorf("loss: CUDA mixed %v, CPU float32 %v", got, want)
	}
	for i, n := range names {
		var d, scale float64
		for j := range grads[i] {
			d = math.Max(d, math.Abs(float64(grads[i][j]-wantGrads[i][j])))
			scale = math.Max(scale, math.Abs(float64(wantGrads[i][j])))
		}
		if d > 5e-2*scale {
			t.Errorf("gradient of %s: CUDA mixed differs from CPU float32 by %.2g (scale %.2g)", n, d, scale)
		}
	}
}

// An out-of-memory on the GPU comes back as torch.ErrOutOfMemory from the model, and the
// device works afterwards.
func TestOutOfMemoryOnCUDA(t *testing.T) {
	dev := testref.RequireCUDA(t)
	m := tinyLossModel(t)
	if err := m.To(dev, torch.Float32); err != nil {
		t.Fatal(err)
	}
	err := torch.Try(func() {
		torch.WithScope(func(s *torch.Scope) {
			torch.Zeros([]int64{1 << 20, 1 << 20}, torch.WithDevice(dev)) // 4 TiB
		})
	})
	if !errors.Is(err, torch.ErrOutOfMemory) {
		t.Fatalf("a 4 TiB request: %v, want ErrOutOfMemory", err)
	}
	torch.WithScope(func(s *torch.Scope) {
		b, err := Pack([][]int64{{1, 2, 3, 4}}, Shifted, dev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Loss(b, LossOptions{}); err != nil {
			t.Fatalf("after the out-of-memory: %v", err)
		}
	})
}

// Activation checkpointing on the GPU, in mixed precision: the gradients are the plain pass's
// (to within the GPU's non-deterministic summation order) and the peak memory is lower.
func TestRecomputeOnCUDA(t *testing.T) {
	dev := testref.RequireCUDA(t)
	m := recomputeModel(t, 6, 64, 256)
	if err := m.To(dev, torch.Float32); err != nil {
		t.Fatal(err)
	}
	m.Compute = torch.BFloat16
	b, err := Pack(randomWindows(5, 8, 256, 300), Shifted, dev)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	all := []bool{true, true, true, true, true, true}
	peak := func(recompute []bool) (int64, float64, map[string][]float32) {
		gradients(t, m, b, recompute, 1) // the gradients exist from here on
		torch.Synchronize(dev)
		base := torch.CUDAMemory(dev).Allocated
		torch.ResetPeakMemory(dev)
		loss, grads, _ := gradients(t, m, b, recompute, 1)
		return torch.CUDAMemory(dev).PeakAllocated - base, loss, grads
	}
	plain, wantLoss, want := peak(nil)
	recomputed, gotLoss, got := peak(all)
	t.Logf("peak above parameters and gradients: plain %.1f MB, recomputed %.1f MB", float64(plain)/1e6, float64(recomputed)/1e6)
	if float64(recomputed) > 0.6*float64(plain) {
		t.Errorf("peak %d bytes recomputed, %d plain: want below 60%%", recomputed, plain)
	}
	if math.Abs(gotLoss-wantLoss) > 1e-6*math.Abs(wantLoss) {
		t.Errorf("loss %v, plain %v", gotLoss, wantLoss)
	}
	for n, w := range want {
		var d, scale float64
		for j := range w {
			d = math.Max(d, math.Abs(float64(got[n][j]-w[j])))
			scale = math.Max(scale, math.Abs(float64(w[j])))
		}
		if d > 1e-3*scale {
			t.Errorf("%s: gradient differs from the plain pass's by %.2g (scale %.2g)", n, d, scale)
		}
	}
}
