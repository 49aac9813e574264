package torch_test

import (
	"math"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// HeadCrossEntropy equals the composite head and loss (Linear, then CrossEntropy) in value and
// in the gradients of x and the weight, for every chunking, both reductions, ignored targets,
// and bfloat16 products against the composite under autocast.
func TestHeadCrossEntropyMatchesComposite(t *testing.T) {
	const n, h, v = 37, 16, 50
	var targets []int64
	for i := 0; i < n; i++ {
		tg := int64((i * 7) % v)
		if i%9 == 4 {
			tg = -100 // ignored
		}
		targets = append(targets, tg)
	}
	type result struct {
		loss   float64
		dx, dw []float32
	}
	run := func(fused bool, red torch.Reduction, chunk int64, mixed bool) (r result) {
		torch.WithScope(func(s *torch.Scope) {
			gen := torch.NewGenerator(11, torch.CPU) // the same x and w for every configuration
			defer gen.Close()
			x := torch.Randn([]int64{n, h}, torch.WithGenerator(gen)).SetRequiresGrad(true)
			w := torch.Randn([]int64{v, h}, torch.WithGenerator(gen)).MulScalar(0.3).Detach().SetRequiresGrad(true)
			tg := torch.FromSlice(targets, n)
			var loss *torch.Tensor
			body := func() {
				if fused {
					opts := torch.HeadCrossEntropyOptions{Reduction: red, IgnoreIndex: -100, HasIgnoreIndex: true, Chunk: chunk}
					if mixed {
						opts.Compute, opts.HasCompute = torch.BFloat16, true
					}
					loss = torch.HeadCrossEntropy(x, w, tg, opts)
					return
				}
				logits := torch.Linear(x, w, nil).To(torch.Float32)
				loss = torch.CrossEntropy(logits, tg, torch.CrossEntropyOptions{Reduction: red, IgnoreIndex: -100, HasIgnoreIndex: true})
			}
			if mixed && !fused {
				torch.Autocast(torch.CPU, torch.BFloat16, body)
			} else {
				body()
			}
			loss.MulScalar(3).Backward() // a non-unit incoming gradient
			r = result{loss: loss.Item(), dx: x.Grad().Float32s(), dw: w.Grad().Float32s()}
		})
		return r
	}
	maxRel := func(a, b []float32) float64 {
		var d, m float64
		for i := range a {
			d = math.Max(d, math.Abs(float64(a[i]-b[i])))
			m = math.Max(m, math.Abs(float64(b[i])))
		}
		return d / m
	}
	for _, red := range []torch.Reduction{torch.ReduceMean, torch.ReduceSum} {
		for _, mixed := range []bool{false, true} {
			want := run(false, red, 0, mixed)
			tol := 1e-5
			if mixed {
				tol = 2e-2 // bfloat16 products: 8 significant bits
			}
			for _, chunk := range []int64{1, 5, 36, 37, 1000} {
				got := run(true, red, chunk, mixed)
				if math.Abs(got.loss-want.loss) > tol*math.Abs(want.loss) {
					t.Errorf("reduction %v mixed %v chunk %d: loss %v, composite %v", red, mixed, chunk, got.loss, want.loss)
				}
				if d := maxRel(got.dx, want.dx); d > tol {
					t.Errorf("reduction %v mixed %v chunk %d: dx differs by %.2g (relative to its largest)", red, mixed, chunk, d)
				}
				if d := maxRel(got.dw, want.dw); d > tol {
					t.Errorf("reduction %v mixed %v chunk %d: dw differs by %.2g", red, mixed, chunk, d)
				}
			}
		}
	}
}

// Bad shapes and an out-of-range target are errors, not crashes.
func TestHeadCrossEntropyErrors(t *testing.T) {
	torch.WithScope(func(s *torch.Scope) {
		x, w := torch.Randn([]int64{4, 8}), torch.Randn([]int64{10, 8})
		for name, f := range map[string]func(){
			"width mismatch": func() {
				torch.HeadCrossEntropy(x, torch.Randn([]int64{10, 7}), torch.FromSlice([]int64{1, 2, 3, 4}, 4), torch.HeadCrossEntropyOptions{})
			},
			"targets length": func() {
				torch.HeadCrossEntropy(x, w, torch.FromSlice([]int64{1, 2}, 2), torch.HeadCrossEntropyOptions{})
			},
			"target >= V": func() {
				torch.HeadCrossEntropy(x, w, torch.FromSlice([]int64{1, 2, 3, 10}, 4), torch.HeadCrossEntropyOptions{})
			},
			"no reduction": func() {
				torch.HeadCrossEntropy(x, w, torch.FromSlice([]int64{1, 2, 3, 4}, 4), torch.HeadCrossEntropyOptions{Reduction: torch.ReduceNone})
			},
		} {
			if err := torch.Try(f); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
}

// at::rms_norm (RMSNorm's kernel on CUDA) agrees with the composite formula RMSNorm uses on
// the CPU, in value and gradients, with and without a weight.
func TestRMSNormNativeMatchesComposite(t *testing.T) {
	for _, withWeight := range []bool{true, false} {
		type out struct{ y, dx, dw []float32 }
		run := func(native bool) (o out) {
			torch.WithScope(func(s *torch.Scope) {
				gen := torch.NewGenerator(5, torch.CPU)
				defer gen.Close()
				x := torch.Randn([]int64{3, 7, 24}, torch.WithGenerator(gen)).SetRequiresGrad(true)
				var w *torch.Tensor
				if withWeight {
					w = torch.Randn([]int64{24}, torch.WithGenerator(gen)).SetRequiresGrad(true)
				}
				f := torch.RMSNorm
				if native {
					f = torch.RMSNormNative
				}
				y := f(x, w, 1e-5)
				y.Mul(y).Sum(false).Backward()
				o.y, o.dx = y.Float32s(), x.Grad().Float32s()
				if w != nil {
					o.dw = w.Grad().Float32s()
				}
			})
			return o
		}
		a, b := run(false), run(true)
		for name, pair := range map[string][2][]float32{"value": {a.y, b.y}, "dx": {a.dx, b.dx}, "dw": {a.dw, b.dw}} {
			for i := range pair[0] {
				if d := math.Abs(float64(pair[0][i] - pair[1][i])); d > 1e-5*(1+math.Abs(float64(pair[0][i]))) {
					t.Fatalf("weight %v: %s[%d] composite %v native %v", withWeight, name, i, pair[0][i], pair[1][i])
				}
			}
		}
	}
}
