package torch_test

import (
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// Under Autocast a matrix product of float32 tensors computes in bfloat16, the gradient of a
// float32 leaf stays float32, regions nest and restore, and outside them nothing changes.
func TestAutocast(t *testing.T) {
	torch.WithScope(func(s *torch.Scope) {
		x := torch.Randn([]int64{4, 8})
		w := torch.Randn([]int64{3, 8}, torch.RequiresGrad())
		if _, on := torch.AutocastDType(torch.CPU); on {
			t.Fatal("autocast on before any region")
		}
		var inner, outer torch.DType
		torch.Autocast(torch.CPU, torch.BFloat16, func() {
			y := torch.Linear(x, w, nil)
			outer = y.DType()
			torch.Autocast(torch.CPU, torch.BFloat16, func() {
				inner = torch.Linear(x, w, nil).DType()
			})
			if dt, on := torch.AutocastDType(torch.CPU); !on || dt != torch.BFloat16 {
				t.Errorf("after the inner region: %v %v, want bfloat16 on", dt, on)
			}
			y.To(torch.Float32).Sum(false).Backward()
		})
		if outer != torch.BFloat16 || inner != torch.BFloat16 {
			t.Fatalf("products computed in %v (outer) and %v (inner)", outer, inner)
		}
		if g := w.Grad(); g == nil || g.DType() != torch.Float32 {
			t.Fatalf("gradient of the float32 weight: %v", g)
		}
		if torch.Linear(x, w, nil).DType() != torch.Float32 {
			t.Fatal("a product outside the region is not float32")
		}
		if _, on := torch.AutocastDType(torch.CPU); on {
			t.Fatal("autocast still on after the region")
		}
	})
	// float16 too (in a region of its own: libtorch caches a weight's cast per region, whatever
	// the dtype, so regions of different dtypes must not nest).
	torch.WithScope(func(s *torch.Scope) {
		var dt torch.DType
		torch.Autocast(torch.CPU, torch.Float16, func() {
			dt = torch.Linear(torch.Randn([]int64{2, 4}), torch.Randn([]int64{3, 4}), nil).DType()
		})
		if dt != torch.Float16 {
			t.Fatalf("float16 region computed in %v", dt)
		}
	})
	// Only lower-precision floating types are compute dtypes.
	if err := torch.Try(func() { torch.Autocast(torch.CPU, torch.Int64, func() {}) }); err == nil {
		t.Fatal("int64 accepted as an autocast dtype")
	}
}
