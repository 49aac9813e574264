package optim

import (
	"slices"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// A frozen parameter (no gradient) is bitwise unchanged and never gets optimizer state; the
// state of a trained one persists and keeps counting across calls.
func TestAdamWSkipsFrozenAndKeepsState(t *testing.T) {
	torch.ManualSeed(3)
	a := torch.Randn([]int64{4, 4}, torch.RequiresGrad())
	b := torch.Randn([]int64{4}, torch.RequiresGrad())
	defer torch.Close(a, b)
	params := []Param{{Name: "a", Tensor: a}, {Name: "b", Tensor: b}}
	frozen := b.Float32s()
	opt := NewAdamW(torch.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	defer opt.Close()
	for step := 0; step < 3; step++ {
		torch.WithScope(func(s *torch.Scope) {
			a.Square().Sum(false).Backward() // only a gets a gradient
		})
		if err := opt.Update(params, 1e-2); err != nil {
			t.Fatal(err)
		}
		if err := ZeroGrad(params); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(b.Float32s(), frozen) {
		t.Fatal("frozen parameter changed")
	}
	if opt.HasState("b") || !opt.HasState("a") || opt.StateSize() != 1 {
		t.Fatalf("state: a=%v b=%v size=%d", opt.HasState("a"), opt.HasState("b"), opt.StateSize())
	}
	if n, err := opt.StepCount("a"); err != nil || n != 3 {
		t.Fatalf("step count of a = %d (%v), want 3", n, err)
	}
}
