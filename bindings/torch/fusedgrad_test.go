package torch_test

import (
	"slices"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// With gradients recorded, Rotary and SwiGLU run as autograd functions of their own (a fused
// forward where the CPU backend has one, a written-out backward, SwiGLU keeping two tensors
// instead of three). Their values and gradients are bit for bit those autograd gets from the
// composite formulas written with plain ops, with the fused kernels on and off.
func TestRotaryAndSwiGLUGradientsMatchComposite(t *testing.T) {
	defer torch.SetFusedKernels(torch.FusedKernels())
	for _, fused := range []bool{true, false} {
		torch.SetFusedKernels(fused)
		grads := func(composite bool) (y, dx, dup []float32) {
			torch.WithScope(func(s *torch.Scope) {
				gen := torch.NewGenerator(9, torch.CPU)
				defer gen.Close()
				// q as the model makes it: [B, T, H, D] viewed as [B, H, T, D].
				x := torch.Randn([]int64{2, 5, 3, 8}, torch.WithGenerator(gen)).Transpose(1, 2).Detach().SetRequiresGrad(true)
				freqs := torch.Randn([]int64{5, 4}, torch.WithGenerator(gen))
				emb := torch.Cat([]*torch.Tensor{freqs, freqs}, 1)
				cos, sin := emb.Cos().Contiguous(), emb.Sin().Contiguous()
				gate := torch.Randn([]int64{2, 5, 12}, torch.WithGenerator(gen)).SetRequiresGrad(true)
				up := torch.Randn([]int64{2, 5, 12}, torch.WithGenerator(gen)).SetRequiresGrad(true)
				var r, sw *torch.Tensor
				if composite {
					rot := torch.Cat([]*torch.Tensor{x.Slice(-1, 4, 8, 1).Neg(), x.Slice(-1, 0, 4, 1)}, -1)
					r = x.Mul(cos).Add(rot.Mul(sin))
					sw = gate.Silu().Mul(up)
				} else {
					r, sw = torch.Rotary(x, cos, sin), torch.SwiGLU(gate, up)
				}
				// Arbitrary incoming gradients, so the backward formulas are exercised fully.
				r.Mul(r.Sin()).Sum(false).Add(sw.Mul(sw.Cos()).Sum(false)).Backward()
				y = append(r.Contiguous().Float32s(), sw.Float32s()...)
				dx = append(x.Grad().Contiguous().Float32s(), gate.Grad().Float32s()...)
				dup = up.Grad().Float32s()
			})
			return
		}
		ya, dxa, dua := grads(true)
		yb, dxb, dub := grads(false)
		if !slices.Equal(ya, yb) || !slices.Equal(dxa, dxb) || !slices.Equal(dua, dub) {
			t.Fatalf("fused kernels %v: values equal %v, dx/dgate equal %v, dup equal %v", fused,
				slices.Equal(ya, yb), slices.Equal(dxa, dxb), slices.Equal(dua, dub))
		}
	}
}
