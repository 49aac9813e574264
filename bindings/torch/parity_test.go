package torch_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/testref"
)

// Parity with PyTorch. Inputs are generated in Go with seeded math/rand/v2 generators (never
// torch's RNG), so the same inputs can be rebuilt at will; every case of every file that needs
// the reference (parity, gradient and optimizer cases) is computed by ONE Python process the
// first time a test asks for it (refResults), since each start of Python imports torch.

// refArray is a tensor exchanged with the reference script as JSON. float32 data is carried as
// the exact float64 value of each float32, so nothing is rounded on the way.
type refArray struct {
	DType string    `json:"dtype"` // a torch.DType name: float32, float64, bfloat16, int64, bool
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

// refCase is one computation for the reference script.
type refCase struct {
	Name   string         `json:"name"`
	Op     string         `json:"op"`
	Inputs []refArray     `json:"inputs"`
	Params map[string]any `json:"params,omitempty"`
}

func (a refArray) tensor() *torch.Tensor {
	switch a.DType {
	case "float32":
		v := make([]float32, len(a.Data))
		for i, x := range a.Data {
			v[i] = float32(x)
		}
		return torch.FromSlice(v, a.Shape...)
	case "float64":
		return torch.FromSlice(slices.Clone(a.Data), a.Shape...)
	case "int64":
		v := make([]int64, len(a.Data))
		for i, x := range a.Data {
			v[i] = int64(x)
		}
		return torch.FromSlice(v, a.Shape...)
	case "bool":
		v := make([]bool, len(a.Data))
		for i, x := range a.Data {
			v[i] = x != 0
		}
		return torch.FromSlice(v, a.Shape...)
	}
	panic("refArray: unsupported dtype " + a.DType)
}

func shapeNumel(shape []int64) int {
	n := 1
	for _, s := range shape {
		n *= int(s)
	}
	return n
}

func seededRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// randArray draws uniform values in [lo, hi), rounded to float32 when dtype is float32.
func randArray(rng *rand.Rand, dtype string, lo, hi float64, shape ...int64) refArray {
	d := make([]float64, shapeNumel(shape))
	for i := range d {
		d[i] = lo + (hi-lo)*rng.Float64()
		if dtype == "float32" {
			d[i] = float64(float32(d[i]))
		}
	}
	return refArray{DType: dtype, Shape: shape, Data: d}
}

// randTargets draws class indices in [0, classes), with the positions in ignored set to -100.
func randTargets(rng *rand.Rand, n, classes int, ignored ...int) refArray {
	d := make([]float64, n)
	for i := range d {
		d[i] = float64(rng.IntN(classes))
	}
	for _, i := range ignored {
		d[i] = -100
	}
	return refArray{DType: "int64", Shape: []int64{int64(n)}, Data: d}
}

// randMask draws a bool mask [rows, cols], true (attend) with probability 0.6, and true on the
// first column so that no row is fully masked.
func randMask(rng *rand.Rand, rows, cols int) refArray {
	d := make([]float64, rows*cols)
	for i := range d {
		if i%cols == 0 || rng.Float64() < 0.6 {
			d[i] = 1
		}
	}
	return refArray{DType: "bool", Shape: []int64{int64(rows), int64(cols)}, Data: d}
}

// ---- the reference process ----

const refScript = `
import json, sys
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
DT = {'float32': torch.float32, 'float64': torch.float64, 'int64': torch.int64, 'bool': torch.bool}
NAMES = {torch.float32: 'float32', torch.float64: 'float64', torch.bfloat16: 'bfloat16',
         torch.int64: 'int64', torch.bool: 'bool'}

def T(a):
    return torch.tensor(a['data'], dtype=torch.float64).reshape(a['shape']).to(DT[a['dtype']])

def A(t):
    t = t.detach()
    return {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data': t.double().reshape(-1).tolist()}

def run(c):
    op, x, p = c['op'], [T(a) for a in c['inputs']], c.get('params') or {}
    if op == 'matmul':
        return [x[0] @ x[1]]
    if op == 'bf16_matmul':
        return [x[0].bfloat16() @ x[1].bfloat16()]
    if op == 'linear':
        return [F.linear(x[0], x[1], x[2] if len(x) > 2 else None)]
    if op == 'softmax':
        return [torch.softmax(x[0], p['dim'])]
    if op == 'log_softmax':
        return [torch.log_softmax(x[0], p['dim'])]
    if op == 'silu':
        return [F.silu(x[0])]
    if op == 'gelu':
        return [F.gelu(x[0])]
    if op == 'rms_norm':
        xx, w, eps = x[0], (x[1] if len(x) > 1 else None), p['eps']
        # HF LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) * w
        hf = xx * torch.rsqrt(xx.pow(2).mean(-1, keepdim=True) + eps)
        return [F.rms_norm(xx, (xx.shape[-1],), w, eps), hf * w if w is not None else hf]
    if op == 'rope':
        # HF's apply_rotary_pos_emb on [B, H, T, D] built as a transposed [B, T, H, D] when asked.
        xx = x[0].transpose(1, 2) if p.get('transposed') else x[0]
        cos, sin = x[1], x[2]
        d = xx.shape[-1]
        rot = torch.cat((-xx[..., d // 2:], xx[..., :d // 2]), dim=-1)
        return [xx * cos + rot * sin]
    if op == 'swiglu':
        return [F.silu(x[0]) * x[1]]
    if op == 'sdpa':
        mask = x[3] if len(x) > 3 else None
        return [F.scaled_dot_product_attention(x[0], x[1], x[2], attn_mask=mask,
                is_causal=p.get('causal', False), scale=p.get('scale'), enable_gqa=p.get('gqa', False))]
    if op == 'cross_entropy':
        return [F.cross_entropy(x[0], x[1], ignore_index=p.get('ignore_index', -100),
                reduction=p['reduction'], label_smoothing=p.get('label_smoothing', 0.0))]
    if op == 'logsumexp':
        dims = p.get('dims') or list(range(x[0].dim()))
        return [torch.logsumexp(x[0], dim=dims, keepdim=p['keepdim'])]
    if op == 'norm':
        return [torch.linalg.vector_norm(x[0], ord=p['p'], dim=p.get('dims'), keepdim=p['keepdim'])]
    if op in ('var', 'std'):
        f = torch.var if op == 'var' else torch.std
        return [f(x[0], dim=p.get('dims'), keepdim=p['keepdim'], correction=1)]
    if op == 'grad':
        # d/d(first nwrt inputs) of sum(w * f(inputs)), w being the last input.
        n, w = p['nwrt'], x[-1]
        xs = [t.clone().requires_grad_(True) if i < n else t for i, t in enumerate(x)]
        fn = p['fn']
        if fn == 'sdpa_gqa_causal':
            y = F.scaled_dot_product_attention(xs[0], xs[1], xs[2], is_causal=True, enable_gqa=True)
        elif fn == 'cross_entropy_ignore':
            y = F.cross_entropy(xs[0], xs[1], ignore_index=-100)
        elif fn == 'rms_norm':
            y = F.rms_norm(xs[0], (xs[0].shape[-1],), xs[1], p['eps'])
        elif fn == 'linear':
            y = F.linear(xs[0], xs[1], xs[2])
        else:
            raise ValueError(fn)
        (y * w).sum().backward()
        return [xs[i].grad for i in range(n)]
    if op == 'adamw':
        n, steps = p['nparams'], p['steps']
        ps = [x[i].clone().requires_grad_(True) for i in range(n)]
        kw = dict(lr=p['lr'], betas=(p['beta1'], p['beta2']), eps=p['eps'], weight_decay=p['wd'])
        if p['impl'] == 'fused':
            kw['fused'] = True
        else:
            kw['foreach'] = False
        opt = torch.optim.AdamW(ps, **kw)
        none = {(s, i) for s, i in p.get('none', [])}
        out = []
        for s in range(steps):
            for i, q in enumerate(ps):
                q.grad = None if (s, i) in none else x[n + s * n + i].clone()
            opt.step()
            out += [q.detach().clone() for q in ps]
        out += [opt.state[q]['step'].reshape(()) if q in opt.state else torch.tensor(0.0) for q in ps]
        return out
    if op == 'clip':
        n, has, mx = p['nparams'], p['has_grad'], p['max_norm']
        ps = [x[i].clone().requires_grad_(True) for i in range(n)]
        k = n
        for i, q in enumerate(ps):
            if has[i]:
                q.grad = x[k].clone()
                k += 1
        grads = [q.grad for q in ps if q.grad is not None]
        if mx > 0:
            total = torch.nn.utils.clip_grad_norm_(ps, mx)
        else:
            total = torch.nn.utils.get_total_norm(grads)
        return [total.reshape(())] + grads
    raise ValueError('unknown op ' + op)

req = json.load(open(sys.argv[1]))
json.dump({c['name']: [A(t) for t in run(c)] for c in req}, sys.stdout)
`

var refState struct {
	once sync.Once
	ok   bool
	out  map[string][]refArray
}

// refResults returns the reference outputs of every case (parityCases, gradRefCases and
// optimRefCases), computing them all in one Python process on first use.
func refResults(t *testing.T) map[string][]refArray {
	t.Helper()
	refState.once.Do(func() {
		cases := slices.Concat(refCasesOf(parityCases()), gradRefCases(), optimRefCases())
		seen := map[string]bool{}
		for _, c := range cases {
			if seen[c.Name] {
				t.Fatalf("duplicate reference case %q", c.Name)
			}
			seen[c.Name] = true
		}
		req, err := json.Marshal(cases)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "cases.json")
		if err := os.WriteFile(path, req, 0o600); err != nil {
			t.Fatal(err)
		}
		out := testref.RunPython(t, refScript, path)
		if err := json.Unmarshal(out, &refState.out); err != nil {
			t.Fatalf("reference output: %v\n%.500s", err, out)
		}
		refState.ok = true
	})
	if !refState.ok {
		t.Fatal("the PyTorch reference script did not run (see the first test that needed it)")
	}
	return refState.out
}

// refWant returns the reference outputs of one case.
func refWant(t *testing.T, name string) []refArray {
	t.Helper()
	w, ok := refResults(t)[name]
	if !ok {
		t.Fatalf("no reference result for %q", name)
	}
	return w
}

// ---- parity cases ----

type parityCase struct {
	ref        refCase
	run        func(in []*torch.Tensor) []*torch.Tensor
	atol, rtol float64
}

func refCasesOf(ps []parityCase) []refCase {
	out := make([]refCase, len(ps))
	for i, p := range ps {
		out[i] = p.ref
	}
	return out
}

func oneOut(t *torch.Tensor) []*torch.Tensor { return []*torch.Tensor{t} }

// parityCases builds every float32 (and bfloat16) parity case; the inputs are the same on every
// call.
func parityCases() []parityCase {
	const f = "float32"
	const tol = 1e-5 // float32: |got - want| <= 1e-5 + 1e-5*|want|
	var cs []parityCase
	add := func(name, op string, params map[string]any, run func([]*torch.Tensor) []*torch.Tensor, atol, rtol float64, inputs ...refArray) {
		cs = append(cs, parityCase{ref: refCase{Name: "parity/" + name, Op: op, Inputs: inputs, Params: params}, run: run, atol: atol, rtol: rtol})
	}
	r := seededRNG(1)
	matmul := func(in []*torch.Tensor) []*torch.Tensor { return oneOut(in[0].Matmul(in[1])) }
	add("matmul/2d", "matmul", nil, matmul, tol, tol, randArray(r, f, -1, 1, 3, 4), randArray(r, f, -1, 1, 4, 5))
	add("matmul/batch-broadcast", "matmul", nil, matmul, tol, tol, randArray(r, f, -1, 1, 2, 1, 3, 16), randArray(r, f, -1, 1, 3, 16, 5))
	add("matmul/vector-batch", "matmul", nil, matmul, tol, tol, randArray(r, f, -1, 1, 8), randArray(r, f, -1, 1, 2, 8, 3))
	add("matmul/large-k", "matmul", nil, matmul, tol, tol, randArray(r, f, -1, 1, 5, 128), randArray(r, f, -1, 1, 128, 7))

	linear := func(in []*torch.Tensor) []*torch.Tensor {
		if len(in) > 2 {
			return oneOut(torch.Linear(in[0], in[1], in[2]))
		}
		return oneOut(torch.Linear(in[0], in[1], nil))
	}
	add("linear/bias", "linear", nil, linear, tol, tol, randArray(r, f, -1, 1, 2, 3, 8), randArray(r, f, -1, 1, 5, 8), randArray(r, f, -1, 1, 5))
	add("linear/no-bias", "linear", nil, linear, tol, tol, randArray(r, f, -1, 1, 4, 8), randArray(r, f, -1, 1, 6, 8))

	sm := randArray(r, f, -4, 4, 4, 7)
	for _, dim := range []int64{0, -1} {
		d := dim
		add(fmt.Sprintf("softmax/dim%d", d), "softmax", map[string]any{"dim": d},
			func(in []*torch.Tensor) []*torch.Tensor { return oneOut(in[0].Softmax(d)) }, tol, tol, sm)
		add(fmt.Sprintf("log_softmax/dim%d", d), "log_softmax", map[string]any{"dim": d},
			func(in []*torch.Tensor) []*torch.Tensor { return oneOut(in[0].LogSoftmax(d)) }, tol, tol, sm)
	}
	act := randArray(r, f, -8, 8, 64)
	add("silu", "silu", nil, func(in []*torch.Tensor) []*torch.Tensor { return oneOut(in[0].Silu()) }, tol, tol, act)
	add("gelu", "gelu", nil, func(in []*torch.Tensor) []*torch.Tensor { return oneOut(in[0].Gelu()) }, tol, tol, act)

	// RMSNorm against F.rms_norm and against the HF LlamaRMSNorm formula (two reference outputs).
	rms := func(in []*torch.Tensor) []*torch.Tensor {
		var w *torch.Tensor
		if len(in) > 1 {
			w = in[1]
		}
		y := torch.RMSNorm(in[0], w, 1e-5)
		return []*torch.Tensor{y, y}
	}
	add("rms_norm/weight", "rms_norm", map[string]any{"eps": 1e-5}, rms, tol, tol,
		randArray(r, f, -2, 2, 2, 3, 16), randArray(r, f, 0.5, 1.5, 16))
	add("rms_norm/no-weight", "rms_norm", map[string]any{"eps": 1e-5}, rms, tol, tol, randArray(r, f, -2, 2, 5, 24))
	add("rms_norm/tiny-values", "rms_norm", map[string]any{"eps": 1e-5}, rms, tol, tol,
		randArray(r, f, -1e-3, 1e-3, 3, 8), randArray(r, f, 0.5, 1.5, 8))

	// Rows whose length is not a multiple of the vector width exercise the kernels' tails.
	add("rms_norm/odd-width", "rms_norm", map[string]any{"eps": 1e-6}, rms, tol, tol,
		randArray(r, f, -2, 2, 7, 37), randArray(r, f, 0.5, 1.5, 37))
	add("rms_norm/model-width", "rms_norm", map[string]any{"eps": 1e-5}, rms, tol, tol,
		randArray(r, f, -4, 4, 2, 9, 576), randArray(r, f, 0.5, 1.5, 576))

	// Rotary embeddings, HF's layout, on a contiguous input and on the transposed view the model
	// passes ([B, T, H, D] read as [B, H, T, D]); the tables as [T, D] and as [1, 1, T, D].
	rope := func(transposed bool) func([]*torch.Tensor) []*torch.Tensor {
		return func(in []*torch.Tensor) []*torch.Tensor {
			x := in[0]
			if transposed {
				x = x.Transpose(1, 2)
			}
			return oneOut(torch.Rotary(x, in[1], in[2]))
		}
	}
	add("rope/contiguous", "rope", nil, rope(false), tol, tol,
		randArray(r, f, -2, 2, 2, 3, 5, 8), randArray(r, f, -1, 1, 5, 8), randArray(r, f, -1, 1, 5, 8))
	add("rope/transposed-head-dim-64", "rope", map[string]any{"transposed": true}, rope(true), tol, tol,
		randArray(r, f, -2, 2, 1, 6, 3, 64), randArray(r, f, -1, 1, 1, 1, 6, 64), randArray(r, f, -1, 1, 1, 1, 6, 64))
	add("rope/odd-half", "rope", nil, rope(false), tol, tol,
		randArray(r, f, -2, 2, 4, 7, 26), randArray(r, f, -1, 1, 7, 26), randArray(r, f, -1, 1, 7, 26))
	add("swiglu", "swiglu", nil, func(in []*torch.Tensor) []*torch.Tensor { return oneOut(torch.SwiGLU(in[0], in[1])) }, tol, tol,
		randArray(r, f, -6, 6, 3, 40), randArray(r, f, -2, 2, 3, 40))

	sdpa := func(o torch.AttentionOptions) func([]*torch.Tensor) []*torch.Tensor {
		return func(in []*torch.Tensor) []*torch.Tensor {
			if len(in) > 3 {
				o.Mask = in[3]
			}
			return oneOut(torch.ScaledDotProductAttention(in[0], in[1], in[2], o))
		}
	}
	add("sdpa/causal", "sdpa", map[string]any{"causal": true}, sdpa(torch.AttentionOptions{Causal: true}), tol, tol,
		randArray(r, f, -1, 1, 2, 2, 5, 8), randArray(r, f, -1, 1, 2, 2, 5, 8), randArray(r, f, -1, 1, 2, 2, 5, 8))
	// SmolLM2's layout: 9 query heads sharing 3 key/value heads.
	add("sdpa/gqa-9q-3kv-causal", "sdpa", map[string]any{"causal": true, "gqa": true},
		sdpa(torch.AttentionOptions{Causal: true, GroupedKV: true}), tol, tol,
		randArray(r, f, -1, 1, 2, 9, 6, 16), randArray(r, f, -1, 1, 2, 3, 6, 16), randArray(r, f, -1, 1, 2, 3, 6, 16))
	add("sdpa/bool-mask", "sdpa", nil, sdpa(torch.AttentionOptions{}), tol, tol,
		randArray(r, f, -1, 1, 1, 2, 4, 8), randArray(r, f, -1, 1, 1, 2, 6, 8), randArray(r, f, -1, 1, 1, 2, 6, 8), randMask(r, 4, 6))
	add("sdpa/additive-float-mask", "sdpa", nil, sdpa(torch.AttentionOptions{}), tol, tol,
		randArray(r, f, -1, 1, 1, 2, 4, 8), randArray(r, f, -1, 1, 1, 2, 6, 8), randArray(r, f, -1, 1, 1, 2, 6, 8), randArray(r, f, -2, 0, 4, 6))
	add("sdpa/scale", "sdpa", map[string]any{"scale": 0.3}, sdpa(torch.AttentionOptions{Scale: 0.3}), tol, tol,
		randArray(r, f, -2, 2, 1, 3, 5, 8), randArray(r, f, -2, 2, 1, 3, 5, 8), randArray(r, f, -2, 2, 1, 3, 5, 8))
	add("sdpa/gqa-scale-causal-cross-length", "sdpa", map[string]any{"causal": true, "gqa": true, "scale": 0.5},
		sdpa(torch.AttentionOptions{Causal: true, GroupedKV: true, Scale: 0.5}), tol, tol,
		randArray(r, f, -1, 1, 1, 4, 3, 8), randArray(r, f, -1, 1, 1, 2, 5, 8), randArray(r, f, -1, 1, 1, 2, 5, 8))

	ce := func(o torch.CrossEntropyOptions) func([]*torch.Tensor) []*torch.Tensor {
		return func(in []*torch.Tensor) []*torch.Tensor { return oneOut(torch.CrossEntropy(in[0], in[1], o)) }
	}
	ign := torch.CrossEntropyOptions{HasIgnoreIndex: true, IgnoreIndex: -100}
	logits, targets := randArray(r, f, -3, 3, 8, 11), randTargets(r, 8, 11, 1, 4, 5)
	add("cross_entropy/ignore-mean", "cross_entropy", map[string]any{"reduction": "mean"}, ce(ign), tol, tol, logits, targets)
	ignSum := ign
	ignSum.Reduction = torch.ReduceSum
	add("cross_entropy/ignore-sum", "cross_entropy", map[string]any{"reduction": "sum"}, ce(ignSum), tol, tol, logits, targets)
	ignNone := ign
	ignNone.Reduction = torch.ReduceNone
	add("cross_entropy/ignore-none", "cross_entropy", map[string]any{"reduction": "none"}, ce(ignNone), tol, tol, logits, targets)
	ignLS := ign
	ignLS.LabelSmoothing = 0.1
	add("cross_entropy/ignore-label-smoothing", "cross_entropy", map[string]any{"reduction": "mean", "label_smoothing": 0.1}, ce(ignLS), tol, tol, logits, targets)
	add("cross_entropy/no-ignore", "cross_entropy", map[string]any{"reduction": "mean"}, ce(torch.CrossEntropyOptions{}), tol, tol,
		randArray(r, f, -3, 3, 6, 5), randTargets(r, 6, 5))
	// A vocabulary-sized row length that is no multiple of any vector width, wide logits, and a
	// row with masked classes (-1e30: JSON has no -inf; TestFusedKernelsSpecialValues has it).
	wide := randArray(r, f, -20, 20, 5, 1031)
	for i := 1031; i < 2*1031; i += 3 {
		wide.Data[i] = -1e30
	}
	wideTargets := randTargets(r, 5, 1031, 3)
	wideTargets.Data[1] = 1030 // a finite class in the masked row
	add("cross_entropy/wide-sum", "cross_entropy", map[string]any{"reduction": "sum"}, ce(ignSum), tol, tol, wide, wideTargets)
	add("cross_entropy/wide-mean", "cross_entropy", map[string]any{"reduction": "mean"}, ce(ign), tol, tol, wide, wideTargets)

	red := randArray(r, f, -3, 3, 3, 4, 5)
	redCase := func(name, op string, dims []int64, keepdim bool, run func(x *torch.Tensor) *torch.Tensor) {
		p := map[string]any{"keepdim": keepdim}
		if dims != nil {
			p["dims"] = dims
		}
		add(name, op, p, func(in []*torch.Tensor) []*torch.Tensor { return oneOut(run(in[0])) }, tol, tol, red)
	}
	redCase("logsumexp/dim1", "logsumexp", []int64{1}, false, func(x *torch.Tensor) *torch.Tensor { return x.LogSumExp(false, 1) })
	redCase("logsumexp/dims02-keepdim", "logsumexp", []int64{0, 2}, true, func(x *torch.Tensor) *torch.Tensor { return x.LogSumExp(true, 0, 2) })
	redCase("logsumexp/all", "logsumexp", nil, false, func(x *torch.Tensor) *torch.Tensor { return x.LogSumExp(false) })
	for _, nc := range []struct {
		name    string
		p       float64
		dims    []int64
		keepdim bool
	}{
		{"norm/p2-dims12-keepdim", 2, []int64{1, 2}, true},
		{"norm/p2-dim-1", 2, []int64{-1}, false},
		{"norm/p2-all", 2, nil, false},
		{"norm/p1-dim0", 1, []int64{0}, false},
		{"norm/p3-dim1", 3, []int64{1}, false},
	} {
		params := map[string]any{"p": nc.p, "keepdim": nc.keepdim}
		if nc.dims != nil {
			params["dims"] = nc.dims
		}
		add(nc.name, "norm", params, func(in []*torch.Tensor) []*torch.Tensor {
			return oneOut(in[0].Norm(nc.p, nc.keepdim, nc.dims...))
		}, tol, tol, red)
	}
	redCase("var/dim1", "var", []int64{1}, false, func(x *torch.Tensor) *torch.Tensor { return x.Var(false, 1) })
	redCase("var/all", "var", nil, false, func(x *torch.Tensor) *torch.Tensor { return x.Var(false) })
	redCase("var/dims02-keepdim", "var", []int64{0, 2}, true, func(x *torch.Tensor) *torch.Tensor { return x.Var(true, 0, 2) })
	redCase("std/dims01-keepdim", "std", []int64{0, 1}, true, func(x *torch.Tensor) *torch.Tensor { return x.Std(true, 0, 1) })
	redCase("std/dim-1", "std", []int64{-1}, false, func(x *torch.Tensor) *torch.Tensor { return x.Std(false, -1) })

	// bfloat16: both sides round the same float32 inputs to bfloat16 and multiply in bfloat16.
	// Tolerance: one bfloat16 ulp (2^-7 relative) plus 1e-3 absolute for results near zero.
	bf16 := func(in []*torch.Tensor) []*torch.Tensor {
		return oneOut(in[0].To(torch.BFloat16).Matmul(in[1].To(torch.BFloat16)))
	}
	add("bf16/matmul", "bf16_matmul", nil, bf16, 1e-3, 1.0/128, randArray(r, f, -1, 1, 16, 32), randArray(r, f, -1, 1, 32, 24))
	add("bf16/matmul-batched", "bf16_matmul", nil, bf16, 1e-3, 1.0/128, randArray(r, f, -1, 1, 2, 3, 64), randArray(r, f, -1, 1, 2, 64, 5))
	return cs
}

// kernelModes are the ways an operation can run here: the composite ATen formulas, and
// libgrowthtorch's fused CPU kernels with every instruction set this CPU has (each case then
// checks each vector path). setKernelMode selects one.
func kernelModes() []string {
	modes := []string{"composite"}
	if isa := torch.FusedKernelISA(); isa == "avx2" || isa == "avx512" {
		modes = append(modes, "fused-avx2")
		if isa == "avx512" {
			modes = append(modes, "fused-avx512")
		}
	}
	return modes
}

func setKernelMode(t *testing.T, mode string) {
	best := torch.FusedKernelISA()
	t.Cleanup(func() { torch.SetFusedKernels(true); torch.LimitFusedKernelISA("avx512") })
	if mode == "composite" {
		torch.SetFusedKernels(false)
		return
	}
	torch.SetFusedKernels(true)
	torch.LimitFusedKernelISA(strings.TrimPrefix(mode, "fused-"))
	if got := torch.FusedKernelISA(); got != strings.TrimPrefix(mode, "fused-") {
		t.Fatalf("fused kernels use %s after limiting to %s (best here %s)", got, mode, best)
	}
}

func TestParityWithPyTorch(t *testing.T) {
	for _, mode := range kernelModes() {
		t.Run(mode, func(t *testing.T) {
			setKernelMode(t, mode)
			testParityWithPyTorch(t)
		})
	}
}

func testParityWithPyTorch(t *testing.T) {
	cases := parityCases()
	ref := refResults(t)
	worst := map[string]float64{}
	for _, c := range cases {
		t.Run(c.ref.Name, func(t *testing.T) {
			want, ok := ref[c.ref.Name]
			if !ok {
				t.Fatalf("no reference result")
			}
			chkScoped(t, func() {
				in := make([]*torch.Tensor, len(c.ref.Inputs))
				for i, a := range c.ref.Inputs {
					in[i] = a.tensor()
				}
				got := c.run(in)
				if len(got) != len(want) {
					t.Fatalf("%d outputs, reference has %d", len(got), len(want))
				}
				for i, g := range got {
					what := fmt.Sprintf("output %d", i)
					if g.DType().String() != want[i].DType || !slices.Equal(g.Shape(), want[i].Shape) {
						t.Errorf("%s: %v, reference %s %v", what, g, want[i].DType, want[i].Shape)
						continue
					}
					e := chkVals(t, what, g.Float64s(), want[i].Data, c.atol, c.rtol)
					worst[c.ref.Name] = max(worst[c.ref.Name], e)
					t.Logf("%s: max |go - torch| = %.3g (tolerance %.0e + %.0e*|torch|)", what, e, c.atol, c.rtol)
				}
			})
		})
	}
	overall := 0.0
	for name, e := range worst {
		if !slices.Contains([]string{"parity/bf16/matmul", "parity/bf16/matmul-batched"}, name) {
			overall = max(overall, e)
		}
	}
	t.Logf("float32 parity: largest absolute difference over all cases %.3g", overall)
	if math.IsInf(overall, 0) || math.IsNaN(overall) {
		t.Error("non-finite parity error")
	}
}
