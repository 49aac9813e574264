package optim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// stepFixture is a tiny regression problem: two parameters and micro-batches of data.
type stepFixture struct {
	w, b   *torch.Tensor
	xs, ys []*torch.Tensor
}

func newStepFixture(t *testing.T, micro int) *stepFixture {
	t.Helper()
	gen := torch.NewGenerator(7, torch.CPU)
	defer gen.Close()
	f := &stepFixture{
		w: torch.Randn([]int64{3, 5}, torch.WithGenerator(gen)).SetRequiresGrad(true),
		b: torch.Randn([]int64{3}, torch.WithGenerator(gen)).SetRequiresGrad(true),
	}
	for i := 0; i < micro; i++ {
		f.xs = append(f.xs, torch.Randn([]int64{8, 5}, torch.WithGenerator(gen)))
		f.ys = append(f.ys, torch.Randn([]int64{8, 3}, torch.WithGenerator(gen)))
	}
	t.Cleanup(func() {
		torch.Close(f.w, f.b)
		torch.Close(f.xs...)
		torch.Close(f.ys...)
	})
	return f
}

// twinFixtures returns two identical fixtures and a fresh AdamW for each, closed when t ends:
// a reference and the run compared with it.
func twinFixtures(t *testing.T, micro int) (ref, got *stepFixture, refOpt, gotOpt *AdamW) {
	t.Helper()
	ref, got = newStepFixture(t, micro), newStepFixture(t, micro)
	refOpt, gotOpt = NewAdamW(testAdamW), NewAdamW(testAdamW)
	t.Cleanup(func() { refOpt.Close(); gotOpt.Close() })
	return ref, got, refOpt, gotOpt
}

func (f *stepFixture) params() []Param {
	return []Param{NewParam("w", f.w), NewParam("b", f.b)}
}

func (f *stepFixture) loss(i int) *torch.Tensor {
	return torch.Linear(f.xs[i], f.w, f.b).Sub(f.ys[i]).Square().Mean(false)
}

var testAdamW = torch.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}

// Step does exactly what a hand-written loop (the trainer's before Step existed) does: same
// parameters bit for bit, same logged loss and gradient norm, with one and with several
// micro-batches.
func TestStepMatchesHandWrittenLoop(t *testing.T) {
	for _, micro := range []int{1, 3} {
		for _, clip := range []float64{0, 0.05} {
			ref, got := newStepFixture(t, micro), newStepFixture(t, micro)
			refOpt, gotOpt := NewAdamW(testAdamW), NewAdamW(testAdamW)
			step := Step{Optimizer: gotOpt, GradClip: clip}
			for s := 0; s < 5; s++ {
				lr := 1e-2 * float64(s+1)
				// The hand-written loop.
				var wantLoss float64
				for i := 0; i < micro; i++ {
					torch.WithScope(func(*torch.Scope) {
						l := ref.loss(i)
						l.DivScalar(float64(micro)).Backward()
						wantLoss += l.Item() / float64(micro)
					})
				}
				wantNorm := torch.ClipGradNorm(Tensors(ref.params()), clip)
				if err := refOpt.Update(ref.params(), lr); err != nil {
					t.Fatal(err)
				}
				if err := ZeroGrad(ref.params()); err != nil {
					t.Fatal(err)
				}
				// Step.
				res, err := step.Run(got.params(), lr, micro, func(i int) (*torch.Tensor, error) { return got.loss(i), nil })
				if err != nil {
					t.Fatal(err)
				}
				loss, norm, err := res.Read()
				res.Close()
				if err != nil {
					t.Fatal(err)
				}
				if loss != wantLoss || norm != wantNorm {
					t.Fatalf("micro %d clip %g step %d: loss %v norm %v, want %v %v", micro, clip, s, loss, norm, wantLoss, wantNorm)
				}
				if got.w.Grad() != nil || got.b.Grad() != nil {
					t.Fatal("gradients left after the step")
				}
			}
			if !slices.Equal(got.w.Float32s(), ref.w.Float32s()) || !slices.Equal(got.b.Float32s(), ref.b.Float32s()) {
				t.Fatalf("micro %d clip %g: parameters differ from the hand-written loop", micro, clip)
			}
			refOpt.Close()
			gotOpt.Close()
		}
	}
}

// The reduction hook runs once per step, after every backward pass (it sees the accumulated
// gradients) and before clipping (what it does to them is what gets clipped and applied).
func TestStepReduceHook(t *testing.T) {
	plain, hooked := newStepFixture(t, 2), newStepFixture(t, 2)
	optA, optB := NewAdamW(testAdamW), NewAdamW(testAdamW)
	defer optA.Close()
	defer optB.Close()
	calls := 0
	hook := func(params []Param) error {
		calls++
		if len(params) != 2 {
			t.Errorf("hook got %d parameters", len(params))
		}
		for _, p := range params {
			g := p.Tensor.Grad()
			if g == nil {
				t.Fatalf("%s has no gradient in the hook", p.Name)
			}
			torch.NoGrad(func() { g.MulScalarInPlace(2) }) // as an all-reduce of two equal ranks' sums
			g.Close()
		}
		return nil
	}
	a := Step{Optimizer: optA, GradClip: 1e9}
	b := Step{Optimizer: optB, GradClip: 1e9, Reduce: hook}
	ra, err := a.Run(plain.params(), 1e-2, 2, func(i int) (*torch.Tensor, error) { return plain.loss(i), nil })
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Run(hooked.params(), 1e-2, 2, func(i int) (*torch.Tensor, error) { return hooked.loss(i), nil })
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	defer rb.Close()
	_, na, _ := ra.Read()
	_, nb, _ := rb.Read()
	if calls != 1 {
		t.Fatalf("hook called %d times, want 1", calls)
	}
	if math.Abs(nb-2*na) > 1e-6*na {
		t.Fatalf("norm after the hook %v, want twice %v", nb, na)
	}
}

// Failures come back as errors that wrap the cause, and leave no gradient behind.
func TestStepErrors(t *testing.T) {
	f := newStepFixture(t, 2)
	opt := NewAdamW(testAdamW)
	defer opt.Close()
	s := Step{Optimizer: opt}
	boom := errors.New("boom")
	before := f.w.Float32s()
	cases := []struct {
		name  string
		micro int
		step  Step
		loss  func(i int) (*torch.Tensor, error)
		is    error
	}{
		{"no micro-batches", 0, s, func(int) (*torch.Tensor, error) { return f.loss(0), nil }, ErrNoMicroBatches},
		{"loss error in the second micro-batch", 2, s, func(i int) (*torch.Tensor, error) {
			if i == 1 {
				return nil, boom
			}
			return f.loss(i), nil
		}, boom},
		{"non-scalar loss", 1, s, func(int) (*torch.Tensor, error) { return torch.Linear(f.xs[0], f.w, f.b), nil }, nil},
		{"reduction fails", 1, Step{Optimizer: opt, Reduce: func([]Param) error { return boom }},
			func(int) (*torch.Tensor, error) { return f.loss(0), nil }, boom},
		{"torch error inside the loss", 1, s, func(int) (*torch.Tensor, error) { return f.w.Matmul(f.w), nil }, torch.ErrTorch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.step.Run(f.params(), 1e-2, tc.micro, tc.loss)
			if err == nil {
				res.Close()
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v does not wrap %v", err, tc.is)
			}
			if res.Loss != nil || res.GradNorm != nil {
				t.Fatal("a failed step returned tensors")
			}
			if f.w.Grad() != nil || f.b.Grad() != nil {
				t.Fatal("a failed step left gradients")
			}
		})
	}
	if !slices.Equal(f.w.Float32s(), before) {
		t.Fatal("a failed step changed the parameters")
	}
}

// RunLosses with a backward pass in two parts (the loss reaches a detached leaf, Finish carries
// the leaf's gradient on into the parameters, as activation checkpointing does) gives the
// parameters of Run with the whole loss, bit for bit, micro-batch scaling included; a failing
// Finish fails the step and changes nothing.
func TestStepRunLossesFinish(t *testing.T) {
	const micro = 3
	ref, got, refOpt, gotOpt := twinFixtures(t, micro)
	refStep, gotStep := Step{Optimizer: refOpt, GradClip: 0.05}, Step{Optimizer: gotOpt, GradClip: 0.05}
	split := func(i int) (Loss, error) {
		y := torch.Linear(got.xs[i], got.w, got.b)
		leaf := y.Detach().SetRequiresGrad(true)
		return Loss{Value: leaf.Sub(got.ys[i]).Square().Mean(false), Finish: func() error {
			y.BackwardWith(leaf.Grad(), false)
			return nil
		}}, nil
	}
	for s := 0; s < 4; s++ {
		want, err := refStep.Run(ref.params(), 1e-2, micro, func(i int) (*torch.Tensor, error) { return ref.loss(i), nil })
		if err != nil {
			t.Fatal(err)
		}
		res, err := gotStep.RunLosses(got.params(), 1e-2, micro, split)
		if err != nil {
			t.Fatal(err)
		}
		wl, wn, _ := want.Read()
		gl, gn, _ := res.Read()
		if gl != wl || gn != wn {
			t.Fatalf("step %d: loss %v, norm %v; want %v, %v", s, gl, gn, wl, wn)
		}
		want.Close()
		res.Close()
	}
	if !slices.Equal(got.w.Float32s(), ref.w.Float32s()) || !slices.Equal(got.b.Float32s(), ref.b.Float32s()) {
		t.Fatal("parameters differ from Run's")
	}
	boom := errors.New("boom")
	before := got.w.Float32s()
	_, err := gotStep.RunLosses(got.params(), 1e-2, micro, func(i int) (Loss, error) {
		l, _ := split(i)
		l.Finish = func() error { return boom }
		return l, nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "micro-batch 0: backward pass") {
		t.Fatalf("failing Finish: %v, want the micro-batch's backward pass error", err)
	}
	if !slices.Equal(got.w.Float32s(), before) || got.w.Grad() != nil && got.w.Grad().Abs().Sum(false).Item() != 0 {
		t.Fatal("a step whose Finish failed changed the parameters or left gradients")
	}
	if _, err := gotStep.RunLosses(got.params(), 1e-2, 1, func(int) (Loss, error) { return Loss{}, nil }); err == nil || !strings.Contains(err.Error(), "no loss") {
		t.Fatalf("a nil loss: %v", err)
	}
}

// A loop of steps leaks nothing: the live tensors are the parameters, the data and the
// optimizer state.
func TestStepLeaksNothing(t *testing.T) {
	f := newStepFixture(t, 2)
	opt := NewAdamW(testAdamW)
	defer opt.Close()
	s := Step{Optimizer: opt, GradClip: 1}
	run := func() {
		res, err := s.Run(f.params(), 1e-2, 2, func(i int) (*torch.Tensor, error) { return f.loss(i), nil })
		if err != nil {
			t.Fatal(err)
		}
		res.Close()
	}
	run() // allocates the optimizer state
	live := torch.LiveTensors()
	for i := 0; i < 20; i++ {
		run()
	}
	if got := torch.LiveTensors(); got != live {
		t.Fatalf("live tensors %d after 20 steps, %d before", got, live)
	}
}

// With CheckFinite, a step whose loss or gradient norm is NaN or infinite is refused before the
// update: an error that errors.Is ErrNonFinite and carries both numbers, the parameters and the
// optimizer state untouched, no gradient left; the next finite step is exactly the one a fresh
// run would take. Without it (the default) such a step is applied, as before.
func TestStepCheckFinite(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		name     string
		loss     func(f *stepFixture) *torch.Tensor
		nanLoss  bool // the reported loss is not finite
		nanNorm  bool // the reported gradient norm is not finite
		lossWant float64
	}{
		{"NaN loss", func(f *stepFixture) *torch.Tensor { return f.loss(0).MulScalar(nan) }, true, true, nan},
		{"infinite loss", func(f *stepFixture) *torch.Tensor { return f.loss(0).MulScalar(inf) }, true, true, inf},
		// sqrt'(0) is infinite (times 0: NaN): a finite loss (1 + 0) with a non-finite gradient.
		{"non-finite gradient", func(f *stepFixture) *torch.Tensor {
			return f.loss(0).MulScalar(0).AddScalar(1).Add(f.w.MulScalar(0).Sum(false).Sqrt())
		}, false, true, 1},
	}
	for _, tc := range cases {
		for _, clip := range []float64{0, 1} {
			t.Run(fmt.Sprintf("%s clip %g", tc.name, clip), func(t *testing.T) {
				f, fresh := newStepFixture(t, 1), newStepFixture(t, 1)
				opt, freshOpt := NewAdamW(testAdamW), NewAdamW(testAdamW)
				defer opt.Close()
				defer freshOpt.Close()
				s := Step{Optimizer: opt, GradClip: clip, CheckFinite: true}
				w, b := f.w.Float32s(), f.b.Float32s()
				res, err := s.Run(f.params(), 1e-2, 1, func(int) (*torch.Tensor, error) { return tc.loss(f), nil })
				if err == nil {
					res.Close()
					t.Fatal("a non-finite step was applied")
				}
				if !errors.Is(err, ErrNonFinite) {
					t.Fatalf("error %v does not wrap ErrNonFinite", err)
				}
				var nf *NonFiniteError
				if !errors.As(err, &nf) {
					t.Fatalf("error %v is no *NonFiniteError", err)
				}
				finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
				if finite(nf.Loss) == tc.nanLoss || finite(nf.GradNorm) == tc.nanNorm {
					t.Fatalf("reported loss %v, gradient norm %v", nf.Loss, nf.GradNorm)
				}
				if !tc.nanLoss && nf.Loss != tc.lossWant {
					t.Fatalf("reported loss %v, want %v", nf.Loss, tc.lossWant)
				}
				if !slices.Equal(f.w.Float32s(), w) || !slices.Equal(f.b.Float32s(), b) {
					t.Fatal("the refused step changed the parameters")
				}
				if f.w.Grad() != nil || f.b.Grad() != nil {
					t.Fatal("the refused step left gradients")
				}
				// The optimizer state was not advanced: the next step equals a fresh run's first.
				good := Step{Optimizer: freshOpt, GradClip: clip}
				for _, st := range []struct {
					s  Step
					fx *stepFixture
				}{{s, f}, {good, fresh}} {
					r, err := st.s.Run(st.fx.params(), 1e-2, 1, func(int) (*torch.Tensor, error) { return st.fx.loss(0), nil })
					if err != nil {
						t.Fatal(err)
					}
					r.Close()
				}
				if !slices.Equal(f.w.Float32s(), fresh.w.Float32s()) {
					t.Fatal("after a refused step, the next step differs from a fresh run's first")
				}
			})
		}
	}
	// The default applies whatever it computed (numerics unchanged by the option's existence).
	f := newStepFixture(t, 1)
	opt := NewAdamW(testAdamW)
	defer opt.Close()
	s := Step{Optimizer: opt}
	res, err := s.Run(f.params(), 1e-2, 1, func(int) (*torch.Tensor, error) { return f.loss(0).MulScalar(nan), nil })
	if err != nil {
		t.Fatalf("default step: %v", err)
	}
	res.Close()
	if w := f.w.Float32s(); !math.IsNaN(float64(w[0])) {
		t.Fatal("the default step did not apply the NaN update")
	}
}

// CheckFinite changes nothing for finite steps: same parameters, loss and norm bit for bit.
func TestStepCheckFiniteSameNumerics(t *testing.T) {
	for _, clip := range []float64{0, 0.05} {
		a, b := newStepFixture(t, 2), newStepFixture(t, 2)
		oa, ob := NewAdamW(testAdamW), NewAdamW(testAdamW)
		sa, sb := Step{Optimizer: oa, GradClip: clip}, Step{Optimizer: ob, GradClip: clip, CheckFinite: true}
		for s := 0; s < 4; s++ {
			ra, err := sa.Run(a.params(), 1e-2, 2, func(i int) (*torch.Tensor, error) { return a.loss(i), nil })
			if err != nil {
				t.Fatal(err)
			}
			rb, err := sb.Run(b.params(), 1e-2, 2, func(i int) (*torch.Tensor, error) { return b.loss(i), nil })
			if err != nil {
				t.Fatal(err)
			}
			la, na, _ := ra.Read()
			lb, nb, _ := rb.Read()
			ra.Close()
			rb.Close()
			if la != lb || na != nb {
				t.Fatalf("step %d: loss %v/%v, norm %v/%v", s, la, lb, na, nb)
			}
		}
		if !slices.Equal(a.w.Float32s(), b.w.Float32s()) || !slices.Equal(a.b.Float32s(), b.b.Float32s()) {
			t.Fatal("CheckFinite changed the parameters of finite steps")
		}
		oa.Close()
		ob.Close()
	}
}
