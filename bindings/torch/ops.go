package torch

/*
#include "growthtorch.h"
*/
import "C"

import (
	"math"
	"runtime"
)

// Each operation below returns a new tensor (views share storage with their input) and panics
// with a *Error when libtorch rejects it.

func unary(op C.int, name string, t *Tensor) *Tensor {
	var out C.gt_tensor
	err := C.gt_unary(op, t.c(name), &out)
	runtime.KeepAlive(t)
	return result(err, name, out)
}

func binary(op C.int, name string, a, b *Tensor) *Tensor {
	var out C.gt_tensor
	err := C.gt_binary(op, a.c(name), b.c(name), &out)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return result(err, name, out)
}

func binaryScalar(op C.int, name string, a *Tensor, v float64) *Tensor {
	var out C.gt_tensor
	err := C.gt_binary_scalar(op, a.c(name), C.double(v), &out)
	runtime.KeepAlive(a)
	return result(err, name, out)
}

// Neg returns -t.
func (t *Tensor) Neg() *Tensor { return unary(C.GT_U_NEG, "Neg", t) }

// Exp returns e^t elementwise.
func (t *Tensor) Exp() *Tensor { return unary(C.GT_U_EXP, "Exp", t) }

// Log returns the natural logarithm elementwise.
func (t *Tensor) Log() *Tensor { return unary(C.GT_U_LOG, "Log", t) }

// Sqrt returns the square root elementwise.
func (t *Tensor) Sqrt() *Tensor { return unary(C.GT_U_SQRT, "Sqrt", t) }

// Rsqrt returns 1/sqrt(t) elementwise.
func (t *Tensor) Rsqrt() *Tensor { return unary(C.GT_U_RSQRT, "Rsqrt", t) }

// Abs returns |t| elementwise.
func (t *Tensor) Abs() *Tensor { return unary(C.GT_U_ABS, "Abs", t) }

// Sigmoid returns 1/(1+e^-t) elementwise.
func (t *Tensor) Sigmoid() *Tensor { return unary(C.GT_U_SIGMOID, "Sigmoid", t) }

// Tanh returns tanh(t) elementwise.
func (t *Tensor) Tanh() *Tensor { return unary(C.GT_U_TANH, "Tanh", t) }

// Silu returns t*sigmoid(t) elementwise (the SwiGLU gate activation).
func (t *Tensor) Silu() *Tensor { return unary(C.GT_U_SILU, "Silu", t) }

// Relu returns max(t, 0) elementwise.
func (t *Tensor) Relu() *Tensor { return unary(C.GT_U_RELU, "Relu", t) }

// Gelu returns the exact (erf) GELU elementwise.
func (t *Tensor) Gelu() *Tensor { return unary(C.GT_U_GELU, "Gelu", t) }

// Square returns t*t elementwise.
func (t *Tensor) Square() *Tensor { return unary(C.GT_U_SQUARE, "Square", t) }

// Reciprocal returns 1/t elementwise.
func (t *Tensor) Reciprocal() *Tensor { return unary(C.GT_U_RECIPROCAL, "Reciprocal", t) }

// Sin returns sin(t) elementwise.
func (t *Tensor) Sin() *Tensor { return unary(C.GT_U_SIN, "Sin", t) }

// Cos returns cos(t) elementwise.
func (t *Tensor) Cos() *Tensor { return unary(C.GT_U_COS, "Cos", t) }

// Sign returns -1, 0 or 1 elementwise.
func (t *Tensor) Sign() *Tensor { return unary(C.GT_U_SIGN, "Sign", t) }

// Floor rounds down elementwise.
func (t *Tensor) Floor() *Tensor { return unary(C.GT_U_FLOOR, "Floor", t) }

// IsFinite returns a bool tensor, true where t is neither infinite nor NaN.
func (t *Tensor) IsFinite() *Tensor { return unary(C.GT_U_ISFINITE, "IsFinite", t) }

// LogicalNot negates a bool tensor (non-zero counts as true).
func (t *Tensor) LogicalNot() *Tensor { return unary(C.GT_U_LOGICAL_NOT, "LogicalNot", t) }

// Contiguous returns t itself (a new handle) when it is contiguous, else a contiguous copy.
func (t *Tensor) Contiguous() *Tensor { return unary(C.GT_U_CONTIGUOUS, "Contiguous", t) }

// Clone returns a copy with its own storage (gradients flow back to t).
func (t *Tensor) Clone() *Tensor { return unary(C.GT_U_CLONE, "Clone", t) }

// Detach returns a view of t outside the autograd graph.
func (t *Tensor) Detach() *Tensor { return unary(C.GT_U_DETACH, "Detach", t) }

// ZerosLike returns zeros of t's shape, dtype and device.
func (t *Tensor) ZerosLike() *Tensor { return unary(C.GT_U_ZEROS_LIKE, "ZerosLike", t) }

// OnesLike returns ones of t's shape, dtype and device.
func (t *Tensor) OnesLike() *Tensor { return unary(C.GT_U_ONES_LIKE, "OnesLike", t) }

// Add returns t+o (broadcasting).
func (t *Tensor) Add(o *Tensor) *Tensor { return binary(C.GT_B_ADD, "Add", t, o) }

// Sub returns t-o (broadcasting).
func (t *Tensor) Sub(o *Tensor) *Tensor { return binary(C.GT_B_SUB, "Sub", t, o) }

// Mul returns t*o elementwise (broadcasting).
func (t *Tensor) Mul(o *Tensor) *Tensor { return binary(C.GT_B_MUL, "Mul", t, o) }

// Div returns t/o elementwise (true division, broadcasting).
func (t *Tensor) Div(o *Tensor) *Tensor { return binary(C.GT_B_DIV, "Div", t, o) }

// Matmul returns the matrix product with NumPy's broadcasting rules for batches.
func (t *Tensor) Matmul(o *Tensor) *Tensor { return binary(C.GT_B_MATMUL, "Matmul", t, o) }

// PowTensor returns t^o elementwise.
func (t *Tensor) PowTensor(o *Tensor) *Tensor { return binary(C.GT_B_POW, "PowTensor", t, o) }

// Maximum returns the elementwise maximum.
func (t *Tensor) Maximum(o *Tensor) *Tensor { return binary(C.GT_B_MAXIMUM, "Maximum", t, o) }

// Minimum returns the elementwise minimum.
func (t *Tensor) Minimum(o *Tensor) *Tensor { return binary(C.GT_B_MINIMUM, "Minimum", t, o) }

// Eq returns t == o elementwise as bool.
func (t *Tensor) Eq(o *Tensor) *Tensor { return binary(C.GT_B_EQ, "Eq", t, o) }

// Ne returns t != o elementwise as bool.
func (t *Tensor) Ne(o *Tensor) *Tensor { return binary(C.GT_B_NE, "Ne", t, o) }

// Lt returns t < o elementwise as bool.
func (t *Tensor) Lt(o *Tensor) *Tensor { return binary(C.GT_B_LT, "Lt", t, o) }

// Le returns t <= o elementwise as bool.
func (t *Tensor) Le(o *Tensor) *Tensor { return binary(C.GT_B_LE, "Le", t, o) }

// Gt returns t > o elementwise as bool.
func (t *Tensor) Gt(o *Tensor) *Tensor { return binary(C.GT_B_GT, "Gt", t, o) }

// Ge returns t >= o elementwise as bool.
func (t *Tensor) Ge(o *Tensor) *Tensor { return binary(C.GT_B_GE, "Ge", t, o) }

// LogicalAnd returns t && o elementwise as bool.
func (t *Tensor) LogicalAnd(o *Tensor) *Tensor {
	return binary(C.GT_B_LOGICAL_AND, "LogicalAnd", t, o)
}

// LogicalOr returns t || o elementwise as bool.
func (t *Tensor) LogicalOr(o *Tensor) *Tensor { return binary(C.GT_B_LOGICAL_OR, "LogicalOr", t, o) }

// AddScalar returns t+v. On integral tensors an integral v keeps the dtype.
func (t *Tensor) AddScalar(v float64) *Tensor { return binaryScalar(C.GT_B_ADD, "AddScalar", t, v) }

// SubScalar returns t-v.
func (t *Tensor) SubScalar(v float64) *Tensor { return binaryScalar(C.GT_B_SUB, "SubScalar", t, v) }

// MulScalar returns t*v.
func (t *Tensor) MulScalar(v float64) *Tensor { return binaryScalar(C.GT_B_MUL, "MulScalar", t, v) }

// DivScalar returns t/v.
func (t *Tensor) DivScalar(v float64) *Tensor { return binaryScalar(C.GT_B_DIV, "DivScalar", t, v) }

// Pow returns t^e elementwise.
func (t *Tensor) Pow(e float64) *Tensor { return binaryScalar(C.GT_B_POW, "Pow", t, e) }

// PowBase returns base^t elementwise (a scalar base raised to each element).
func (t *Tensor) PowBase(base float64) *Tensor {
	return binaryScalar(C.GT_B_RPOW, "PowBase", t, base)
}

// EqScalar returns t == v elementwise as bool.
func (t *Tensor) EqScalar(v float64) *Tensor { return binaryScalar(C.GT_B_EQ, "EqScalar", t, v) }

// LtScalar returns t < v elementwise as bool.
func (t *Tensor) LtScalar(v float64) *Tensor { return binaryScalar(C.GT_B_LT, "LtScalar", t, v) }

// GtScalar returns t > v elementwise as bool.
func (t *Tensor) GtScalar(v float64) *Tensor { return binaryScalar(C.GT_B_GT, "GtScalar", t, v) }

// Clamp limits t to [lo, hi]; pass math.Inf(-1) or math.Inf(1) to leave a side open.
func (t *Tensor) Clamp(lo, hi float64) *Tensor {
	var out C.gt_tensor
	hasLo, hasHi := !math.IsInf(lo, -1), !math.IsInf(hi, 1)
	err := C.gt_clamp(t.c("Clamp"), cbool(hasLo), C.double(lo), cbool(hasHi), C.double(hi), &out)
	runtime.KeepAlive(t)
	return result(err, "Clamp", out)
}

// Linear returns x·wᵀ + b for a weight w of shape [out, in]; b may be nil.
func Linear(x, w, b *Tensor) *Tensor {
	var bh C.gt_tensor // 0: no bias
	if b != nil {
		bh = b.c("Linear")
	}
	var out C.gt_tensor
	err := C.gt_linear(x.c("Linear"), w.c("Linear"), bh, &out)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
	return result(err, "Linear", out)
}

// Where returns a where cond is true, else b (broadcasting).
func Where(cond, a, b *Tensor) *Tensor {
	var out C.gt_tensor
	err := C.gt_where(cond.c("Where"), a.c("Where"), b.c("Where"), &out)
	runtime.KeepAlive(cond)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return result(err, "Where", out)
}

// MaskedFill returns t with value written where mask (bool, broadcastable) is true.
func (t *Tensor) MaskedFill(mask *Tensor, value float64) *Tensor {
	var out C.gt_tensor
	err := C.gt_masked_fill(t.c("MaskedFill"), mask.c("MaskedFill"), C.double(value), &out)
	runtime.KeepAlive(t)
	runtime.KeepAlive(mask)
	return result(err, "MaskedFill", out)
}

// Triu keeps the elements on and above the given diagonal of the last two dimensions.
func (t *Tensor) Triu(diagonal int64) *Tensor { return t.triangle(true, diagonal, "Triu") }

// Tril keeps the elements on and below the given diagonal of the last two dimensions.
func (t *Tensor) Tril(diagonal int64) *Tensor { return t.triangle(false, diagonal, "Tril") }

func (t *Tensor) triangle(upper bool, diagonal int64, name string) *Tensor {
	var out C.gt_tensor
	err := C.gt_triangle(t.c(name), cbool(upper), C.int64_t(diagonal), &out)
	runtime.KeepAlive(t)
	return result(err, name, out)
}

// ---- reductions ----

func (t *Tensor) reduce(op C.int, name string, keepdim bool, dims []int64) *Tensor {
	var out C.gt_tensor
	dp, n := shapeArg(dims)
	err := C.gt_reduce(op, t.c(name), dp, n, cbool(keepdim), &out)
	runtime.KeepAlive(t)
	return result(err, name, out)
}

// Sum sums over dims (every dimension when none are given).
func (t *Tensor) Sum(keepdim bool, dims ...int64) *Tensor {
	return t.reduce(C.GT_R_SUM, "Sum", keepdim, dims)
}

// Mean averages over dims (every dimension when none are given).
func (t *Tensor) Mean(keepdim bool, dims ...int64) *Tensor {
	return t.reduce(C.GT_R_MEAN, "Mean", keepdim, dims)
}

// Amax returns the maximum over dims (every dimension when none are given).
func (t *Tensor) Amax(keepdim bool, dims ...int64) *Tensor {
	return t.reduce(C.GT_R_AMAX, "Amax", keepdim, dims)
}

// Amin returns the minimum over dims (every dimension when none are given).
func (t *Tensor) Amin(keepdim bool, dims ...int64) *Tensor {
	return t.reduce(C.GT_R_AMIN, "Amin", keepdim, dims)
}

// LogSumExp returns log(sum(exp(t))) over dims, computed stably.
func (t *Tensor) LogSumExp(keepdim bool, dims ...int64) *Tensor {
	return t.reduce(C.GT_R_LOGSUMEXP, "LogSumExp", keepdim, dims)
}

// Var returns the unbiased variance over dims (every dimension when none are given).
func (t *Tensor) Var(keepdim bool, dims ...int64) *Tensor {
	return t.reduce(C.GT_R_VAR, "Var", keepdim, dims)
}

// Std returns the unbiased standard deviation over dims (every dimension when none are given).
func (t *Tensor) Std(keepdim bool, dims ...int64) *Tensor {
	return t.reduce(C.GT_R_STD, "Std", keepdim, dims)
}

// Norm returns the vector p-norm over dims (every dimension when none are given).
func (t *Tensor) Norm(p float64, keepdim bool, dims ...int64) *Tensor {
	var out C.gt_tensor
	dp, n := shapeArg(dims)
	err := C.gt_norm(t.c("Norm"), C.double(p), dp, n, cbool(keepdim), &out)
	runtime.KeepAlive(t)
	return result(err, "Norm", out)
}

// Argmax returns the indices of the maxima along dim.
func (t *Tensor) Argmax(dim int64, keepdim bool) *Tensor {
	var out C.gt_tensor
	err := C.gt_argmax(t.c("Argmax"), C.int64_t(dim), cbool(keepdim), &out)
	runtime.KeepAlive(t)
	return result(err, "Argmax", out)
}

// Cumsum returns the cumulative sum along dim.
func (t *Tensor) Cumsum(dim int64) *Tensor {
	var out C.gt_tensor
	err := C.gt_cumsum(t.c("Cumsum"), C.int64_t(dim), &out)
	runtime.KeepAlive(t)
	return result(err, "Cumsum", out)
}

// TopK returns the k largest (or smallest) values along dim, sorted, and their indices.
func (t *Tensor) TopK(k, dim int64, largest bool) (values, indices *Tensor) {
	var v, i C.gt_tensor
	err := C.gt_topk(t.c("TopK"), C.int64_t(k), C.int64_t(dim), cbool(largest), &v, &i)
	runtime.KeepAlive(t)
	check(err, "TopK")
	return wrapHandle(v), wrapHandle(i)
}

// Sort sorts along dim and returns the values and their original indices.
func (t *Tensor) Sort(dim int64, descending bool) (values, indices *Tensor) {
	var v, i C.gt_tensor
	err := C.gt_sort(t.c("Sort"), C.int64_t(dim), cbool(descending), &v, &i)
	runtime.KeepAlive(t)
	check(err, "Sort")
	return wrapHandle(v), wrapHandle(i)
}

// Multinomial draws n indices per row from the (unnormalised, non-negative) weights in t.
// g may be nil for the device's default generator.
func (t *Tensor) Multinomial(n int64, replacement bool, g *Generator) *Tensor {
	var out C.gt_tensor
	err := C.gt_multinomial(t.c("Multinomial"), C.int64_t(n), cbool(replacement), g.c(), &out)
	runtime.KeepAlive(t)
	runtime.KeepAlive(g)
	return result(err, "Multinomial", out)
}

// ---- neural-network functions ----

// Softmax normalises exp(t) along dim.
func (t *Tensor) Softmax(dim int64) *Tensor { return t.softmax(dim, false, "Softmax") }

// LogSoftmax returns log(softmax(t)) along dim, computed stably.
func (t *Tensor) LogSoftmax(dim int64) *Tensor { return t.softmax(dim, true, "LogSoftmax") }

func (t *Tensor) softmax(dim int64, log bool, name string) *Tensor {
	var out C.gt_tensor
	err := C.gt_softmax(t.c(name), C.int64_t(dim), cbool(log), &out)
	runtime.KeepAlive(t)
	return result(err, name, out)
}

// Embedding looks up the rows of weight [vocab, dim] for the integer ids.
func Embedding(weight, ids *Tensor) *Tensor {
	var out C.gt_tensor
	err := C.gt_embedding(weight.c("Embedding"), ids.c("Embedding"), &out)
	runtime.KeepAlive(weight)
	runtime.KeepAlive(ids)
	return result(err, "Embedding", out)
}

// Reduction says how a loss combines its per-element values.
type Reduction int

// Reductions. The zero value is ReduceMean, libtorch's default.
const (
	ReduceMean Reduction = iota
	ReduceSum
	ReduceNone
)

func (r Reduction) c() C.int {
	switch r {
	case ReduceSum:
		return C.GT_REDUCTION_SUM
	case ReduceNone:
		return C.GT_REDUCTION_NONE
	}
	return C.GT_REDUCTION_MEAN
}

// CrossEntropyOptions configures CrossEntropy. The zero value means: mean over the targets,
// no ignored index, no label smoothing.
type CrossEntropyOptions struct {
	Reduction      Reduction // ReduceMean (the zero value), ReduceSum or ReduceNone
	IgnoreIndex    int64     // targets equal to it contribute nothing (when HasIgnoreIndex)
	HasIgnoreIndex bool
	LabelSmoothing float64
}

// CrossEntropy returns the cross-entropy between logits [N, C] and integer targets [N].
// Targets equal to opts.IgnoreIndex (when HasIgnoreIndex) are left out of sum and mean.
func CrossEntropy(logits, target *Tensor, opts CrossEntropyOptions) *Tensor {
	ignore := int64(math.MinInt64)
	if opts.HasIgnoreIndex {
		ignore = opts.IgnoreIndex
	}
	var out C.gt_tensor
	err := C.gt_cross_entropy(logits.c("CrossEntropy"), target.c("CrossEntropy"), C.int64_t(ignore), opts.Reduction.c(), C.double(opts.LabelSmoothing), &out)
	runtime.KeepAlive(logits)
	runtime.KeepAlive(target)
	return result(err, "CrossEntropy", out)
}

// HeadCrossEntropyOptions configures HeadCrossEntropy.
type HeadCrossEntropyOptions struct {
	Reduction      Reduction // ReduceMean (the zero value) or ReduceSum
	IgnoreIndex    int64     // targets equal to it contribute nothing (when HasIgnoreIndex)
	HasIgnoreIndex bool
	Chunk          int64 // rows per chunk (0: 1024)
	// Compute is the dtype of the matrix products when HasCompute (e.g. BFloat16 for mixed
	// precision); otherwise x's dtype. The loss is accumulated in float32 either way.
	Compute    DType
	HasCompute bool
}

// HeadCrossEntropy is CrossEntropy(Linear(x, weight), targets) for x [N, H], weight [V, H] and
// targets [N], computed over chunks of rows so that the [N, V] logits never exist whole: with
// gradients recorded, each chunk's logit gradient is computed in the forward pass and folded
// into the gradients of x and weight at once (as llm.c does), and backward only scales them.
// The result is a float32 scalar. Use it for training with large vocabularies or batches, where
// the logits and their gradient would dominate memory.
func HeadCrossEntropy(x, weight, targets *Tensor, opts HeadCrossEntropyOptions) *Tensor {
	ignore := int64(math.MinInt64)
	if opts.HasIgnoreIndex {
		ignore = opts.IgnoreIndex
	}
	if opts.Reduction == ReduceNone {
		fail("HeadCrossEntropy", "the reduction must be mean or sum")
	}
	chunk := opts.Chunk
	if chunk <= 0 {
		chunk = 1024
	}
	compute := C.int(-1)
	if opts.HasCompute {
		compute = C.int(opts.Compute)
	}
	var out C.gt_tensor
	err := C.gt_head_cross_entropy(x.c("HeadCrossEntropy"), weight.c("HeadCrossEntropy"), targets.c("HeadCrossEntropy"),
		C.int64_t(ignore), opts.Reduction.c(), C.int64_t(chunk), compute, &out)
	runtime.KeepAlive(x)
	runtime.KeepAlive(weight)
	runtime.KeepAlive(targets)
	return result(err, "HeadCrossEntropy", out)
}

// AttentionOptions configures ScaledDotProductAttention.
type AttentionOptions struct {
	Mask      *Tensor // optional bool (true = attend) or additive float mask
	Causal    bool    // attend only to earlier positions
	Scale     float64 // 0 means 1/sqrt(head dimension)
	Dropout   float64
	GroupedKV bool // allow fewer key/value heads than query heads (grouped-query attention)
}

// ScaledDotProductAttention computes softmax(q·kᵀ·scale + mask)·v for q [..., heads, L, E],
// k and v [..., kvheads, S, E], using libtorch's fused kernels where they apply.
func ScaledDotProductAttention(q, k, v *Tensor, opts AttentionOptions) *Tensor {
	var mh C.gt_tensor // 0: no mask
	if opts.Mask != nil {
		mh = opts.Mask.c("ScaledDotProductAttention")
	}
	scale := opts.Scale
	if scale <= 0 {
		scale = -1
	}
	var out C.gt_tensor
	err := C.gt_sdpa(q.c("ScaledDotProductAttention"), k.c("ScaledDotProductAttention"), v.c("ScaledDotProductAttention"), mh, C.double(opts.Dropout), cbool(opts.Causal), C.double(scale), cbool(opts.GroupedKV), &out)
	runtime.KeepAlive(q)
	runtime.KeepAlive(k)
	runtime.KeepAlive(v)
	runtime.KeepAlive(opts.Mask)
	return result(err, "ScaledDotProductAttention", out)
}

// RMSNorm normalises the last dimension of x by its root mean square (plus eps) and scales it by
// weight (which may be nil).
func RMSNorm(x, weight *Tensor, eps float64) *Tensor {
	var wh C.gt_tensor // 0: no weight
	if weight != nil {
		wh = weight.c("RMSNorm")
	}
	var out C.gt_tensor
	err := C.gt_rms_norm(x.c("RMSNorm"), wh, C.double(eps), &out)
	runtime.KeepAlive(x)
	runtime.KeepAlive(weight)
	return result(err, "RMSNorm", out)
}

// RMSNormNative is RMSNorm through libtorch's at::rms_norm, on every device. RMSNorm itself uses
// it on CUDA, where it is one fused kernel forward and backward; on the CPU the composite formula
// (HF's, op for op) is faster. Tests compare the two there.
func RMSNormNative(x, weight *Tensor, eps float64) *Tensor {
	var wh C.gt_tensor // 0: no weight
	if weight != nil {
		wh = weight.c("RMSNormNative")
	}
	var out C.gt_tensor
	err := C.gt_rms_norm_native(x.c("RMSNormNative"), wh, C.double(eps), &out)
	runtime.KeepAlive(x)
	runtime.KeepAlive(weight)
	return result(err, "RMSNormNative", out)
}

// SwiGLU returns silu(gate) * up elementwise (the inner product of a SwiGLU MLP); gate and up
// have the same shape.
func SwiGLU(gate, up *Tensor) *Tensor {
	var out C.gt_tensor
	err := C.gt_swiglu(gate.c("SwiGLU"), up.c("SwiGLU"), &out)
	runtime.KeepAlive(gate)
	runtime.KeepAlive(up)
	return result(err, "SwiGLU", out)
}

// Rotary applies rotary position embeddings in HF's rotate-half layout,
// x*cos + rotate_half(x)*sin with rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2]), to x
// [..., T, D] (D even; a transposed view is fine). cos and sin hold the T*D table values
// ([T, D], or broadcast-shaped like [1, 1, T, D]).
func Rotary(x, cos, sin *Tensor) *Tensor {
	var out C.gt_tensor
	err := C.gt_rope(x.c("Rotary"), cos.c("Rotary"), sin.c("Rotary"), &out)
	runtime.KeepAlive(x)
	runtime.KeepAlive(cos)
	runtime.KeepAlive(sin)
	return result(err, "Rotary", out)
}

// SetFusedKernels selects, for every thread, whether RMSNorm, Rotary and CrossEntropy
// (sum or mean, no label smoothing) run libgrowthtorch's fused one-pass CPU kernels on float32
// tensors that need no gradient, or always the composite ATen formulas. They are off until Init
// (Runtime.FusedKernels) or this call turns them on. The fused results agree with the composite
// ones to a few units in the last place (Rotary: bit for bit); whenever gradients are recorded
// the composite formulas run regardless.
func SetFusedKernels(on bool) {
	v := C.int(0)
	if on {
		v = 1
	}
	C.gt_set_fused(v)
}

// FusedKernels reports whether the fused CPU kernels are enabled (see SetFusedKernels).
func FusedKernels() bool { return C.gt_fused() != 0 }

// FusedKernelISA returns the instruction set the fused CPU kernels use on this machine:
// "avx512", "avx2" (with FMA), or "none" (no vector path: the composite formulas run).
func FusedKernelISA() string { return isaNames[C.gt_fused_level(-1)] }

// LimitFusedKernelISA restricts the fused CPU kernels to at most isa ("avx512", "avx2" or
// "none"; the CPU's own capability still bounds it), to compare or test the slower paths.
func LimitFusedKernelISA(isa string) {
	for level, name := range isaNames {
		if name == isa {
			C.gt_fused_level(C.int(level))
			return
		}
	}
	fail("LimitFusedKernelISA", "unknown instruction set %q (want avx512, avx2 or none)", isa)
}

var isaNames = [...]string{"none", "avx2", "avx512"}

// ---- views and indexing ----

func (t *Tensor) shapeOp(op C.int, name string, dims []int64) *Tensor {
	var out C.gt_tensor
	dp, n := shapeArg(dims)
	err := C.gt_shape_op(op, t.c(name), dp, n, &out)
	runtime.KeepAlive(t)
	return result(err, name, out)
}

// View returns a view with a new shape (one dimension may be -1); t must be viewable so.
func (t *Tensor) View(shape ...int64) *Tensor { return t.shapeOp(C.GT_SHAPE_VIEW, "View", shape) }

// Reshape returns t with a new shape, as a view when possible, else a copy.
func (t *Tensor) Reshape(shape ...int64) *Tensor {
	return t.shapeOp(C.GT_SHAPE_RESHAPE, "Reshape", shape)
}

// Permute reorders the dimensions.
func (t *Tensor) Permute(dims ...int64) *Tensor {
	return t.shapeOp(C.GT_SHAPE_PERMUTE, "Permute", dims)
}

// Expand broadcasts size-1 dimensions to shape without copying (-1 keeps a size).
func (t *Tensor) Expand(shape ...int64) *Tensor {
	return t.shapeOp(C.GT_SHAPE_EXPAND, "Expand", shape)
}

// Transpose swaps dimensions d0 and d1.
func (t *Tensor) Transpose(d0, d1 int64) *Tensor {
	var out C.gt_tensor
	err := C.gt_transpose(t.c("Transpose"), C.int64_t(d0), C.int64_t(d1), &out)
	runtime.KeepAlive(t)
	return result(err, "Transpose", out)
}

// Unsqueeze inserts a dimension of size 1 at dim.
func (t *Tensor) Unsqueeze(dim int64) *Tensor {
	var out C.gt_tensor
	err := C.gt_unsqueeze(t.c("Unsqueeze"), C.int64_t(dim), &out)
	runtime.KeepAlive(t)
	return result(err, "Unsqueeze", out)
}

// Squeeze removes dimension dim if its size is 1.
func (t *Tensor) Squeeze(dim int64) *Tensor {
	var out C.gt_tensor
	err := C.gt_squeeze(t.c("Squeeze"), C.int64_t(dim), &out)
	runtime.KeepAlive(t)
	return result(err, "Squeeze", out)
}

// Flatten merges dimensions start..end (inclusive; negative counts from the end).
func (t *Tensor) Flatten(start, end int64) *Tensor {
	var out C.gt_tensor
	err := C.gt_flatten(t.c("Flatten"), C.int64_t(start), C.int64_t(end), &out)
	runtime.KeepAlive(t)
	return result(err, "Flatten", out)
}

// End stands for "to the end of the dimension" in Slice.
const End = math.MaxInt64

// Slice returns the view t[start:end:step] along dim (negative indices count from the end;
// End for the end).
func (t *Tensor) Slice(dim, start, end, step int64) *Tensor {
	var out C.gt_tensor
	err := C.gt_slice(t.c("Slice"), C.int64_t(dim), C.int64_t(start), C.int64_t(end), C.int64_t(step), &out)
	runtime.KeepAlive(t)
	return result(err, "Slice", out)
}

// Narrow returns the view of length elements from start along dim, like torch.narrow: a
// negative start counts from the end, and a range outside the dimension is an error.
func (t *Tensor) Narrow(dim, start, length int64) *Tensor {
	size := t.Size(int(dim))
	if start < 0 {
		start += size
	}
	if start < 0 || length < 0 || start+length > size {
		fail("Narrow", "start %d and length %d do not fit in dimension %d of size %d", start, length, dim, size)
	}
	return t.Slice(dim, start, start+length, 1)
}

// IndexSelect gathers the entries of index (1-D integer) along dim.
func (t *Tensor) IndexSelect(dim int64, index *Tensor) *Tensor {
	var out C.gt_tensor
	err := C.gt_index_select(t.c("IndexSelect"), C.int64_t(dim), index.c("IndexSelect"), &out)
	runtime.KeepAlive(t)
	runtime.KeepAlive(index)
	return result(err, "IndexSelect", out)
}

// Gather picks values along dim at the positions in index (same rank as t).
func (t *Tensor) Gather(dim int64, index *Tensor) *Tensor {
	var out C.gt_tensor
	err := C.gt_gather(t.c("Gather"), C.int64_t(dim), index.c("Gather"), &out)
	runtime.KeepAlive(t)
	runtime.KeepAlive(index)
	return result(err, "Gather", out)
}

// Cat concatenates tensors along an existing dimension.
func Cat(ts []*Tensor, dim int64) *Tensor { return catStack(ts, dim, false, "Cat") }

// Stack joins tensors of equal shape along a new dimension.
func Stack(ts []*Tensor, dim int64) *Tensor { return catStack(ts, dim, true, "Stack") }

func catStack(ts []*Tensor, dim int64, stack bool, name string) *Tensor {
	hs := handles(name, ts)
	var out C.gt_tensor
	err := C.gt_cat(handlesArg(hs), C.int64_t(len(hs)), C.int64_t(dim), cbool(stack), &out)
	runtime.KeepAlive(ts)
	return result(err, name, out)
}

// Chunk splits t into n equal views along dim; the size of dim must divide by n.
func (t *Tensor) Chunk(n int, dim int64) []*Tensor {
	if n <= 0 {
		fail("Chunk", "number of chunks must be positive, got %d", n)
	}
	hs := make([]C.gt_tensor, n)
	err := C.gt_chunk(t.c("Chunk"), C.int64_t(n), C.int64_t(dim), &hs[0])
	runtime.KeepAlive(t)
	check(err, "Chunk")
	out := make([]*Tensor, n)
	for i, h := range hs {
		out[i] = wrapHandle(h)
	}
	return out
}

// ---- conversion ----

func (t *Tensor) to(dtype C.int, devType, devIndex C.int, copy bool, name string) *Tensor {
	var out C.gt_tensor
	err := C.gt_to(t.c(name), dtype, devType, devIndex, cbool(copy), &out)
	runtime.KeepAlive(t)
	return result(err, name, out)
}

// To converts to dtype (a new handle to t itself when it already has that dtype).
func (t *Tensor) To(dtype DType) *Tensor { return t.to(C.int(dtype), -1, 0, false, "To") }

// ToDevice moves to device (a new handle to t itself when it is already there).
func (t *Tensor) ToDevice(d Device) *Tensor {
	return t.to(-1, C.int(d.Type), C.int(d.Index), false, "ToDevice")
}

// ToDeviceDType moves to device and converts to dtype in one step.
func (t *Tensor) ToDeviceDType(d Device, dtype DType) *Tensor {
	return t.to(C.int(dtype), C.int(d.Type), C.int(d.Index), false, "ToDeviceDType")
}

// ---- in-place updates (for parameters and buffers; they return t) ----

func (t *Tensor) inplace(op C.int, name string, o *Tensor, alpha float64) *Tensor {
	err := C.gt_inplace(op, t.c(name), o.c(name), C.double(alpha))
	runtime.KeepAlive(t)
	runtime.KeepAlive(o)
	check(err, name)
	return t
}

func (t *Tensor) inplaceScalar(op C.int, name string, v float64) *Tensor {
	err := C.gt_inplace_scalar(op, t.c(name), C.double(v))
	runtime.KeepAlive(t)
	check(err, name)
	return t
}

// AddInPlace does t += alpha*o.
func (t *Tensor) AddInPlace(o *Tensor, alpha float64) *Tensor {
	return t.inplace(C.GT_I_ADD, "AddInPlace", o, alpha)
}

// SubInPlace does t -= alpha*o.
func (t *Tensor) SubInPlace(o *Tensor, alpha float64) *Tensor {
	return t.inplace(C.GT_I_SUB, "SubInPlace", o, alpha)
}

// MulInPlace does t *= o.
func (t *Tensor) MulInPlace(o *Tensor) *Tensor { return t.inplace(C.GT_I_MUL, "MulInPlace", o, 1) }

// DivInPlace does t /= o.
func (t *Tensor) DivInPlace(o *Tensor) *Tensor { return t.inplace(C.GT_I_DIV, "DivInPlace", o, 1) }

// CopyFrom copies src's values into t (broadcasting, converting dtype and device).
func (t *Tensor) CopyFrom(src *Tensor) *Tensor { return t.inplace(C.GT_I_COPY, "CopyFrom", src, 1) }

// AddScalarInPlace does t += v.
func (t *Tensor) AddScalarInPlace(v float64) *Tensor {
	return t.inplaceScalar(C.GT_I_ADD, "AddScalarInPlace", v)
}

// MulScalarInPlace does t *= v.
func (t *Tensor) MulScalarInPlace(v float64) *Tensor {
	return t.inplaceScalar(C.GT_I_MUL, "MulScalarInPlace", v)
}

// Fill sets every element to v.
func (t *Tensor) Fill(v float64) *Tensor { return t.inplaceScalar(C.GT_I_COPY, "Fill", v) }

// Zero sets every element to 0.
func (t *Tensor) Zero() *Tensor {
	err := C.gt_zero_(t.c("Zero"))
	runtime.KeepAlive(t)
	check(err, "Zero")
	return t
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
