package torch_test

import (
	"slices"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

func TestGeneratorsAreReproducible(t *testing.T) {
	draw := func(g *torch.Generator) []float32 {
		var out []float32
		torch.WithScope(func(s *torch.Scope) {
			out = append(out, torch.Randn([]int64{5}, torch.WithGenerator(g)).Float32s()...)
			out = append(out, torch.Rand([]int64{3}, torch.WithGenerator(g)).Float32s()...)
			for _, v := range torch.Randint(0, 1000, []int64{4}, torch.WithGenerator(g)).Int64s() {
				out = append(out, float32(v))
			}
		})
		return out
	}
	g1, g2 := torch.NewGenerator(42, torch.CPU), torch.NewGenerator(42, torch.CPU)
	defer g1.Close()
	defer g2.Close()
	a, b := draw(g1), draw(g2)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different draws:\n%v\n%v", a, b)
	}
	// Saving the state and restoring it replays the same numbers (what a resumed run needs).
	state := g1.State()
	defer state.Close()
	next := draw(g1)
	g1.SetState(state)
	if again := draw(g1); !slices.Equal(next, again) {
		t.Fatalf("restored state drew %v, want %v", again, next)
	}
	g3 := torch.NewGenerator(43, torch.CPU)
	defer g3.Close()
	if c := draw(g3); slices.Equal(a, c) {
		t.Fatal("different seeds drew the same numbers")
	}
	// ManualSeed makes the default generator reproducible too.
	torch.ManualSeed(7)
	x := torch.Randn([]int64{4})
	torch.ManualSeed(7)
	y := torch.Randn([]int64{4})
	defer torch.Close(x, y)
	if !slices.Equal(x.Float32s(), y.Float32s()) {
		t.Fatal("ManualSeed did not reproduce the default generator")
	}
}

func TestMultinomialWithGenerator(t *testing.T) {
	g := torch.NewGenerator(1, torch.CPU)
	defer g.Close()
	w := torch.FromSlice([]float32{0, 0, 1, 0})
	defer w.Close()
	s := w.Multinomial(3, true, g)
	defer s.Close()
	if got := s.Int64s(); !slices.Equal(got, []int64{2, 2, 2}) {
		t.Fatalf("multinomial on a one-hot weight drew %v", got)
	}
}
