package torch_test

import (
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

func TestAutogradBasics(t *testing.T) {
	x := torch.FromSlice([]float32{1, 2, 3}).SetRequiresGrad(true)
	defer x.Close()
	if !x.RequiresGrad() || !x.IsLeaf() {
		t.Fatal("x should be a leaf requiring grad")
	}
	if g := x.Grad(); g != nil {
		t.Fatalf("fresh leaf has a gradient %v", g)
	}
	torch.WithScope(func(s *torch.Scope) {
		y := x.Square().Sum(false) // dy/dx = 2x
		if y.IsLeaf() || !y.RequiresGrad() {
			t.Error("y should be a non-leaf requiring grad")
		}
		y.BackwardWith(nil, true)
		y.Backward() // the graph was retained: gradients accumulate to 4x
		assertClose(t, "accumulated grad", x.Grad().Float32s(), []float32{4, 8, 12})
		x.ZeroGrad()
		assertClose(t, "zeroed grad", x.Grad().Float32s(), []float32{0, 0, 0})
	})
	x.SetGradNone()
	if g := x.Grad(); g != nil {
		t.Fatal("SetGradNone left a gradient")
	}
	// Detach cuts the graph.
	torch.WithScope(func(s *torch.Scope) {
		d := x.MulScalar(3).Detach()
		if d.RequiresGrad() {
			t.Error("detached tensor requires grad")
		}
	})
}

func TestNoGradIsPerGoroutineAndRestored(t *testing.T) {
	x := torch.Ones([]int64{2}).SetRequiresGrad(true)
	defer x.Close()
	torch.NoGrad(func() {
		if torch.GradEnabled() {
			t.Error("grad enabled inside NoGrad")
		}
		y := x.MulScalar(2)
		defer y.Close()
		if y.RequiresGrad() {
			t.Error("op inside NoGrad recorded a graph")
		}
		// Another goroutine is on another thread: its grad mode is untouched.
		ch := make(chan bool)
		go func() {
			z := x.MulScalar(2)
			defer z.Close()
			ch <- z.RequiresGrad()
		}()
		if !<-ch {
			t.Error("NoGrad leaked into another goroutine")
		}
		// In-place update of a leaf that requires grad is allowed here.
		x.AddScalarInPlace(1)
	})
	y := x.MulScalar(2)
	defer y.Close()
	if !y.RequiresGrad() {
		t.Error("grad mode not restored after NoGrad")
	}
	if err := torch.Try(func() { x.AddScalarInPlace(1) }); err == nil {
		t.Error("in-place update of a leaf requiring grad outside NoGrad should fail")
	}
}

func assertClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		d := got[i] - want[i]
		if d < -1e-5 || d > 1e-5 {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}
