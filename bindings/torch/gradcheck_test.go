package torch_test

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// Finite-difference gradient checks in float64. For each case the scalar
// L(x) = sum(w * f(x)), with a fixed random w of f's output shape, is differentiated by autograd
// (SetRequiresGrad, Backward, Grad) and by central differences
// (L(x + eps e_j) - L(x - eps e_j)) / (2 eps) with eps = 1e-6, the perturbed inputs being new
// tensors built with FromSlice under NoGrad. Tolerance: |autograd - numeric| <= 1e-6*(1 + |numeric|).

const (
	gradEps = 1e-6
	gradTol = 1e-6
)

type gradCase struct {
	name   string
	inputs []refArray // float64 inputs first (the ones in wrt), then constants (targets, masks, indices)
	wrt    int        // inputs[:wrt] are differentiated
	f      func(xs []*torch.Tensor) *torch.Tensor
	// For the cases also compared with PyTorch's autograd: the reference function name (see
	// refScript's "grad" op) and f's output shape.
	refFn    string
	outShape []int64
	refEps   float64
}

// gradWeights returns the fixed random weights w for a case, of the given shape.
func gradWeights(name string, shape []int64) refArray {
	h := fnv.New64a()
	h.Write([]byte(name))
	return randArray(seededRNG(h.Sum64()), "float64", -1, 1, shape...)
}

// gradCases builds every case; the inputs are the same on every call.
func gradCases() []gradCase {
	const d = "float64"
	r := seededRNG(7)
	u := func(lo, hi float64, shape ...int64) refArray { return randArray(r, d, lo, hi, shape...) }
	ints := func(shape []int64, v ...float64) refArray { return refArray{DType: "int64", Shape: shape, Data: v} }
	mask := func(shape []int64, v ...float64) refArray { return refArray{DType: "bool", Shape: shape, Data: v} }
	x0 := func(f func(*torch.Tensor) *torch.Tensor) func([]*torch.Tensor) *torch.Tensor {
		return func(xs []*torch.Tensor) *torch.Tensor { return f(xs[0]) }
	}
	x01 := func(f func(a, b *torch.Tensor) *torch.Tensor) func([]*torch.Tensor) *torch.Tensor {
		return func(xs []*torch.Tensor) *torch.Tensor { return f(xs[0], xs[1]) }
	}
	// distinct returns n well-separated values in random order (for Amax: no ties, and no
	// perturbation of 1e-6 changes the maximum).
	distinct := func(shape ...int64) refArray {
		n := shapeNumel(shape)
		v := make([]float64, n)
		for i, p := range r.Perm(n) {
			v[i] = float64(p)*0.1 - 1 + 0.01*r.Float64()
		}
		return refArray{DType: d, Shape: shape, Data: v}
	}
	return []gradCase{
		{name: "Silu", inputs: []refArray{u(-3, 3, 2, 3)}, wrt: 1, f: x0((*torch.Tensor).Silu)},
		{name: "Sigmoid", inputs: []refArray{u(-3, 3, 2, 3)}, wrt: 1, f: x0((*torch.Tensor).Sigmoid)},
		{name: "Tanh", inputs: []refArray{u(-2, 2, 2, 3)}, wrt: 1, f: x0((*torch.Tensor).Tanh)},
		{name: "Exp", inputs: []refArray{u(-2, 2, 2, 3)}, wrt: 1, f: x0((*torch.Tensor).Exp)},
		{name: "Log", inputs: []refArray{u(0.5, 3, 2, 3)}, wrt: 1, f: x0((*torch.Tensor).Log)},
		{name: "Rsqrt", inputs: []refArray{u(0.5, 3, 2, 3)}, wrt: 1, f: x0((*torch.Tensor).Rsqrt)},
		{name: "Pow3", inputs: []refArray{u(-2, 2, 2, 3)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Pow(3) })},
		{name: "PowBase", inputs: []refArray{u(-2, 2, 2, 3)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.PowBase(3) })},
		{name: "Gelu", inputs: []refArray{u(-3, 3, 2, 3)}, wrt: 1, f: x0((*torch.Tensor).Gelu)},
		{name: "Div", inputs: []refArray{u(-2, 2, 2, 3), u(0.5, 2, 2, 3)}, wrt: 2, f: x01((*torch.Tensor).Div)},
		{name: "Div/broadcast", inputs: []refArray{u(-2, 2, 2, 3), u(0.5, 2, 3)}, wrt: 2, f: x01((*torch.Tensor).Div)},
		{name: "Mul/broadcast", inputs: []refArray{u(-2, 2, 2, 3), u(-2, 2, 2, 1)}, wrt: 2, f: x01((*torch.Tensor).Mul)},
		{name: "Matmul", inputs: []refArray{u(-1, 1, 2, 3), u(-1, 1, 3, 4)}, wrt: 2, f: x01((*torch.Tensor).Matmul)},
		{name: "Matmul/batch-broadcast", inputs: []refArray{u(-1, 1, 2, 2, 3), u(-1, 1, 3, 2)}, wrt: 2, f: x01((*torch.Tensor).Matmul)},
		{name: "Linear", inputs: []refArray{u(-1, 1, 2, 3), u(-1, 1, 4, 3), u(-1, 1, 4)}, wrt: 3,
			f:     func(xs []*torch.Tensor) *torch.Tensor { return torch.Linear(xs[0], xs[1], xs[2]) },
			refFn: "linear", outShape: []int64{2, 4}},
		{name: "Linear/no-bias-3d", inputs: []refArray{u(-1, 1, 2, 2, 3), u(-1, 1, 4, 3)}, wrt: 2,
			f: func(xs []*torch.Tensor) *torch.Tensor { return torch.Linear(xs[0], xs[1], nil) }},
		{name: "Softmax/dim-1", inputs: []refArray{u(-2, 2, 2, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Softmax(-1) })},
		{name: "Softmax/dim0", inputs: []refArray{u(-2, 2, 3, 2)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Softmax(0) })},
		{name: "LogSoftmax", inputs: []refArray{u(-2, 2, 2, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.LogSoftmax(-1) })},
		{name: "RMSNorm", inputs: []refArray{u(-2, 2, 2, 5), u(0.5, 1.5, 5)}, wrt: 2,
			f:     func(xs []*torch.Tensor) *torch.Tensor { return torch.RMSNorm(xs[0], xs[1], 1e-5) },
			refFn: "rms_norm", outShape: []int64{2, 5}, refEps: 1e-5},
		{name: "Rotary", inputs: []refArray{u(-2, 2, 1, 2, 3, 4), u(-1, 1, 3, 4), u(-1, 1, 3, 4)}, wrt: 3,
			f: func(xs []*torch.Tensor) *torch.Tensor { return torch.Rotary(xs[0], xs[1], xs[2]) }},
		{name: "SwiGLU", inputs: []refArray{u(-3, 3, 2, 3), u(-2, 2, 2, 3)}, wrt: 2, f: x01(torch.SwiGLU)},
		{name: "SDPA/causal-gqa", inputs: []refArray{u(-1, 1, 1, 4, 3, 4), u(-1, 1, 1, 2, 3, 4), u(-1, 1, 1, 2, 3, 4)}, wrt: 3,
			f: func(xs []*torch.Tensor) *torch.Tensor {
				return torch.ScaledDotProductAttention(xs[0], xs[1], xs[2], torch.AttentionOptions{Causal: true, GroupedKV: true})
			},
			refFn: "sdpa_gqa_causal", outShape: []int64{1, 4, 3, 4}},
		{name: "CrossEntropy/ignore-index", inputs: []refArray{u(-2, 2, 4, 3), ints([]int64{4}, 0, 2, -100, 1)}, wrt: 1,
			f: func(xs []*torch.Tensor) *torch.Tensor {
				return torch.CrossEntropy(xs[0], xs[1], torch.CrossEntropyOptions{HasIgnoreIndex: true, IgnoreIndex: -100})
			},
			refFn: "cross_entropy_ignore", outShape: []int64{}},
		{name: "CrossEntropy/label-smoothing-sum", inputs: []refArray{u(-2, 2, 3, 4), ints([]int64{3}, 3, -100, 0)}, wrt: 1,
			f: func(xs []*torch.Tensor) *torch.Tensor {
				return torch.CrossEntropy(xs[0], xs[1], torch.CrossEntropyOptions{HasIgnoreIndex: true, IgnoreIndex: -100,
					Reduction: torch.ReduceSum, LabelSmoothing: 0.1})
			}},
		{name: "Embedding/weight", inputs: []refArray{u(-1, 1, 5, 3), ints([]int64{2, 2}, 1, 4, 1, 0)}, wrt: 1,
			f: x01(func(w, ids *torch.Tensor) *torch.Tensor { return torch.Embedding(w, ids) })},
		{name: "MaskedFill", inputs: []refArray{u(-1, 1, 2, 3), mask([]int64{3}, 1, 0, 1)}, wrt: 1,
			f: x01(func(x, m *torch.Tensor) *torch.Tensor { return x.MaskedFill(m, 0.5) })},
		{name: "Where", inputs: []refArray{u(-1, 1, 2, 3), u(-1, 1, 2, 3), mask([]int64{2, 3}, 1, 0, 0, 1, 1, 0)}, wrt: 2,
			f: func(xs []*torch.Tensor) *torch.Tensor { return torch.Where(xs[2], xs[0], xs[1]) }},
		{name: "Cat", inputs: []refArray{u(-1, 1, 2, 2), u(-1, 1, 2, 3)}, wrt: 2,
			f: x01(func(a, b *torch.Tensor) *torch.Tensor { return torch.Cat([]*torch.Tensor{a, b, a}, 1) })},
		{name: "Stack", inputs: []refArray{u(-1, 1, 2, 3), u(-1, 1, 2, 3)}, wrt: 2,
			f: x01(func(a, b *torch.Tensor) *torch.Tensor { return torch.Stack([]*torch.Tensor{a, b}, 1) })},
		{name: "Slice/step", inputs: []refArray{u(-1, 1, 3, 5)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Slice(1, 0, torch.End, 2) })},
		{name: "Slice/negative", inputs: []refArray{u(-1, 1, 3, 5)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Slice(0, -2, torch.End, 1) })},
		{name: "Permute", inputs: []refArray{u(-1, 1, 2, 3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Permute(2, 0, 1).Contiguous() })},
		{name: "Transpose-View", inputs: []refArray{u(-1, 1, 2, 3)}, wrt: 1,
			f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Transpose(0, 1).Reshape(6).Unsqueeze(0).Expand(2, 6) })},
		{name: "IndexSelect/repeats", inputs: []refArray{u(-1, 1, 3, 4), ints([]int64{3}, 2, 0, 2)}, wrt: 1,
			f: x01(func(x, idx *torch.Tensor) *torch.Tensor { return x.IndexSelect(0, idx) })},
		{name: "Gather", inputs: []refArray{u(-1, 1, 3, 4), ints([]int64{3, 2}, 0, 3, 1, 1, 2, 0)}, wrt: 1,
			f: x01(func(x, idx *torch.Tensor) *torch.Tensor { return x.Gather(1, idx) })},
		{name: "Sum/dim1-keepdim", inputs: []refArray{u(-1, 1, 3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Sum(true, 1) })},
		{name: "Sum/all", inputs: []refArray{u(-1, 1, 3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Square().Sum(false) })},
		{name: "Mean/dim0", inputs: []refArray{u(-1, 1, 3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Mean(false, 0) })},
		{name: "Amax/dim1", inputs: []refArray{distinct(3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Amax(false, 1) })},
		{name: "Amax/all", inputs: []refArray{distinct(3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Amax(false) })},
		{name: "LogSumExp/dim1", inputs: []refArray{u(-2, 2, 3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.LogSumExp(false, 1) })},
		{name: "Norm/p2-dim1", inputs: []refArray{u(-1, 1, 3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Norm(2, false, 1) })},
		{name: "Norm/p2-all", inputs: []refArray{u(-1, 1, 3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Norm(2, false) })},
		{name: "Var/dim1", inputs: []refArray{u(-1, 1, 3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Var(false, 1) })},
		{name: "Std/all", inputs: []refArray{u(-1, 1, 3, 4)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Std(false) })},
		{name: "Clamp", inputs: []refArray{distinct(2, 5)}, wrt: 1, f: x0(func(x *torch.Tensor) *torch.Tensor { return x.Clamp(-0.45, 0.05) })},
		// A small decoder-style block: RMSNorm -> Linear -> SiLU gate -> residual.
		{name: "Block", inputs: []refArray{u(-1, 1, 2, 4), u(0.5, 1.5, 4), u(-1, 1, 6, 4), u(-1, 1, 4, 3)}, wrt: 4,
			f: func(xs []*torch.Tensor) *torch.Tensor {
				h := torch.Linear(torch.RMSNorm(xs[0], xs[1], 1e-5), xs[2], nil) // [2, 6]
				parts := h.Chunk(2, -1)
				gated := parts[0].Silu().Mul(parts[1]) // [2, 3]
				return torch.Linear(gated, xs[3], nil).Add(xs[0])
			}},
	}
}

// gradLoss evaluates sum(w * f(inputs)) with fresh tensors, gradient recording off.
func gradLoss(c gradCase, inputs []refArray, w refArray) float64 {
	var l float64
	torch.NoGrad(func() {
		torch.WithScope(func(*torch.Scope) {
			xs := make([]*torch.Tensor, len(inputs))
			for i, a := range inputs {
				xs[i] = a.tensor()
			}
			l = c.f(xs).Mul(w.tensor()).Sum(false).Item()
		})
	})
	return l
}

// gradAnalytic returns autograd's gradients of sum(w * f(inputs)) for inputs[:wrt], and w.
func gradAnalytic(t *testing.T, c gradCase) ([][]float64, refArray) {
	t.Helper()
	var grads [][]float64
	var w refArray
	chkScoped(t, func() {
		xs := make([]*torch.Tensor, len(c.inputs))
		for i, a := range c.inputs {
			xs[i] = a.tensor()
			if i < c.wrt {
				xs[i].SetRequiresGrad(true)
			}
		}
		y := c.f(xs)
		w = gradWeights(c.name, y.Shape())
		if c.outShape != nil && !slices.Equal(y.Shape(), c.outShape) {
			t.Fatalf("output shape %v, case says %v", y.Shape(), c.outShape)
		}
		y.Mul(w.tensor()).Sum(false).Backward()
		for i := range c.wrt {
			g := xs[i].Grad()
			if g == nil {
				t.Fatalf("input %d has no gradient", i)
			}
			if !slices.Equal(g.Shape(), c.inputs[i].Shape) {
				t.Fatalf("gradient %d shape %v, input shape %v", i, g.Shape(), c.inputs[i].Shape)
			}
			grads = append(grads, g.Float64s())
		}
	})
	return grads, w
}

func TestGradFiniteDifferences(t *testing.T) {
	worst := 0.0
	for _, c := range gradCases() {
		t.Run(c.name, func(t *testing.T) {
			analytic, w := gradAnalytic(t, c)
			for k := range c.wrt {
				numeric := make([]float64, len(c.inputs[k].Data))
				for j := range numeric {
					in := slices.Clone(c.inputs)
					in[k].Data = slices.Clone(c.inputs[k].Data)
					in[k].Data[j] = c.inputs[k].Data[j] + gradEps
					lp := gradLoss(c, in, w)
					in[k].Data[j] = c.inputs[k].Data[j] - gradEps
					lm := gradLoss(c, in, w)
					numeric[j] = (lp - lm) / (2 * gradEps)
				}
				e := chkVals(t, fmt.Sprintf("d/d input %d", k), analytic[k], numeric, gradTol, gradTol)
				worst = max(worst, e)
				if allZeroF64(numeric) {
					t.Errorf("input %d: numeric gradient is identically zero; the check is vacuous", k)
				}
			}
		})
	}
	t.Logf("largest |autograd - central difference| over all cases: %.3g", worst)
}

func allZeroF64(v []float64) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// Cases whose analytic gradients are also compared with PyTorch's autograd (float64, same
// inputs and weights), through the shared reference process.
func gradRefCases() []refCase {
	var out []refCase
	for _, c := range gradCases() {
		if c.refFn == "" {
			continue
		}
		params := map[string]any{"fn": c.refFn, "nwrt": c.wrt}
		if c.refEps != 0 {
			params["eps"] = c.refEps
		}
		inputs := append(slices.Clone(c.inputs), gradWeights(c.name, c.outShape))
		out = append(out, refCase{Name: "grad/" + c.name, Op: "grad", Inputs: inputs, Params: params})
	}
	return out
}

func TestGradParityWithPyTorch(t *testing.T) {
	worst := 0.0
	n := 0
	for _, c := range gradCases() {
		if c.refFn == "" {
			continue
		}
		n++
		t.Run(c.name, func(t *testing.T) {
			want := refWant(t, "grad/"+c.name)
			analytic, _ := gradAnalytic(t, c)
			if len(want) != len(analytic) {
				t.Fatalf("%d gradients, reference has %d", len(analytic), len(want))
			}
			for k := range analytic {
				if !slices.Equal(want[k].Shape, c.inputs[k].Shape) {
					t.Errorf("reference gradient %d has shape %v", k, want[k].Shape)
				}
				e := chkVals(t, fmt.Sprintf("d/d input %d vs torch", k), analytic[k], want[k].Data, 1e-12, 1e-10)
				worst = max(worst, e)
			}
		})
	}
	if n < 4 {
		t.Fatalf("only %d cases are compared with PyTorch", n)
	}
	t.Logf("largest |go autograd - torch autograd| (float64): %.3g", worst)
	if math.IsNaN(worst) {
		t.Error("NaN gradient difference")
	}
}
