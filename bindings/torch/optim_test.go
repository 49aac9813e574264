package torch_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// AdamWStep and ClipGradNorm against torch.optim.AdamW and torch.nn.utils.clip_grad_norm_.
// Gradients are fixed arrays generated in Go; a parameter's gradient is set to exactly g by
// calling Backward on sum(p * g) after SetGradNone.

var adamwCfg = torch.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}

const adamwSteps = 5

// adamwData returns the initial parameters, the gradient of every parameter at every step, and
// the (step, parameter) pairs that have no gradient (SetGradNone: AdamW must skip them).
func adamwData() (params []refArray, grads [][]refArray, none [][2]int) {
	r := seededRNG(11)
	shapes := [][]int64{{4, 3}, {5}, {2, 2, 2}}
	for _, s := range shapes {
		params = append(params, randArray(r, "float32", -1, 1, s...))
	}
	for range adamwSteps {
		var step []refArray
		for _, s := range shapes {
			step = append(step, randArray(r, "float32", -0.5, 0.5, s...))
		}
		grads = append(grads, step)
	}
	return params, grads, [][2]int{{0, 2}, {2, 1}}
}

type clipCase struct {
	name    string
	maxNorm float64
}

// clipData returns the parameters, which of them have a gradient, the gradients (of those that
// have one) and the cases; the gradients' joint norm is computed here in float64.
func clipData(dtype string) (params []refArray, has []bool, grads []refArray, cases []clipCase) {
	r := seededRNG(13)
	shapes := [][]int64{{4, 3}, {5}, {2, 2, 2}, {3}}
	has = []bool{true, true, false, true}
	sq := 0.0
	for i, s := range shapes {
		params = append(params, randArray(r, dtype, -1, 1, s...))
		if has[i] {
			g := randArray(r, dtype, -2, 2, s...)
			for _, v := range g.Data {
				sq += v * v
			}
			grads = append(grads, g)
		}
	}
	n := math.Sqrt(sq)
	cases = []clipCase{
		{"clip-half", 0.5 * n},
		{"clip-to-1", 1},
		{"no-change-above-norm", 10 * n},
		{"report-only-zero", 0},
		{"report-only-negative", -1},
	}
	return params, has, grads, cases
}

func optimRefCases() []refCase {
	params, grads, none := adamwData()
	inputs := slices.Clone(params)
	for _, step := range grads {
		inputs = append(inputs, step...)
	}
	noneList := make([][]int, len(none))
	for i, n := range none {
		noneList[i] = []int{n[0], n[1]}
	}
	var out []refCase
	for _, impl := range []string{"fused", "single"} {
		out = append(out, refCase{Name: "optim/adamw-" + impl, Op: "adamw", Inputs: inputs, Params: map[string]any{
			"nparams": len(params), "steps": adamwSteps, "lr": adamwCfg.LR, "beta1": adamwCfg.Beta1,
			"beta2": adamwCfg.Beta2, "eps": adamwCfg.Eps, "wd": adamwCfg.WeightDecay, "impl": impl, "none": noneList,
		}})
	}
	for _, dtype := range []string{"float32", "float64"} {
		params, has, grads, cases := clipData(dtype)
		for _, c := range cases {
			out = append(out, refCase{Name: "optim/" + dtype + "/" + c.name, Op: "clip",
				Inputs: slices.Concat(params, grads),
				Params: map[string]any{"nparams": len(params), "has_grad": has, "max_norm": c.maxNorm}})
		}
	}
	return out
}

// setGrad gives p the gradient g exactly (p must be a leaf requiring grad).
func setExactGrad(p *torch.Tensor, g refArray) {
	p.SetGradNone()
	torch.WithScope(func(*torch.Scope) { p.Mul(g.tensor()).Sum(false).Backward() })
}

func tensorBits32(t *torch.Tensor) []uint32 {
	v := t.Float32s()
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}

func TestAdamWStepParity(t *testing.T) {
	params0, grads, none := adamwData()
	fused, single := refWant(t, "optim/adamw-fused"), refWant(t, "optim/adamw-single")
	n := len(params0)
	if len(fused) != adamwSteps*n+n || len(single) != len(fused) {
		t.Fatalf("reference returned %d and %d arrays", len(fused), len(single))
	}
	skipped := func(s, i int) bool { return slices.Contains(none, [2]int{s, i}) }
	worstFused, worstSingle := 0.0, 0.0
	chkScoped(t, func() {
		ps := make([]*torch.Tensor, n)
		m := make([]*torch.Tensor, n)
		v := make([]*torch.Tensor, n)
		steps := make([]*torch.Tensor, n)
		for i, p := range params0 {
			ps[i] = p.tensor().SetRequiresGrad(true)
			m[i], v[i] = ps[i].ZerosLike(), ps[i].ZerosLike()
			steps[i] = torch.Scalar(0)
		}
		count := make([]float64, n)
		for s := range adamwSteps {
			type frozen struct {
				p, m, v []uint32
				step    float64
			}
			saved := map[int]frozen{}
			for i := range ps {
				if skipped(s, i) {
					ps[i].SetGradNone()
					saved[i] = frozen{tensorBits32(ps[i]), tensorBits32(m[i]), tensorBits32(v[i]), steps[i].Item()}
				} else {
					setExactGrad(ps[i], grads[s][i])
					count[i]++
				}
			}
			torch.AdamWStep(ps, m, v, steps, adamwCfg)
			for i, p := range ps {
				what := fmt.Sprintf("step %d param %d", s+1, i)
				if f, ok := saved[i]; ok {
					if !slices.Equal(tensorBits32(p), f.p) || !slices.Equal(tensorBits32(m[i]), f.m) || !slices.Equal(tensorBits32(v[i]), f.v) {
						t.Errorf("%s: parameter without gradient was changed (or its moments)", what)
					}
					if got := steps[i].Item(); got != f.step {
						t.Errorf("%s: step counter of a skipped parameter went %v -> %v", what, f.step, got)
					}
				}
				if got := steps[i].Item(); got != count[i] {
					t.Errorf("%s: step counter %v, want %v", what, got, count[i])
				}
				if steps[i].DType() != torch.Float32 || steps[i].Dim() != 0 {
					t.Errorf("%s: step tensor became %v", what, steps[i])
				}
				got := p.Float64s()
				worstFused = max(worstFused, chkVals(t, what+" vs fused AdamW", got, fused[s*n+i].Data, 1e-6, 0))
				worstSingle = max(worstSingle, chkVals(t, what+" vs foreach=False AdamW", got, single[s*n+i].Data, 1e-6, 0))
			}
		}
		for i := range ps {
			if want := fused[adamwSteps*n+i].Data[0]; steps[i].Item() != want {
				t.Errorf("param %d: %v steps, torch.optim.AdamW counted %v", i, steps[i].Item(), want)
			}
		}
	})
	t.Logf("max |go - torch| over %d steps: fused=True %.3g, foreach=False %.3g (tolerance 1e-6)", adamwSteps, worstFused, worstSingle)
}

// One step worked out by hand: with m0 = v0 = 0 the bias-corrected moments are g and g^2, so
// p1 = p0*(1 - lr*wd) - lr*g/(|g| + eps); a zero gradient only decays the weight.
func TestAdamWFirstStepByHand(t *testing.T) {
	chkScoped(t, func() {
		p0 := []float64{1, -2, 0.5}
		g := []float32{0.1, -0.3, 0}
		p := tF32([]float32{1, -2, 0.5}).SetRequiresGrad(true)
		setExactGrad(p, refArray{DType: "float32", Shape: []int64{3}, Data: []float64{float64(g[0]), float64(g[1]), 0}})
		m, v, step := p.ZerosLike(), p.ZerosLike(), torch.Scalar(0)
		torch.AdamWStep([]*torch.Tensor{p}, []*torch.Tensor{m}, []*torch.Tensor{v}, []*torch.Tensor{step}, adamwCfg)
		want := make([]float64, 3)
		wantM := make([]float64, 3)
		wantV := make([]float64, 3)
		for i := range want {
			gi := float64(g[i])
			want[i] = p0[i] * (1 - adamwCfg.LR*adamwCfg.WeightDecay)
			if gi != 0 {
				want[i] -= adamwCfg.LR * gi / (math.Abs(gi) + adamwCfg.Eps)
			}
			wantM[i] = (1 - adamwCfg.Beta1) * gi
			wantV[i] = (1 - adamwCfg.Beta2) * gi * gi
		}
		chkVals(t, "p after one step", p.Float64s(), want, 3e-7, 0)
		chkVals(t, "exp_avg", m.Float64s(), wantM, 1e-8, 1e-6)
		chkVals(t, "exp_avg_sq", v.Float64s(), wantV, 1e-9, 1e-6)
		if step.Item() != 1 {
			t.Errorf("step counter %v, want 1", step.Item())
		}
		if !p.IsLeaf() || !p.RequiresGrad() {
			t.Error("the parameter is no longer a leaf requiring grad after AdamWStep")
		}
	})
}

func TestAdamWStepArguments(t *testing.T) {
	chkScoped(t, func() {
		p := tF32([]float32{1, 2}).SetRequiresGrad(true)
		q := tF32([]float32{3}).SetRequiresGrad(true)
		setExactGrad(p, refArray{DType: "float32", Shape: []int64{2}, Data: []float64{1, 1}})
		setExactGrad(q, refArray{DType: "float32", Shape: []int64{1}, Data: []float64{1}})
		ps := []*torch.Tensor{p, q}
		m := []*torch.Tensor{p.ZerosLike(), q.ZerosLike()}
		v := []*torch.Tensor{p.ZerosLike(), q.ZerosLike()}
		s := []*torch.Tensor{torch.Scalar(0), torch.Scalar(0)}
		for name, call := range map[string]func(){
			"short exp_avg":    func() { torch.AdamWStep(ps, m[:1], v, s, adamwCfg) },
			"short exp_avg_sq": func() { torch.AdamWStep(ps, m, v[:1], s, adamwCfg) },
			"short steps":      func() { torch.AdamWStep(ps, m, v, s[:1], adamwCfg) },
			"long steps":       func() { torch.AdamWStep(ps, m, v, append(slices.Clone(s), torch.Scalar(0)), adamwCfg) },
			"no params":        func() { torch.AdamWStep(nil, m, v, s, adamwCfg) },
		} {
			err := torch.Try(call)
			var te *torch.Error
			if !errors.As(err, &te) || te.Code != torch.CodeArgument || !errors.Is(err, torch.ErrArgument) {
				t.Errorf("%s: error %v, want a *torch.Error with CodeArgument", name, err)
				continue
			}
			if te.Op != "AdamWStep" {
				t.Errorf("%s: Op %q", name, te.Op)
			}
		}
		// Nothing was updated by the rejected calls.
		chkVals(t, "p after rejected calls", p.Float64s(), []float64{1, 2}, 0, 0)
		chkVals(t, "q after rejected calls", q.Float64s(), []float64{3}, 0, 0)
		if s[0].Item() != 0 || s[1].Item() != 0 {
			t.Error("a rejected call advanced a step counter")
		}
		// Empty lists are a no-op, and so is a list whose parameters have no gradient.
		if err := torch.Try(func() { torch.AdamWStep(nil, nil, nil, nil, adamwCfg) }); err != nil {
			t.Errorf("empty AdamWStep: %v", err)
		}
		p.SetGradNone()
		q.SetGradNone()
		torch.AdamWStep(ps, m, v, s, adamwCfg)
		chkVals(t, "p after a step without gradients", p.Float64s(), []float64{1, 2}, 0, 0)
		if s[0].Item() != 0 {
			t.Error("a step without gradients advanced the step counter")
		}
	})
}

func TestClipGradNormParity(t *testing.T) {
	worstNorm, worstGrad := 0.0, 0.0
	for _, dtype := range []string{"float32", "float64"} {
		params, has, grads, cases := clipData(dtype)
		for _, c := range cases {
			t.Run(dtype+"/"+c.name, func(t *testing.T) {
				want := refWant(t, "optim/"+dtype+"/"+c.name)
				if len(want) != 1+len(grads) {
					t.Fatalf("reference returned %d arrays", len(want))
				}
				chkScoped(t, func() {
					ps := make([]*torch.Tensor, len(params))
					k := 0
					var withGrad []*torch.Tensor
					for i, p := range params {
						ps[i] = p.tensor().SetRequiresGrad(true)
						if has[i] {
							setExactGrad(ps[i], grads[k])
							withGrad = append(withGrad, ps[i])
							k++
						}
					}
					norm := torch.ClipGradNorm(ps, c.maxNorm)
					wantNorm := want[0].Data[0]
					// The norm is accumulated in float32 (see TestClipGradNormFloat64Precision for
					// float64 gradients): 1e-6 relative on the norm, 1e-6 abs+rel on the gradients.
					const tol = 1e-6
					if d := math.Abs(norm - wantNorm); d > tol*wantNorm {
						t.Errorf("total norm %.10g, torch %.10g", norm, wantNorm)
					}
					worstNorm = max(worstNorm, math.Abs(norm-wantNorm)/wantNorm)
					clipped := c.maxNorm > 0 && c.maxNorm < wantNorm
					sq := 0.0
					for j, p := range withGrad {
						g := p.Grad()
						got := g.Float64s()
						worstGrad = max(worstGrad, chkVals(t, fmt.Sprintf("grad %d", j), got, want[1+j].Data, tol, tol))
						if !clipped && !slices.Equal(got, grads[j].Data) {
							t.Errorf("grad %d changed although no clipping applies (max norm %v, norm %v)", j, c.maxNorm, norm)
						}
						for _, x := range got {
							sq += x * x
						}
					}
					if clipped {
						if after := math.Sqrt(sq); math.Abs(after-c.maxNorm) > 1e-5*c.maxNorm {
							t.Errorf("norm after clipping %.8g, want max norm %.8g", after, c.maxNorm)
						}
					}
					for i, p := range ps {
						if !has[i] && p.Grad() != nil {
							t.Errorf("param %d had no gradient and got one", i)
						}
					}
				})
			})
		}
	}
	t.Logf("max relative norm difference %.3g, max grad difference %.3g", worstNorm, worstGrad)
}

// With float64 gradients torch.nn.utils.clip_grad_norm_ computes the norm and the clip
// coefficient in float64.
func TestClipGradNormFloat64Precision(t *testing.T) {
	params, has, grads, cases := clipData("float64")
	c := cases[0] // clip-half
	want := refWant(t, "optim/float64/"+c.name)
	chkScoped(t, func() {
		var ps, withGrad []*torch.Tensor
		k := 0
		for i, p := range params {
			ps = append(ps, p.tensor().SetRequiresGrad(true))
			if has[i] {
				setExactGrad(ps[i], grads[k])
				withGrad = append(withGrad, ps[i])
				k++
			}
		}
		norm := torch.ClipGradNorm(ps, c.maxNorm)
		if d := math.Abs(norm-want[0].Data[0]) / want[0].Data[0]; d > 1e-12 {
			t.Fatalf("ClipGradNorm of float64 gradients returns %.17g, torch %.17g (relative difference %.2g)", norm, want[0].Data[0], d)
		}
		for j, p := range withGrad {
			chkVals(t, fmt.Sprintf("grad %d", j), p.Grad().Float64s(), want[1+j].Data, 1e-14, 1e-12)
		}
	})
}

func TestClipGradNormWithoutGradients(t *testing.T) {
	chkScoped(t, func() {
		if n := torch.ClipGradNorm(nil, 1); n != 0 {
			t.Errorf("ClipGradNorm(nil) = %v", n)
		}
		p := tF32([]float32{1, 2}).SetRequiresGrad(true)
		if n := torch.ClipGradNorm([]*torch.Tensor{p}, 1); n != 0 || p.Grad() != nil {
			t.Errorf("ClipGradNorm of a parameter without gradient = %v (grad %v)", n, p.Grad())
		}
		// A hand-checked case: gradients (3, 4) and (12) have norm 13; clipping to 6.5 halves them.
		q := tF32([]float32{0}).SetRequiresGrad(true)
		setExactGrad(p, refArray{DType: "float32", Shape: []int64{2}, Data: []float64{3, 4}})
		setExactGrad(q, refArray{DType: "float32", Shape: []int64{1}, Data: []float64{12}})
		if n := torch.ClipGradNorm([]*torch.Tensor{p, q}, 6.5); math.Abs(n-13) > 1e-6 {
			t.Errorf("norm %v, want 13", n)
		}
		// coefficient 6.5/(13 + 1e-6), as torch computes it
		coef := 6.5 / (13 + 1e-6)
		chkVals(t, "clipped p.grad", p.Grad().Float64s(), []float64{3 * coef, 4 * coef}, 1e-6, 1e-6)
		chkVals(t, "clipped q.grad", q.Grad().Float64s(), []float64{12 * coef}, 1e-6, 1e-6)
	})
}

// ClipGradNormTensor is ClipGradNorm with the norm left as a tensor: the same norm and the same
// clipped gradients, bit for bit, for float32, float64 and mixed gradients and every clipping
// regime.
func TestClipGradNormTensorMatchesClipGradNorm(t *testing.T) {
	f32, has, g32, cases := clipData("float32")
	_, _, g64, _ := clipData("float64")
	p64, _, _, _ := clipData("float64")
	mixedP, mixedG := slices.Clone(f32), slices.Clone(g32)
	mixedP[1], mixedG[1] = p64[1], g64[1] // one float64 parameter: the norm accumulates in float64
	sets := []struct {
		name      string
		params    []refArray
		grads     []refArray
		wantDType torch.DType
	}{
		{"float32", f32, g32, torch.Float32},
		{"float64", p64, g64, torch.Float64},
		{"mixed", mixedP, mixedG, torch.Float64},
	}
	bits := func(x *torch.Tensor) []uint64 {
		v := x.Float64s() // exact for float32 and float64 values
		out := make([]uint64, len(v))
		for i, f := range v {
			out[i] = math.Float64bits(f)
		}
		return out
	}
	for _, set := range sets {
		for _, c := range cases {
			t.Run(set.name+"/"+c.name, func(t *testing.T) {
				chkScoped(t, func() {
					// Two identical parameter lists, one for each function.
					build := func() []*torch.Tensor {
						ps := make([]*torch.Tensor, len(set.params))
						k := 0
						for i, p := range set.params {
							ps[i] = p.tensor().SetRequiresGrad(true)
							if has[i] {
								setExactGrad(ps[i], set.grads[k])
								k++
							}
						}
						return ps
					}
					a, b := build(), build()
					norm := torch.ClipGradNorm(a, c.maxNorm)
					nt := torch.ClipGradNormTensor(b, c.maxNorm)
					if nt.Dim() != 0 || nt.DType() != set.wantDType || nt.Device() != torch.CPU {
						t.Fatalf("norm tensor: %d dims, %v on %v; want 0-d %v on the gradients' device", nt.Dim(), nt.DType(), nt.Device(), set.wantDType)
					}
					if got := nt.Item(); math.Float64bits(got) != math.Float64bits(norm) {
						t.Fatalf("norm %.17g, ClipGradNorm's %.17g", got, norm)
					}
					for i := range a {
						ga, gb := a[i].Grad(), b[i].Grad()
						if (ga == nil) != (gb == nil) {
							t.Fatalf("parameter %d: gradient present %v vs %v", i, ga != nil, gb != nil)
						}
						if ga != nil && !slices.Equal(bits(ga), bits(gb)) {
							t.Fatalf("parameter %d: clipped gradients differ:\n%v\n%v", i, ga.Float64s(), gb.Float64s())
						}
					}
				})
			})
		}
	}
	t.Run("no-gradients", func(t *testing.T) {
		chkScoped(t, func() {
			p := tF32([]float32{1, 2}).SetRequiresGrad(true)
			for _, ps := range [][]*torch.Tensor{nil, {p}} {
				nt := torch.ClipGradNormTensor(ps, 1)
				if nt.Dim() != 0 || nt.DType() != torch.Float32 || nt.Device() != torch.CPU || nt.Item() != 0 {
					t.Fatalf("ClipGradNormTensor of %d parameters without gradients: %v (%v, %d dims)", len(ps), nt, nt.DType(), nt.Dim())
				}
			}
		})
	})
}

// On a GPU the norm stays on the gradients' device, with ClipGradNorm's value and gradients.
func TestClipGradNormTensorOnCUDA(t *testing.T) {
	dev := requireCUDA(t)
	params, has, grads, cases := clipData("float32")
	chkScoped(t, func() {
		build := func() []*torch.Tensor {
			ps := make([]*torch.Tensor, len(params))
			k := 0
			for i, p := range params {
				ps[i] = p.tensor().ToDevice(dev).SetRequiresGrad(true)
				if has[i] {
					g := grads[k].tensor().ToDevice(dev)
					torch.WithScope(func(*torch.Scope) { ps[i].Mul(g).Sum(false).Backward() })
					k++
				}
			}
			return ps
		}
		a, b := build(), build()
		norm := torch.ClipGradNorm(a, cases[0].maxNorm)
		nt := torch.ClipGradNormTensor(b, cases[0].maxNorm)
		if nt.Device() != dev || nt.Dim() != 0 {
			t.Fatalf("norm on %v with %d dims, want a 0-d tensor on %v", nt.Device(), nt.Dim(), dev)
		}
		if got := nt.Item(); math.Float64bits(got) != math.Float64bits(norm) {
			t.Fatalf("norm %.17g, ClipGradNorm's %.17g", got, norm)
		}
		for i := range a {
			if ga := a[i].Grad(); ga != nil && !slices.Equal(tensorBits32(ga), tensorBits32(b[i].Grad())) {
				t.Fatalf("parameter %d: clipped gradients differ", i)
			}
		}
	})
}

// ScaleGrads multiplies every gradient in place, float32 and float64 alike, and leaves a
// parameter without a gradient without one.
func TestScaleGrads(t *testing.T) {
	a := torch.Ones([]int64{3}, torch.RequiresGrad())
	b := torch.Ones([]int64{2, 2}, torch.WithDType(torch.Float64), torch.RequiresGrad())
	c := torch.Ones([]int64{4}, torch.RequiresGrad())
	defer torch.Close(a, b, c)
	torch.WithScope(func(*torch.Scope) {
		a.MulScalar(3).Sum(false).Add(b.MulScalar(5).Sum(false).To(torch.Float32)).Backward()
	})
	torch.ScaleGrads([]*torch.Tensor{a, b, c}, 0.25)
	ga, gb := a.Grad(), b.Grad()
	defer torch.Close(ga, gb)
	if got := ga.Float32s(); !slices.Equal(got, []float32{0.75, 0.75, 0.75}) {
		t.Errorf("float32 gradient %v, want 0.75s", got)
	}
	if got := gb.Float64s(); !slices.Equal(got, []float64{1.25, 1.25, 1.25, 1.25}) {
		t.Errorf("float64 gradient %v, want 1.25s", got)
	}
	if c.Grad() != nil {
		t.Error("a parameter without a gradient got one")
	}
}
