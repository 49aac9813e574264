package torch_test

import (
	"math"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// The fused CPU kernels against the composite ATen formulas on the values that break naive
// kernels: infinities, NaN, zero rows, masked classes, fully ignored batches. (Ordinary values
// are compared with PyTorch itself, in every kernel mode, by TestParityWithPyTorch.)
func TestFusedKernelsSpecialValues(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	row := func(n int, f func(i int) float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(f(i))
		}
		return v
	}
	wave := func(i int) float64 { return math.Sin(float64(i)*0.7) * 3 }
	const v = 37 // no multiple of 8 or 16: every vector loop has a tail
	logits := func(rows ...[]float32) *torch.Tensor {
		var all []float32
		for _, r := range rows {
			all = append(all, r...)
		}
		return tF32(all, int64(len(rows)), v)
	}
	masked := row(v, func(i int) float64 {
		if i%3 == 0 {
			return math.Inf(-1)
		}
		return wave(i)
	})
	allMaskedButOne := row(v, func(i int) float64 {
		if i == 5 {
			return 2
		}
		return math.Inf(-1)
	})
	withNaN := row(v, wave)
	withNaN[20] = float32(nan)
	huge := row(v, func(i int) float64 { return 1e30 * wave(i) })
	ce := func(red torch.Reduction) torch.CrossEntropyOptions {
		return torch.CrossEntropyOptions{Reduction: red, HasIgnoreIndex: true, IgnoreIndex: -100}
	}
	cases := []struct {
		name string
		f    func() *torch.Tensor
	}{
		{"cross-entropy/masked-classes", func() *torch.Tensor {
			return torch.CrossEntropy(logits(masked, allMaskedButOne), tI64([]int64{4, 5}, 2), ce(torch.ReduceSum))
		}},
		{"cross-entropy/huge-logits", func() *torch.Tensor {
			return torch.CrossEntropy(logits(huge, row(v, wave)), tI64([]int64{3, 0}, 2), ce(torch.ReduceMean))
		}},
		{"cross-entropy/nan-row", func() *torch.Tensor {
			return torch.CrossEntropy(logits(withNaN, row(v, wave)), tI64([]int64{1, 2}, 2), ce(torch.ReduceSum))
		}},
		{"cross-entropy/all-ignored-mean", func() *torch.Tensor {
			return torch.CrossEntropy(logits(row(v, wave)), tI64([]int64{-100}, 1), ce(torch.ReduceMean))
		}},
		{"cross-entropy/all-ignored-sum", func() *torch.Tensor {
			return torch.CrossEntropy(logits(row(v, wave)), tI64([]int64{-100}, 1), ce(torch.ReduceSum))
		}},
		{"rms-norm/zero-inf-nan-rows", func() *torch.Tensor {
			x := logits(row(v, func(int) float64 { return 0 }), row(v, wave), withNaN)
			x2 := tF32(row(v, func(i int) float64 { return []float64{inf, 1}[i%2] }), 1, v)
			return torch.Cat([]*torch.Tensor{torch.RMSNorm(x, nil, 1e-5), torch.RMSNorm(x2, nil, 1e-5)}, 0)
		}},
		{"rotary/inf-nan", func() *torch.Tensor {
			x := tF32(row(2*3*8, func(i int) float64 { return []float64{inf, nan, 1, -inf}[i%4] }), 1, 3, 2, 8).Transpose(1, 2)
			c := tF32(row(3*8, wave), 3, 8)
			s := tF32(row(3*8, func(i int) float64 { return wave(i + 1) }), 3, 8)
			return torch.Rotary(x, c, s)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want []float64
			chkScoped(t, func() {
				torch.SetFusedKernels(false)
				want = c.f().Float64s()
			})
			for _, mode := range kernelModes()[1:] {
				t.Run(mode, func(t *testing.T) {
					setKernelMode(t, mode)
					chkScoped(t, func() { chkVals(t, mode, c.f().Float64s(), want, 1e-5, 1e-5) })
				})
			}
			torch.SetFusedKernels(true)
		})
	}
}

// A target outside the vocabulary is ATen's error in both modes, not a wrong number.
func TestFusedCrossEntropyBadTarget(t *testing.T) {
	defer torch.SetFusedKernels(true)
	var msgs []string
	for _, fused := range []bool{false, true} {
		torch.SetFusedKernels(fused)
		err := torch.Try(func() {
			torch.CrossEntropy(torch.Zeros([]int64{2, 5}), tI64([]int64{1, 7}, 2), torch.CrossEntropyOptions{Reduction: torch.ReduceSum})
		})
		if err == nil {
			t.Fatalf("fused=%v: no error for target 7 of 5 classes", fused)
		}
		msgs = append(msgs, err.Error())
	}
	if msgs[0] != msgs[1] || !strings.Contains(msgs[0], "out of bounds") {
		t.Fatalf("errors differ or do not name the problem:\n composite: %s\n fused:     %s", msgs[0], msgs[1])
	}
}

// The fused kernels have no backward, so they must step aside whenever a gradient is recorded.
func TestFusedKernelsStepAsideForGradients(t *testing.T) {
	chkScoped(t, func() {
		x := torch.Randn([]int64{3, 8})
		x.SetRequiresGrad(true)
		w := torch.Ones([]int64{8})
		c, s := torch.Ones([]int64{3, 8}), torch.Zeros([]int64{3, 8})
		target := tI64([]int64{1, 2, 3}, 3)
		outs := map[string]func() *torch.Tensor{
			"RMSNorm":      func() *torch.Tensor { return torch.RMSNorm(x, w, 1e-5) },
			"Rotary":       func() *torch.Tensor { return torch.Rotary(x, c, s) },
			"CrossEntropy": func() *torch.Tensor { return torch.CrossEntropy(x, target, torch.CrossEntropyOptions{}) },
		}
		for name, f := range outs {
			if !f().RequiresGrad() {
				t.Errorf("%s of a tensor that requires grad does not record a gradient", name)
			}
			torch.NoGrad(func() {
				if f().RequiresGrad() {
					t.Errorf("%s under NoGrad records a gradient", name)
				}
			})
		}
		loss := torch.RMSNorm(x, w, 1e-5).Sum(false)
		loss.Backward()
		if g := x.Grad(); g == nil || !slicesFinite(g.Float64s()) {
			t.Fatalf("RMSNorm backward gave %v", g)
		}
	})
}

func slicesFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return len(v) > 0
}
