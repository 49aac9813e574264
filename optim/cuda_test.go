package optim

import (
	"math"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/testref"
)

// A step on CUDA (fused AdamW, foreach clipping, the loss and norm kept on the device) gives the
// CPU's parameters to float32 rounding.
func TestStepOnCUDA(t *testing.T) {
	dev := testref.RequireCUDA(t)
	cpu, gpu := newStepFixture(t, 2), newStepFixture(t, 2)
	torch.WithScope(func(s *torch.Scope) {
		move := func(x *torch.Tensor) *torch.Tensor {
			y := x.ToDevice(dev).Detach().Clone()
			torch.Persist(y)
			return y
		}
		gpu.w, gpu.b = move(gpu.w).SetRequiresGrad(true), move(gpu.b).SetRequiresGrad(true)
		for i := range gpu.xs {
			gpu.xs[i], gpu.ys[i] = move(gpu.xs[i]), move(gpu.ys[i])
		}
	})
	for _, f := range []*stepFixture{cpu, gpu} {
		opt := NewAdamW(testAdamW)
		step := Step{Optimizer: opt, GradClip: 0.05}
		for i := 0; i < 5; i++ {
			res, err := step.Run(f.params(), 1e-2, 2, func(i int) (*torch.Tensor, error) { return f.loss(i), nil })
			if err != nil {
				t.Fatal(err)
			}
			if res.Loss.Device() != f.w.Device() || res.GradNorm.Device() != f.w.Device() {
				t.Fatalf("result on %v/%v, parameters on %v", res.Loss.Device(), res.GradNorm.Device(), f.w.Device())
			}
			res.Close()
		}
		opt.Close()
	}
	a, b := cpu.w.Float32s(), gpu.w.ToDevice(torch.CPU).Float32s()
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5*(1+math.Abs(float64(a[i]))) {
			t.Fatalf("w[%d]: CPU %v, CUDA %v", i, a[i], b[i])
		}
	}
}
