package optim

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// Scaling the loss by powers of two changes no number when nothing overflows: the parameters,
// logged losses and gradient norms of steps with a scaler (which doubles its scale every other
// step here) equal those without, bit for bit, with several micro-batches.
func TestLossScalerChangesNoNumber(t *testing.T) {
	const micro = 3
	ref, got, refOpt, gotOpt := twinFixtures(t, micro)
	sc := &LossScaler{Scale: 1024, GrowthInterval: 2}
	refStep, gotStep := Step{Optimizer: refOpt, GradClip: 0.05}, Step{Optimizer: gotOpt, GradClip: 0.05, Scaler: sc}
	for s := 0; s < 6; s++ {
		want, err := refStep.Run(ref.params(), 1e-2, micro, func(i int) (*torch.Tensor, error) { return ref.loss(i), nil })
		if err != nil {
			t.Fatal(err)
		}
		res, err := gotStep.Run(got.params(), 1e-2, micro, func(i int) (*torch.Tensor, error) { return got.loss(i), nil })
		if err != nil {
			t.Fatal(err)
		}
		wl, wn, _ := want.Read()
		gl, gn, _ := res.Read()
		if gl != wl || gn != wn || res.Skipped || res.LossScale != 1024*math.Pow(2, float64(s/2)) {
			t.Fatalf("step %d: loss %v, norm %v, skipped %v, scale %v; want %v, %v, not skipped, %v", s, gl, gn, res.Skipped, res.LossScale, wl, wn, 1024*math.Pow(2, float64(s/2)))
		}
		want.Close()
		res.Close()
	}
	if !slices.Equal(got.w.Float32s(), ref.w.Float32s()) || !slices.Equal(got.b.Float32s(), ref.b.Float32s()) {
		t.Fatal("parameters differ from the unscaled steps'")
	}
}

// A scale so large that the scaled gradients overflow skips the step (nothing moves, the
// gradients are dropped) and halves the scale until the gradients fit; then steps apply.
func TestLossScalerSkipsOverflow(t *testing.T) {
	f := newStepFixture(t, 1)
	opt := NewAdamW(testAdamW)
	defer opt.Close()
	sc := &LossScaler{Scale: math.Ldexp(1, 127), GrowthInterval: 1000}
	step := Step{Optimizer: opt, GradClip: 1, Scaler: sc}
	before := f.w.Float32s()
	skipped := 0
	for i := 0; i < 20; i++ {
		// A loss of about 1e4: scaled by 2^127 it is beyond float32; some halvings later it fits.
		res, err := step.Run(f.params(), 1e-2, 1, func(int) (*torch.Tensor, error) { return f.loss(0).MulScalar(1e4), nil })
		if err != nil {
			t.Fatal(err)
		}
		loss, _, _ := res.Read()
		res.Close()
		if !res.Skipped {
			break
		}
		skipped++
		if !slices.Equal(f.w.Float32s(), before) || f.w.Grad() != nil {
			t.Fatalf("skipped step %d moved the weights or kept gradients", i)
		}
		if math.IsInf(loss, 0) || math.IsNaN(loss) {
			t.Fatalf("skipped step %d logged the scaled loss %v", i, loss)
		}
		if want := math.Ldexp(1, 126-i); sc.Scale != want {
			t.Fatalf("after skipped step %d: scale %v, want %v", i, sc.Scale, want)
		}
	}
	if skipped == 0 || skipped == 20 || slices.Equal(f.w.Float32s(), before) {
		t.Fatalf("%d steps skipped of 20 and then the weights moved: %v", skipped, !slices.Equal(f.w.Float32s(), before))
	}
	t.Logf("%d steps skipped, scale now 2^%d", skipped, int(math.Log2(sc.Scale)))
}

// Gradients that are not finite at any scale (a finite loss whose gradient is NaN) are a
// divergence once the scale reaches MinLossScale: a *NonFiniteError, nothing updated.
func TestLossScalerGivesUpAtTheMinimum(t *testing.T) {
	f := newStepFixture(t, 1)
	opt := NewAdamW(testAdamW)
	defer opt.Close()
	step := Step{Optimizer: opt, Scaler: &LossScaler{Scale: 2 * MinLossScale, GrowthInterval: 10}}
	before := f.w.Float32s()
	bad := func(int) (*torch.Tensor, error) { // sqrt at 0: d/dw = inf x 0 = NaN, the loss is 0
		return f.w.Sub(f.w.Detach()).Abs().Sqrt().Sum(false), nil
	}
	res, err := step.Run(f.params(), 1e-2, 1, bad)
	if err != nil || !res.Skipped {
		t.Fatalf("first step: skipped %v, %v; want a skipped step", res.Skipped, err)
	}
	res.Close()
	if _, err := step.Run(f.params(), 1e-2, 1, bad); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("at the minimum scale: %v, want ErrNonFinite", err)
	}
	if !slices.Equal(f.w.Float32s(), before) {
		t.Fatal("the weights moved")
	}
}

func TestLossScalerState(t *testing.T) {
	for _, tc := range []struct {
		scale float64
		good  int
		ok    bool
	}{
		{65536, 0, true}, {1, 1999, true}, {MinLossScale, 5, true},
		{3, 0, false}, {0, 0, false}, {-2, 0, false}, {math.Inf(1), 0, false}, {math.NaN(), 0, false},
		{MinLossScale / 2, 0, false}, {65536, -1, false}, {65536, 2000, false},
	} {
		s := NewLossScaler()
		err := s.SetState(tc.scale, tc.good)
		if (err == nil) != tc.ok {
			t.Errorf("SetState(%v, %d): %v, want ok %v", tc.scale, tc.good, err, tc.ok)
		}
		if scale, good := s.State(); tc.ok && (scale != tc.scale || good != tc.good) {
			t.Errorf("State() = %v, %d after SetState(%v, %d)", scale, good, tc.scale, tc.good)
		}
	}
}
