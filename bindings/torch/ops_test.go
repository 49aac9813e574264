package torch_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// Hand-computed expectations for the operations of ops.go, factory.go and tensor.go. Every
// expected value here is written out or derived with Go's math package; nothing comes from
// libtorch itself (parity_test.go does that).

// ---- helpers shared by ops_test.go, parity_test.go, gradcheck_test.go and optim_test.go ----

// chkVals compares got with want elementwise: |got-want| <= atol + rtol*|want|. Infinities must
// match exactly and NaN must meet NaN. It returns the largest absolute difference seen.
func chkVals(t testing.TB, what string, got, want []float64, atol, rtol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d\n got  %v\n want %v", what, len(got), len(want), got, want)
		return math.Inf(1)
	}
	maxErr, bad := 0.0, 0
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case math.IsNaN(w) || math.IsNaN(g):
			if math.IsNaN(w) != math.IsNaN(g) {
				bad++
				if bad <= 5 {
					t.Errorf("%s[%d]: got %v, want %v", what, i, g, w)
				}
			}
			continue
		case math.IsInf(w, 0) || math.IsInf(g, 0):
			if g != w {
				bad++
				if bad <= 5 {
					t.Errorf("%s[%d]: got %v, want %v", what, i, g, w)
				}
			}
			continue
		}
		d := math.Abs(g - w)
		maxErr = max(maxErr, d)
		if d > atol+rtol*math.Abs(w) {
			bad++
			if bad <= 5 {
				t.Errorf("%s[%d]: got %.10g, want %.10g (diff %.3g > %.3g + %.3g*|want|)", what, i, g, w, d, atol, rtol)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d values out of tolerance", what, bad, len(got))
	}
	return maxErr
}

// chkTensor checks a tensor's dtype, shape and values (read as float64).
func chkTensor(t testing.TB, what string, x *torch.Tensor, dtype torch.DType, shape []int64, want []float64, tol float64) {
	t.Helper()
	if x == nil {
		t.Fatalf("%s: nil tensor", what)
	}
	if got := x.DType(); got != dtype {
		t.Errorf("%s: dtype %v, want %v", what, got, dtype)
	}
	if got := x.Shape(); !slices.Equal(got, shape) {
		t.Errorf("%s: shape %v, want %v", what, got, shape)
	}
	chkVals(t, what, x.Float64s(), want, tol, tol)
}

// chkErrCode checks that f panics with a *torch.Error of the given code.
func chkErrCode(t testing.TB, what string, code torch.ErrorCode, f func()) {
	t.Helper()
	err := torch.Try(f)
	var te *torch.Error
	if !errors.As(err, &te) {
		t.Fatalf("%s: got error %v, want a *torch.Error with code %d", what, err, code)
	}
	if te.Code != code {
		t.Fatalf("%s: code %d (%v), want %d", what, te.Code, te, code)
	}
}

// chkScoped runs f inside a torch scope, failing the test (instead of crashing the binary) when f
// panics with a *torch.Error.
func chkScoped(t testing.TB, f func()) {
	t.Helper()
	var err error
	torch.WithScope(func(*torch.Scope) { err = torch.Try(f) })
	if err != nil {
		t.Fatalf("unexpected torch error: %v", err)
	}
}

// arangeValues returns 0, 1, ..., n-1.
func arangeValues(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i)
	}
	return out
}

// permutedArange returns the row-major values of arange(prod(shape)).view(shape).permute(perm).
func permutedArange(shape []int64, perm []int) []float64 {
	n := 1
	for _, s := range shape {
		n *= int(s)
	}
	strides := make([]int, len(shape))
	st := 1
	for i := len(shape) - 1; i >= 0; i-- {
		strides[i] = st
		st *= int(shape[i])
	}
	newShape := make([]int, len(perm))
	for i, p := range perm {
		newShape[i] = int(shape[p])
	}
	out := make([]float64, 0, n)
	idx := make([]int, len(perm))
	for range n {
		off := 0
		for i, p := range perm {
			off += idx[i] * strides[p]
		}
		out = append(out, float64(off))
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < newShape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// opsCase is one hand-computed expectation: run builds the result inside a scope.
type opsCase struct {
	name  string
	run   func() *torch.Tensor
	dtype torch.DType
	shape []int64
	want  []float64
	tol   float64 // absolute and relative; 0 means 1e-6
}

func runOpsCases(t *testing.T, cases []opsCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tol := c.tol
			if tol == 0 {
				tol = 1e-6
			}
			chkScoped(t, func() { chkTensor(t, c.name, c.run(), c.dtype, c.shape, c.want, tol) })
		})
	}
}

// Short constructors for the tables.
func tF32(data []float32, shape ...int64) *torch.Tensor { return torch.FromSlice(data, shape...) }
func tF64(data []float64, shape ...int64) *torch.Tensor { return torch.FromSlice(data, shape...) }
func tI64(data []int64, shape ...int64) *torch.Tensor   { return torch.FromSlice(data, shape...) }
func tBool(data []bool, shape ...int64) *torch.Tensor   { return torch.FromSlice(data, shape...) }

// ---- elementwise ----

func TestOpsElementwise(t *testing.T) {
	ln2, ln3 := math.Ln2, math.Log(3)
	sigm := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	phi := func(x float64) float64 { return 0.5 * (1 + math.Erf(x/math.Sqrt2)) }
	inf := math.Inf(1)
	runOpsCases(t, []opsCase{
		{"Add/broadcast-row", func() *torch.Tensor {
			return tF32([]float32{1, 2, 3, 4, 5, 6}, 2, 3).Add(tF32([]float32{10, 20, 30}))
		}, torch.Float32, []int64{2, 3}, []float64{11, 22, 33, 14, 25, 36}, 0},
		{"Sub/outer-broadcast", func() *torch.Tensor {
			return tF32([]float32{1, 2}, 2, 1).Sub(tF32([]float32{1, 2, 3}, 1, 3))
		}, torch.Float32, []int64{2, 3}, []float64{0, -1, -2, 1, 0, -1}, 0},
		{"Mul/zero-dim-broadcast", func() *torch.Tensor {
			return tF32([]float32{1, 2, 3, 4}, 2, 2).Mul(torch.Scalar(0.5))
		}, torch.Float32, []int64{2, 2}, []float64{0.5, 1, 1.5, 2}, 0},
		{"Div/float", func() *torch.Tensor {
			return tF32([]float32{1, 3, -6}).Div(tF32([]float32{4, 2, 3}))
		}, torch.Float32, []int64{3}, []float64{0.25, 1.5, -2}, 0},
		{"Div/int64-true-division", func() *torch.Tensor {
			return tI64([]int64{1, 2, 3}).Div(tI64([]int64{2, 2, 2}))
		}, torch.Float32, []int64{3}, []float64{0.5, 1, 1.5}, 0},
		{"Add/int64+float32-promotes", func() *torch.Tensor {
			return tI64([]int64{1, 2}).Add(tF32([]float32{0.5, 0.5}))
		}, torch.Float32, []int64{2}, []float64{1.5, 2.5}, 0},
		{"Add/float32+float64-promotes", func() *torch.Tensor {
			return tF32([]float32{1}).Add(tF64([]float64{0.25}))
		}, torch.Float64, []int64{1}, []float64{1.25}, 0},
		{"AddScalar/int64-stays-int64", func() *torch.Tensor {
			return tI64([]int64{1, 2, 3}).AddScalar(1)
		}, torch.Int64, []int64{3}, []float64{2, 3, 4}, 0},
		{"AddScalar/int64-fraction-promotes", func() *torch.Tensor {
			return tI64([]int64{1, 2}).AddScalar(0.5)
		}, torch.Float32, []int64{2}, []float64{1.5, 2.5}, 0},
		{"AddScalar/float32", func() *torch.Tensor {
			return tF32([]float32{1, -1}).AddScalar(0.25)
		}, torch.Float32, []int64{2}, []float64{1.25, -0.75}, 0},
		{"SubScalar/int64", func() *torch.Tensor {
			return tI64([]int64{5, 0}).SubScalar(2)
		}, torch.Int64, []int64{2}, []float64{3, -2}, 0},
		{"SubScalar/float32", func() *torch.Tensor {
			return tF32([]float32{1, 2}).SubScalar(0.25)
		}, torch.Float32, []int64{2}, []float64{0.75, 1.75}, 0},
		{"MulScalar/int64-stays-int64", func() *torch.Tensor {
			return tI64([]int64{1, -2}).MulScalar(3)
		}, torch.Int64, []int64{2}, []float64{3, -6}, 0},
		{"MulScalar/bfloat16-stays-bfloat16", func() *torch.Tensor {
			return tF32([]float32{1.5, -2}).To(torch.BFloat16).MulScalar(2)
		}, torch.BFloat16, []int64{2}, []float64{3, -4}, 0},
		{"DivScalar/int64-true-division", func() *torch.Tensor {
			return tI64([]int64{1, 4}).DivScalar(2)
		}, torch.Float32, []int64{2}, []float64{0.5, 2}, 0},
		{"DivScalar/float64", func() *torch.Tensor {
			return tF64([]float64{1, 3}).DivScalar(4)
		}, torch.Float64, []int64{2}, []float64{0.25, 0.75}, 0},
		{"Pow/2", func() *torch.Tensor { return tF32([]float32{-2, 3}).Pow(2) },
			torch.Float32, []int64{2}, []float64{4, 9}, 0},
		{"Pow/3", func() *torch.Tensor { return tF32([]float32{-2, 1.5}).Pow(3) },
			torch.Float32, []int64{2}, []float64{-8, 3.375}, 0},
		{"Pow/0.5", func() *torch.Tensor { return tF32([]float32{4, 9, 2}).Pow(0.5) },
			torch.Float32, []int64{3}, []float64{2, 3, math.Sqrt2}, 0},
		{"Pow/-1", func() *torch.Tensor { return tF64([]float64{4, -0.5}).Pow(-1) },
			torch.Float64, []int64{2}, []float64{0.25, -2}, 1e-15},
		{"Pow/int64-integral-exponent", func() *torch.Tensor { return tI64([]int64{2, 3}).Pow(2) },
			torch.Int64, []int64{2}, []float64{4, 9}, 0},
		{"PowBase/float32", func() *torch.Tensor { return tF32([]float32{0, 1, -1, 0.5}).PowBase(2) },
			torch.Float32, []int64{4}, []float64{1, 2, 0.5, math.Sqrt2}, 0},
		{"PowBase/e", func() *torch.Tensor { return tF64([]float64{1, 2, -1}).PowBase(math.E) },
			torch.Float64, []int64{3}, []float64{math.E, math.E * math.E, 1 / math.E}, 1e-14},
		{"PowBase/int64-stays-int64", func() *torch.Tensor { return tI64([]int64{0, 1, 3}).PowBase(2) },
			torch.Int64, []int64{3}, []float64{1, 2, 8}, 0},
		{"PowTensor/broadcast", func() *torch.Tensor {
			return tF32([]float32{2, 3}, 2, 1).PowTensor(tF32([]float32{0, 1, 2}))
		}, torch.Float32, []int64{2, 3}, []float64{1, 2, 4, 1, 3, 9}, 0},
		{"Rsqrt", func() *torch.Tensor { return tF32([]float32{1, 4, 16, 0.25}).Rsqrt() },
			torch.Float32, []int64{4}, []float64{1, 0.5, 0.25, 2}, 0},
		{"Sqrt", func() *torch.Tensor { return tF32([]float32{0, 2.25, 9}).Sqrt() },
			torch.Float32, []int64{3}, []float64{0, 1.5, 3}, 0},
		{"Silu", func() *torch.Tensor { return tF32([]float32{0, 1, -1, 2}).Silu() },
			torch.Float32, []int64{4}, []float64{0, sigm(1), -sigm(-1), 2 * sigm(2)}, 0},
		{"Silu/float64", func() *torch.Tensor { return tF64([]float64{0.5, -3}).Silu() },
			torch.Float64, []int64{2}, []float64{0.5 * sigm(0.5), -3 * sigm(-3)}, 1e-14},
		{"Sigmoid", func() *torch.Tensor { return tF64([]float64{0, ln3, -ln3}).Sigmoid() },
			torch.Float64, []int64{3}, []float64{0.5, 0.75, 0.25}, 1e-14},
		{"Sigmoid/float32", func() *torch.Tensor { return tF32([]float32{0, 2}).Sigmoid() },
			torch.Float32, []int64{2}, []float64{0.5, sigm(2)}, 0},
		{"Exp", func() *torch.Tensor { return tF64([]float64{0, 1, -1, ln2}).Exp() },
			torch.Float64, []int64{4}, []float64{1, math.E, 1 / math.E, 2}, 1e-14},
		{"Exp/float32", func() *torch.Tensor { return tF32([]float32{0, 1}).Exp() },
			torch.Float32, []int64{2}, []float64{1, math.E}, 0},
		{"Log", func() *torch.Tensor { return tF64([]float64{1, math.E, 0.5, 0}).Log() },
			torch.Float64, []int64{4}, []float64{0, 1, -ln2, math.Inf(-1)}, 1e-14},
		{"Log/float32", func() *torch.Tensor { return tF32([]float32{1, 2}).Log() },
			torch.Float32, []int64{2}, []float64{0, ln2}, 0},
		{"Neg", func() *torch.Tensor { return tF32([]float32{1, -2, 0}).Neg() },
			torch.Float32, []int64{3}, []float64{-1, 2, 0}, 0},
		{"Neg/int64", func() *torch.Tensor { return tI64([]int64{1, -2}).Neg() },
			torch.Int64, []int64{2}, []float64{-1, 2}, 0},
		{"Abs", func() *torch.Tensor { return tF32([]float32{-1.5, 2, 0}).Abs() },
			torch.Float32, []int64{3}, []float64{1.5, 2, 0}, 0},
		{"Square", func() *torch.Tensor { return tF32([]float32{-3, 0.5}).Square() },
			torch.Float32, []int64{2}, []float64{9, 0.25}, 0},
		{"Reciprocal", func() *torch.Tensor { return tF32([]float32{4, -0.5}).Reciprocal() },
			torch.Float32, []int64{2}, []float64{0.25, -2}, 0},
		{"Tanh", func() *torch.Tensor { return tF64([]float64{0, 0.5, -2}).Tanh() },
			torch.Float64, []int64{3}, []float64{0, math.Tanh(0.5), math.Tanh(-2)}, 1e-14},
		{"Relu", func() *torch.Tensor { return tF32([]float32{-1, 0, 2}).Relu() },
			torch.Float32, []int64{3}, []float64{0, 0, 2}, 0},
		{"Gelu/exact-erf", func() *torch.Tensor { return tF64([]float64{0, 1, -1, 2}).Gelu() },
			torch.Float64, []int64{4}, []float64{0, phi(1), -phi(-1), 2 * phi(2)}, 1e-14},
		{"Sin", func() *torch.Tensor { return tF64([]float64{0, math.Pi / 2, math.Pi / 6}).Sin() },
			torch.Float64, []int64{3}, []float64{0, 1, 0.5}, 1e-14},
		{"Cos", func() *torch.Tensor { return tF64([]float64{0, math.Pi, math.Pi / 3}).Cos() },
			torch.Float64, []int64{3}, []float64{1, -1, 0.5}, 1e-14},
		{"Sign", func() *torch.Tensor { return tF32([]float32{-3, 0, 2}).Sign() },
			torch.Float32, []int64{3}, []float64{-1, 0, 1}, 0},
		{"Floor", func() *torch.Tensor { return tF32([]float32{1.5, -1.5, 2}).Floor() },
			torch.Float32, []int64{3}, []float64{1, -2, 2}, 0},
		{"Maximum/broadcast", func() *torch.Tensor {
			return tF32([]float32{1, 5, 3, 0}, 2, 2).Maximum(tF32([]float32{2, 2}))
		}, torch.Float32, []int64{2, 2}, []float64{2, 5, 3, 2}, 0},
		{"Minimum", func() *torch.Tensor {
			return tF32([]float32{1, 5, 3}).Minimum(tF32([]float32{2, 2, 2}))
		}, torch.Float32, []int64{3}, []float64{1, 2, 2}, 0},
		{"Eq", func() *torch.Tensor { return tF32([]float32{1, 2, 3}).Eq(tF32([]float32{3, 2, 1})) },
			torch.Bool, []int64{3}, []float64{0, 1, 0}, 0},
		{"Ne", func() *torch.Tensor { return tF32([]float32{1, 2, 3}).Ne(tF32([]float32{3, 2, 1})) },
			torch.Bool, []int64{3}, []float64{1, 0, 1}, 0},
		{"Lt", func() *torch.Tensor { return tF32([]float32{1, 2, 3}).Lt(tF32([]float32{3, 2, 1})) },
			torch.Bool, []int64{3}, []float64{1, 0, 0}, 0},
		{"Le", func() *torch.Tensor { return tF32([]float32{1, 2, 3}).Le(tF32([]float32{3, 2, 1})) },
			torch.Bool, []int64{3}, []float64{1, 1, 0}, 0},
		{"Gt", func() *torch.Tensor { return tF32([]float32{1, 2, 3}).Gt(tF32([]float32{3, 2, 1})) },
			torch.Bool, []int64{3}, []float64{0, 0, 1}, 0},
		{"Ge/broadcast-int64", func() *torch.Tensor {
			return tI64([]int64{1, 2, 3}, 3, 1).Ge(tI64([]int64{2}))
		}, torch.Bool, []int64{3, 1}, []float64{0, 1, 1}, 0},
		{"EqScalar", func() *torch.Tensor { return tI64([]int64{1, 2, 1}).EqScalar(1) },
			torch.Bool, []int64{3}, []float64{1, 0, 1}, 0},
		{"LtScalar", func() *torch.Tensor { return tF32([]float32{0.4, 0.5, 0.6}).LtScalar(0.5) },
			torch.Bool, []int64{3}, []float64{1, 0, 0}, 0},
		{"GtScalar", func() *torch.Tensor { return tF32([]float32{0.4, 0.5, 0.6}).GtScalar(0.5) },
			torch.Bool, []int64{3}, []float64{0, 0, 1}, 0},
		{"LogicalAnd", func() *torch.Tensor {
			return tBool([]bool{true, true, false, false}).LogicalAnd(tBool([]bool{true, false, true, false}))
		}, torch.Bool, []int64{4}, []float64{1, 0, 0, 0}, 0},
		{"LogicalOr", func() *torch.Tensor {
			return tBool([]bool{true, true, false, false}).LogicalOr(tBool([]bool{true, false, true, false}))
		}, torch.Bool, []int64{4}, []float64{1, 1, 1, 0}, 0},
		{"LogicalNot/float-nonzero-is-true", func() *torch.Tensor {
			return tF32([]float32{0, 2, -1}).LogicalNot()
		}, torch.Bool, []int64{3}, []float64{1, 0, 0}, 0},
		{"IsFinite", func() *torch.Tensor {
			return tF32([]float32{1, float32(inf), float32(math.NaN()), float32(-inf)}).IsFinite()
		}, torch.Bool, []int64{4}, []float64{1, 0, 0, 0}, 0},
		{"Clamp/both", func() *torch.Tensor { return tF32([]float32{-2, -0.5, 0.5, 2}).Clamp(-1, 1) },
			torch.Float32, []int64{4}, []float64{-1, -0.5, 0.5, 1}, 0},
		{"Clamp/open-above", func() *torch.Tensor { return tF32([]float32{-2, -0.5, 0.5, 2}).Clamp(0, inf) },
			torch.Float32, []int64{4}, []float64{0, 0, 0.5, 2}, 0},
		{"Clamp/open-below", func() *torch.Tensor { return tF32([]float32{-2, -0.5, 0.5, 2}).Clamp(-inf, 0) },
			torch.Float32, []int64{4}, []float64{-2, -0.5, 0, 0}, 0},
		{"Clamp/int64-stays-int64", func() *torch.Tensor { return tI64([]int64{-1, 1, 3}).Clamp(0, 2) },
			torch.Int64, []int64{3}, []float64{0, 1, 2}, 0},
		{"Clone/own-storage", func() *torch.Tensor {
			a := tF32([]float32{1, 2})
			c := a.Clone()
			a.Fill(9)
			return c
		}, torch.Float32, []int64{2}, []float64{1, 2}, 0},
		{"ZerosLike/keeps-dtype", func() *torch.Tensor { return tI64([]int64{5, 6}, 1, 2).ZerosLike() },
			torch.Int64, []int64{1, 2}, []float64{0, 0}, 0},
		{"OnesLike/keeps-dtype", func() *torch.Tensor { return tF64([]float64{5, 6}).OnesLike() },
			torch.Float64, []int64{2}, []float64{1, 1}, 0},
	})
}

// Integral scalars are passed to libtorch as int64, so large int64 values stay exact (a double
// scalar would round 2^53+1).
func TestOpsIntegralScalarsStayExact(t *testing.T) {
	chkScoped(t, func() {
		big := int64(1) << 53
		x := tI64([]int64{big, -big})
		if got := x.AddScalar(1).Int64s(); !slices.Equal(got, []int64{big + 1, -big + 1}) {
			t.Errorf("AddScalar(1) on 2^53: got %v", got)
		}
		if got := x.MulScalar(1).SubScalar(-3).Int64s(); !slices.Equal(got, []int64{big + 3, -big + 3}) {
			t.Errorf("SubScalar(-3) on 2^53: got %v", got)
		}
		y := tI64([]int64{big})
		if y.AddScalarInPlace(1); y.Int64s()[0] != big+1 {
			t.Errorf("AddScalarInPlace(1) on 2^53: got %v", y.Int64s())
		}
		if y.DType() != torch.Int64 {
			t.Errorf("AddScalarInPlace changed the dtype to %v", y.DType())
		}
	})
}

// Clamp with both sides open must leave the tensor unchanged (the documentation says an infinite
// bound leaves that side open).
func TestOpsClampBothSidesOpen(t *testing.T) {
	var got []float64
	err := torch.Try(func() {
		torch.WithScope(func(*torch.Scope) {
			got = tF32([]float32{-2, 3}).Clamp(math.Inf(-1), math.Inf(1)).Float64s()
		})
	})
	if err != nil {
		t.Fatalf("Clamp(-Inf, +Inf) fails instead of returning the input unchanged: %v", err)
	}
	chkVals(t, "Clamp(-Inf,+Inf)", got, []float64{-2, 3}, 0, 0)
}

// ---- linear algebra ----

func TestOpsMatmul(t *testing.T) {
	a23 := func() *torch.Tensor { return tF32([]float32{1, 2, 3, 4, 5, 6}, 2, 3) }
	b32 := func() *torch.Tensor { return tF32([]float32{7, 8, 9, 10, 11, 12}, 3, 2) }
	runOpsCases(t, []opsCase{
		{"2x3.3x2", func() *torch.Tensor { return a23().Matmul(b32()) },
			torch.Float32, []int64{2, 2}, []float64{58, 64, 139, 154}, 0},
		{"3x2.2x3", func() *torch.Tensor { return b32().Matmul(a23()) },
			torch.Float32, []int64{3, 3}, []float64{39, 54, 69, 49, 68, 87, 59, 82, 105}, 0},
		{"vector.matrix", func() *torch.Tensor { return tF32([]float32{1, 0, -1}).Matmul(b32()) },
			torch.Float32, []int64{2}, []float64{-4, -4}, 0},
		{"matrix.vector", func() *torch.Tensor { return a23().Matmul(tF32([]float32{1, 1, 1})) },
			torch.Float32, []int64{2}, []float64{6, 15}, 0},
		{"batched", func() *torch.Tensor {
			a := tF32([]float32{1, 2, 3, 4, 1, 0, 0, 1}, 2, 2, 2)
			b := tF32([]float32{5, 6, 7, 8, 2, 3, 4, 5}, 2, 2, 2)
			return a.Matmul(b)
		}, torch.Float32, []int64{2, 2, 2}, []float64{19, 22, 43, 50, 2, 3, 4, 5}, 0},
		{"batched-broadcast-rhs", func() *torch.Tensor {
			a := tF32([]float32{1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0}, 2, 2, 3)
			return a.Matmul(b32())
		}, torch.Float32, []int64{2, 2, 2}, []float64{58, 64, 139, 154, 7, 8, 9, 10}, 0},
		{"batch-dims-broadcast", func() *torch.Tensor {
			a := tF32([]float32{1, 0, 0, 1, 2, 0, 0, 2}, 2, 1, 2, 2) // I and 2I
			b := tF32([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 3, 2, 2)
			return a.Matmul(b)
		}, torch.Float32, []int64{2, 3, 2, 2}, []float64{
			1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
			2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24}, 0},
		{"int64", func() *torch.Tensor {
			return tI64([]int64{1, 2, 3, 4}, 2, 2).Matmul(tI64([]int64{1, 1, 0, 1}, 2, 2))
		}, torch.Int64, []int64{2, 2}, []float64{1, 3, 3, 7}, 0},
		{"Linear/bias", func() *torch.Tensor {
			x := tF32([]float32{1, 2, 3, 0, 1, 0}, 2, 3)
			w := tF32([]float32{1, 0, 1, 0, 1, 0}, 2, 3)
			return torch.Linear(x, w, tF32([]float32{10, 20}))
		}, torch.Float32, []int64{2, 2}, []float64{14, 22, 10, 21}, 0},
		{"Linear/no-bias-3d", func() *torch.Tensor {
			x := tF32([]float32{1, 2, 3, 0, 1, 0}, 1, 2, 3)
			w := tF32([]float32{1, 0, 1, 0, 1, 0, 1, 1, 1}, 3, 3)
			return torch.Linear(x, w, nil)
		}, torch.Float32, []int64{1, 2, 3}, []float64{4, 2, 6, 0, 1, 1}, 0},
	})
}

// ---- reductions ----

func TestOpsReductions(t *testing.T) {
	x := func() *torch.Tensor { return tF32([]float32{1, 2, 3, 4, 5, 6}, 2, 3) }
	lse := func(v ...float64) float64 {
		m := slices.Max(v)
		s := 0.0
		for _, e := range v {
			s += math.Exp(e - m)
		}
		return m + math.Log(s)
	}
	s45 := math.Sqrt(4.5)
	runOpsCases(t, []opsCase{
		{"Sum/all", func() *torch.Tensor { return x().Sum(false) }, torch.Float32, []int64{}, []float64{21}, 0},
		{"Sum/all-keepdim", func() *torch.Tensor { return x().Sum(true) }, torch.Float32, []int64{1, 1}, []float64{21}, 0},
		{"Sum/dim0", func() *torch.Tensor { return x().Sum(false, 0) }, torch.Float32, []int64{3}, []float64{5, 7, 9}, 0},
		{"Sum/dim1-keepdim", func() *torch.Tensor { return x().Sum(true, 1) }, torch.Float32, []int64{2, 1}, []float64{6, 15}, 0},
		{"Sum/dim-1", func() *torch.Tensor { return x().Sum(false, -1) }, torch.Float32, []int64{2}, []float64{6, 15}, 0},
		{"Sum/dims01", func() *torch.Tensor { return x().Sum(false, 0, 1) }, torch.Float32, []int64{}, []float64{21}, 0},
		{"Sum/int64-stays-int64", func() *torch.Tensor { return tI64([]int64{1, 2, 3}).Sum(false) }, torch.Int64, []int64{}, []float64{6}, 0},
		{"Sum/bool-counts", func() *torch.Tensor { return tBool([]bool{true, false, true}).Sum(false) }, torch.Int64, []int64{}, []float64{2}, 0},
		{"Sum/3d-dims02", func() *torch.Tensor {
			return torch.Arange(0, 24, 1).View(2, 3, 4).Sum(true, 0, 2)
		}, torch.Float32, []int64{1, 3, 1}, []float64{
			(0 + 1 + 2 + 3) + (12 + 13 + 14 + 15), (4 + 5 + 6 + 7) + (16 + 17 + 18 + 19), (8 + 9 + 10 + 11) + (20 + 21 + 22 + 23)}, 0},
		{"Mean/all", func() *torch.Tensor { return x().Mean(false) }, torch.Float32, []int64{}, []float64{3.5}, 0},
		{"Mean/dim1", func() *torch.Tensor { return x().Mean(false, 1) }, torch.Float32, []int64{2}, []float64{2, 5}, 0},
		{"Mean/dim0-keepdim", func() *torch.Tensor { return x().Mean(true, 0) }, torch.Float32, []int64{1, 3}, []float64{2.5, 3.5, 4.5}, 0},
		{"Amax/all", func() *torch.Tensor { return x().Amax(false) }, torch.Float32, []int64{}, []float64{6}, 0},
		{"Amax/dim0", func() *torch.Tensor { return x().Amax(false, 0) }, torch.Float32, []int64{3}, []float64{4, 5, 6}, 0},
		{"Amax/int64", func() *torch.Tensor { return tI64([]int64{3, -1, 7, 2}, 2, 2).Amax(false, 1) }, torch.Int64, []int64{2}, []float64{3, 7}, 0},
		{"Amin/all-keepdim", func() *torch.Tensor { return x().Amin(true) }, torch.Float32, []int64{1, 1}, []float64{1}, 0},
		{"Amin/dim1-keepdim", func() *torch.Tensor { return x().Amin(true, 1) }, torch.Float32, []int64{2, 1}, []float64{1, 4}, 0},
		{"Var/all-unbiased", func() *torch.Tensor { return x().Var(false) }, torch.Float32, []int64{}, []float64{3.5}, 0},
		{"Var/dim1", func() *torch.Tensor { return x().Var(false, 1) }, torch.Float32, []int64{2}, []float64{1, 1}, 0},
		{"Var/dim0-keepdim", func() *torch.Tensor { return x().Var(true, 0) }, torch.Float32, []int64{1, 3}, []float64{4.5, 4.5, 4.5}, 0},
		{"Std/all", func() *torch.Tensor { return x().Std(false) }, torch.Float32, []int64{}, []float64{math.Sqrt(3.5)}, 0},
		{"Std/dim0-keepdim", func() *torch.Tensor { return x().Std(true, 0) }, torch.Float32, []int64{1, 3}, []float64{s45, s45, s45}, 0},
		{"Std/float64-dim1", func() *torch.Tensor {
			return tF64([]float64{1, 2, 4, 0, 0, 3}, 2, 3).Std(false, 1)
		}, torch.Float64, []int64{2}, []float64{math.Sqrt(7.0 / 3), math.Sqrt(3)}, 1e-14},
		{"LogSumExp/dim1", func() *torch.Tensor { return x().LogSumExp(false, 1) }, torch.Float32, []int64{2}, []float64{lse(1, 2, 3), lse(4, 5, 6)}, 0},
		{"LogSumExp/dim0-keepdim", func() *torch.Tensor { return x().LogSumExp(true, 0) }, torch.Float32, []int64{1, 3}, []float64{lse(1, 4), lse(2, 5), lse(3, 6)}, 0},
		{"LogSumExp/all", func() *torch.Tensor { return x().LogSumExp(false) }, torch.Float32, []int64{}, []float64{lse(1, 2, 3, 4, 5, 6)}, 0},
		{"LogSumExp/large-stable", func() *torch.Tensor {
			return tF32([]float32{1000, 1000}).LogSumExp(false, 0)
		}, torch.Float32, []int64{}, []float64{1000 + math.Ln2}, 0},
		{"Norm/2-all", func() *torch.Tensor { return x().Norm(2, false) }, torch.Float32, []int64{}, []float64{math.Sqrt(91)}, 0},
		{"Norm/2-all-keepdim", func() *torch.Tensor { return x().Norm(2, true) }, torch.Float32, []int64{1, 1}, []float64{math.Sqrt(91)}, 0},
		{"Norm/2-dim1", func() *torch.Tensor { return x().Norm(2, false, 1) }, torch.Float32, []int64{2}, []float64{math.Sqrt(14), math.Sqrt(77)}, 0},
		{"Norm/1-dim0-keepdim", func() *torch.Tensor {
			return tF32([]float32{1, -2, 3, -4, 5, -6}, 2, 3).Norm(1, true, 0)
		}, torch.Float32, []int64{1, 3}, []float64{5, 7, 9}, 0},
		{"Norm/inf", func() *torch.Tensor {
			return tF32([]float32{1, -7, 3}).Norm(math.Inf(1), false)
		}, torch.Float32, []int64{}, []float64{7}, 0},
		{"Norm/3", func() *torch.Tensor {
			return tF64([]float64{1, 2, 2}).Norm(3, false)
		}, torch.Float64, []int64{}, []float64{math.Cbrt(17)}, 1e-14},
	})
}

func TestOpsSortingAndSelection(t *testing.T) {
	v := func() *torch.Tensor { return tF32([]float32{3, 1, 4, 0, 5, 9, 2, 6}) }
	m := func() *torch.Tensor { return tF32([]float32{1, 5, 3, 9, 2, 4}, 2, 3) }
	runOpsCases(t, []opsCase{
		{"Argmax/dim1", func() *torch.Tensor { return m().Argmax(1, false) }, torch.Int64, []int64{2}, []float64{1, 0}, 0},
		{"Argmax/dim0-keepdim", func() *torch.Tensor { return m().Argmax(0, true) }, torch.Int64, []int64{1, 3}, []float64{1, 0, 1}, 0},
		{"Argmax/dim-1", func() *torch.Tensor { return v().Argmax(-1, false) }, torch.Int64, []int64{}, []float64{5}, 0},
		{"Cumsum/dim1", func() *torch.Tensor { return m().Cumsum(1) }, torch.Float32, []int64{2, 3}, []float64{1, 6, 9, 9, 11, 15}, 0},
		{"Cumsum/dim0", func() *torch.Tensor { return m().Cumsum(0) }, torch.Float32, []int64{2, 3}, []float64{1, 5, 3, 10, 7, 7}, 0},
		{"Cumsum/int64", func() *torch.Tensor { return tI64([]int64{1, 2, 3}).Cumsum(0) }, torch.Int64, []int64{3}, []float64{1, 3, 6}, 0},
		{"TopK/largest-values", func() *torch.Tensor { vals, _ := v().TopK(3, 0, true); return vals },
			torch.Float32, []int64{3}, []float64{9, 6, 5}, 0},
		{"TopK/largest-indices", func() *torch.Tensor { _, idx := v().TopK(3, 0, true); return idx },
			torch.Int64, []int64{3}, []float64{5, 7, 4}, 0},
		{"TopK/smallest-values", func() *torch.Tensor { vals, _ := v().TopK(2, -1, false); return vals },
			torch.Float32, []int64{2}, []float64{0, 1}, 0},
		{"TopK/smallest-indices", func() *torch.Tensor { _, idx := v().TopK(2, -1, false); return idx },
			torch.Int64, []int64{2}, []float64{3, 1}, 0},
		{"TopK/rows", func() *torch.Tensor { vals, _ := m().TopK(2, 1, true); return vals },
			torch.Float32, []int64{2, 2}, []float64{5, 3, 9, 4}, 0},
		{"Sort/ascending-values", func() *torch.Tensor { vals, _ := tF32([]float32{3, 1, 2}).Sort(0, false); return vals },
			torch.Float32, []int64{3}, []float64{1, 2, 3}, 0},
		{"Sort/ascending-indices", func() *torch.Tensor { _, idx := tF32([]float32{3, 1, 2}).Sort(0, false); return idx },
			torch.Int64, []int64{3}, []float64{1, 2, 0}, 0},
		{"Sort/descending-values", func() *torch.Tensor { vals, _ := tF32([]float32{3, 1, 2}).Sort(0, true); return vals },
			torch.Float32, []int64{3}, []float64{3, 2, 1}, 0},
		{"Sort/descending-indices", func() *torch.Tensor { _, idx := tF32([]float32{3, 1, 2}).Sort(0, true); return idx },
			torch.Int64, []int64{3}, []float64{0, 2, 1}, 0},
		{"Sort/dim0-of-matrix", func() *torch.Tensor { vals, _ := m().Sort(0, false); return vals },
			torch.Float32, []int64{2, 3}, []float64{1, 2, 3, 9, 5, 4}, 0},
		{"Sort/dim0-of-matrix-indices", func() *torch.Tensor { _, idx := m().Sort(0, false); return idx },
			torch.Int64, []int64{2, 3}, []float64{0, 1, 0, 1, 0, 1}, 0},
	})
}

// ---- neural-network functions ----

func TestOpsSoftmax(t *testing.T) {
	ln2, ln3 := math.Ln2, math.Log(3)
	third := 1.0 / 3
	runOpsCases(t, []opsCase{
		{"Softmax/known", func() *torch.Tensor { return tF64([]float64{0, ln2, ln3}).Softmax(0) },
			torch.Float64, []int64{3}, []float64{1.0 / 6, 2.0 / 6, 3.0 / 6}, 1e-14},
		{"Softmax/dim0", func() *torch.Tensor { return tF64([]float64{0, 5, ln2, 5}, 2, 2).Softmax(0) },
			torch.Float64, []int64{2, 2}, []float64{third, 0.5, 2 * third, 0.5}, 1e-14},
		{"Softmax/large-stable", func() *torch.Tensor { return tF32([]float32{1000, 1000 + float32(ln3)}).Softmax(-1) },
			torch.Float32, []int64{2}, []float64{0.25, 0.75}, 1e-4},
		{"LogSoftmax/known", func() *torch.Tensor { return tF64([]float64{0, ln2, ln3}).LogSoftmax(-1) },
			torch.Float64, []int64{3}, []float64{-math.Log(6), -math.Log(3), -ln2}, 1e-14},
		{"LogSoftmax/large-stable", func() *torch.Tensor { return tF32([]float32{-1000, 1000}).LogSoftmax(0) },
			torch.Float32, []int64{2}, []float64{-2000, 0}, 1e-6},
	})
	// Every row of a random-ish matrix sums to 1 along the softmax dimension.
	chkScoped(t, func() {
		x := tF32([]float32{0.3, -1.2, 2.5, 0, 7, -3, 1, 1, 1, 1, 1, 1}, 3, 4)
		for _, dim := range []int64{-1, 0} {
			s := x.Softmax(dim)
			sums := s.Sum(false, dim).Float64s()
			n := 3
			if dim == 0 {
				n = 4
			}
			want := make([]float64, n)
			for i := range want {
				want[i] = 1
			}
			chkVals(t, fmt.Sprintf("softmax(dim %d) sums", dim), sums, want, 1e-6, 0)
			for _, p := range s.Float64s() {
				if p <= 0 || p >= 1 {
					t.Fatalf("softmax(dim %d) probability %v outside (0,1)", dim, p)
				}
			}
		}
	})
}

func TestOpsEmbedding(t *testing.T) {
	runOpsCases(t, []opsCase{
		{"2d-ids", func() *torch.Tensor {
			w := torch.Arange(0, 8, 1).View(4, 2)
			return torch.Embedding(w, tI64([]int64{3, 0, 1, 1}, 2, 2))
		}, torch.Float32, []int64{2, 2, 2}, []float64{6, 7, 0, 1, 2, 3, 2, 3}, 0},
		{"1d-ids", func() *torch.Tensor {
			w := tF64([]float64{0.5, -1, 2, 4, 8, 16}, 3, 2)
			return torch.Embedding(w, tI64([]int64{2, 0}))
		}, torch.Float64, []int64{2, 2}, []float64{8, 16, 0.5, -1}, 0},
		{"int32-ids", func() *torch.Tensor {
			w := torch.Arange(0, 6, 1).View(3, 2)
			return torch.Embedding(w, torch.FromSlice([]int32{1}))
		}, torch.Float32, []int64{1, 2}, []float64{2, 3}, 0},
	})
}

func TestOpsCrossEntropy(t *testing.T) {
	ln2, ln3, ln6 := math.Ln2, math.Log(3), math.Log(6)
	// Row 0 = log(1, 2, 3): probabilities 1/6, 2/6, 3/6. Row 1 = uniform. Row 2 = (2, 0, 0).
	logits := func(rows int) *torch.Tensor {
		return tF64([]float64{0, ln2, ln3, 1, 1, 1, 2, 0, 0}[:3*rows], int64(rows), 3)
	}
	row2 := math.Log(1 + 2*math.Exp(-2)) // -log softmax(2,0,0)[0]
	ignore := torch.CrossEntropyOptions{HasIgnoreIndex: true, IgnoreIndex: -100}
	withRed := func(o torch.CrossEntropyOptions, r torch.Reduction) torch.CrossEntropyOptions {
		o.Reduction = r
		return o
	}
	ce := func(rows int, target []int64, o torch.CrossEntropyOptions) func() *torch.Tensor {
		return func() *torch.Tensor { return torch.CrossEntropy(logits(rows), tI64(target), o) }
	}
	tol := 1e-14
	runOpsCases(t, []opsCase{
		{"mean", ce(2, []int64{2, 0}, torch.CrossEntropyOptions{}), torch.Float64, []int64{}, []float64{(ln2 + ln3) / 2}, tol},
		{"sum", ce(2, []int64{2, 0}, torch.CrossEntropyOptions{Reduction: torch.ReduceSum}), torch.Float64, []int64{}, []float64{ln6}, tol},
		{"none", ce(2, []int64{2, 0}, torch.CrossEntropyOptions{Reduction: torch.ReduceNone}), torch.Float64, []int64{2}, []float64{ln2, ln3}, tol},
		{"ignore-mean-excludes-row", ce(2, []int64{2, -100}, ignore), torch.Float64, []int64{}, []float64{ln2}, tol},
		{"ignore-sum", ce(2, []int64{2, -100}, withRed(ignore, torch.ReduceSum)), torch.Float64, []int64{}, []float64{ln2}, tol},
		{"ignore-none-zero", ce(2, []int64{2, -100}, withRed(ignore, torch.ReduceNone)), torch.Float64, []int64{2}, []float64{ln2, 0}, tol},
		{"ignore-positive-index", ce(3, []int64{2, 1, 0}, torch.CrossEntropyOptions{HasIgnoreIndex: true, IgnoreIndex: 1}),
			torch.Float64, []int64{}, []float64{(ln2 + row2) / 2}, tol},
		// IgnoreIndex 0 without HasIgnoreIndex is not an ignore index: class 0 counts.
		{"zero-ignore-index-unset", ce(2, []int64{0, 0}, torch.CrossEntropyOptions{IgnoreIndex: 0}),
			torch.Float64, []int64{}, []float64{(ln6 + ln3) / 2}, tol},
		{"all-ignored-mean-is-nan", ce(2, []int64{-100, -100}, ignore), torch.Float64, []int64{}, []float64{math.NaN()}, tol},
		// Label smoothing eps: (1-eps)*nll + eps*mean_k(-log p_k). Row 0: -mean log p = ln6 - ln6/3.
		{"label-smoothing", ce(2, []int64{2, 0}, torch.CrossEntropyOptions{LabelSmoothing: 0.1}),
			torch.Float64, []int64{}, []float64{((0.9*ln2 + 0.1*(2*ln6/3)) + ln3) / 2}, tol},
		{"float32", func() *torch.Tensor {
			return torch.CrossEntropy(logits(2).To(torch.Float32), tI64([]int64{2, 0}), torch.CrossEntropyOptions{})
		}, torch.Float32, []int64{}, []float64{(ln2 + ln3) / 2}, 1e-6},
	})
}

// ---- views and indexing ----

func TestOpsShapeAndIndexing(t *testing.T) {
	x := func() *torch.Tensor { return torch.Arange(0, 24, 1).View(2, 3, 4) } // x[i,j,k] = 12i+4j+k
	a10 := func() *torch.Tensor { return torch.Arange(0, 10, 1) }
	m32 := func() *torch.Tensor { return torch.Arange(0, 6, 1).View(3, 2) }
	// x[:, :, 1:3]
	slice2 := []float64{1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}
	runOpsCases(t, []opsCase{
		{"View", func() *torch.Tensor { return x().View(4, -1) }, torch.Float32, []int64{4, 6}, arangeValues(24), 0},
		{"Reshape/flat", func() *torch.Tensor { return x().Reshape(-1) }, torch.Float32, []int64{24}, arangeValues(24), 0},
		{"Reshape/non-contiguous-copies", func() *torch.Tensor { return x().Transpose(0, 2).Reshape(4, 6) },
			torch.Float32, []int64{4, 6}, permutedArange([]int64{2, 3, 4}, []int{2, 1, 0}), 0},
		{"Permute", func() *torch.Tensor { return x().Permute(2, 0, 1) },
			torch.Float32, []int64{4, 2, 3}, permutedArange([]int64{2, 3, 4}, []int{2, 0, 1}), 0},
		{"Permute/negative", func() *torch.Tensor { return x().Permute(-1, -2, 0) },
			torch.Float32, []int64{4, 3, 2}, permutedArange([]int64{2, 3, 4}, []int{2, 1, 0}), 0},
		{"Transpose", func() *torch.Tensor { return x().Transpose(0, 2) },
			torch.Float32, []int64{4, 3, 2}, permutedArange([]int64{2, 3, 4}, []int{2, 1, 0}), 0},
		{"Transpose/negative", func() *torch.Tensor { return x().Transpose(-1, -2) },
			torch.Float32, []int64{2, 4, 3}, permutedArange([]int64{2, 3, 4}, []int{0, 2, 1}), 0},
		{"Unsqueeze/0", func() *torch.Tensor { return x().Unsqueeze(0) }, torch.Float32, []int64{1, 2, 3, 4}, arangeValues(24), 0},
		{"Unsqueeze/1", func() *torch.Tensor { return x().Unsqueeze(1) }, torch.Float32, []int64{2, 1, 3, 4}, arangeValues(24), 0},
		{"Unsqueeze/-1", func() *torch.Tensor { return x().Unsqueeze(-1) }, torch.Float32, []int64{2, 3, 4, 1}, arangeValues(24), 0},
		{"Squeeze/size1", func() *torch.Tensor { return x().Unsqueeze(0).Squeeze(0) }, torch.Float32, []int64{2, 3, 4}, arangeValues(24), 0},
		{"Squeeze/not-size1-noop", func() *torch.Tensor { return x().Squeeze(1) }, torch.Float32, []int64{2, 3, 4}, arangeValues(24), 0},
		{"Squeeze/-1", func() *torch.Tensor { return m32().Narrow(1, 1, 1).Squeeze(-1) }, torch.Float32, []int64{3}, []float64{1, 3, 5}, 0},
		{"Flatten/0-1", func() *torch.Tensor { return x().Flatten(0, 1) }, torch.Float32, []int64{6, 4}, arangeValues(24), 0},
		{"Flatten/1--1", func() *torch.Tensor { return x().Flatten(1, -1) }, torch.Float32, []int64{2, 12}, arangeValues(24), 0},
		{"Flatten/all", func() *torch.Tensor { return x().Flatten(0, -1) }, torch.Float32, []int64{24}, arangeValues(24), 0},
		{"Expand/column", func() *torch.Tensor { return tF32([]float32{1, 2, 3}, 3, 1).Expand(3, 4) },
			torch.Float32, []int64{3, 4}, []float64{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, 0},
		{"Expand/keep-minus-one", func() *torch.Tensor { return tF32([]float32{1, 2, 3}, 3, 1).Expand(-1, 2) },
			torch.Float32, []int64{3, 2}, []float64{1, 1, 2, 2, 3, 3}, 0},
		{"Expand/new-leading-dim", func() *torch.Tensor { return tF32([]float32{1, 2, 3}).Expand(2, 3) },
			torch.Float32, []int64{2, 3}, []float64{1, 2, 3, 1, 2, 3}, 0},
		{"Slice/range", func() *torch.Tensor { return a10().Slice(0, 2, 5, 1) }, torch.Float32, []int64{3}, []float64{2, 3, 4}, 0},
		{"Slice/negative-start-to-End", func() *torch.Tensor { return a10().Slice(0, -3, torch.End, 1) }, torch.Float32, []int64{3}, []float64{7, 8, 9}, 0},
		{"Slice/step3", func() *torch.Tensor { return a10().Slice(0, 0, torch.End, 3) }, torch.Float32, []int64{4}, []float64{0, 3, 6, 9}, 0},
		{"Slice/negative-end-step2", func() *torch.Tensor { return a10().Slice(0, 1, -1, 2) }, torch.Float32, []int64{4}, []float64{1, 3, 5, 7}, 0},
		{"Slice/start-clamped", func() *torch.Tensor { return a10().Slice(0, -100, 3, 1) }, torch.Float32, []int64{3}, []float64{0, 1, 2}, 0},
		{"Slice/empty", func() *torch.Tensor { return a10().Slice(0, 5, 5, 1) }, torch.Float32, []int64{0}, []float64{}, 0},
		{"Slice/last-dim", func() *torch.Tensor { return x().Slice(2, 1, 3, 1) }, torch.Float32, []int64{2, 3, 2}, slice2, 0},
		{"Slice/negative-dim", func() *torch.Tensor { return x().Slice(-1, 1, 3, 1) }, torch.Float32, []int64{2, 3, 2}, slice2, 0},
		{"Slice/middle-dim-step2", func() *torch.Tensor { return x().Slice(1, 0, torch.End, 2) },
			torch.Float32, []int64{2, 2, 4}, []float64{0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23}, 0},
		{"Narrow", func() *torch.Tensor { return a10().Narrow(0, 2, 3) }, torch.Float32, []int64{3}, []float64{2, 3, 4}, 0},
		{"Narrow/last-dim", func() *torch.Tensor { return x().Narrow(2, 1, 2) }, torch.Float32, []int64{2, 3, 2}, slice2, 0},
		{"IndexSelect/dim0-repeats", func() *torch.Tensor { return m32().IndexSelect(0, tI64([]int64{2, 0, 2})) },
			torch.Float32, []int64{3, 2}, []float64{4, 5, 0, 1, 4, 5}, 0},
		{"IndexSelect/dim1", func() *torch.Tensor { return m32().IndexSelect(1, tI64([]int64{1})) },
			torch.Float32, []int64{3, 1}, []float64{1, 3, 5}, 0},
		{"IndexSelect/dim-1", func() *torch.Tensor { return m32().IndexSelect(-1, tI64([]int64{1, 0})) },
			torch.Float32, []int64{3, 2}, []float64{1, 0, 3, 2, 5, 4}, 0},
		{"Gather/dim1", func() *torch.Tensor {
			return tF32([]float32{1, 2, 3, 4}, 2, 2).Gather(1, tI64([]int64{0, 0, 1, 0}, 2, 2))
		}, torch.Float32, []int64{2, 2}, []float64{1, 1, 4, 3}, 0},
		{"Gather/dim0", func() *torch.Tensor {
			return tF32([]float32{1, 2, 3, 4}, 2, 2).Gather(0, tI64([]int64{1, 0}, 1, 2))
		}, torch.Float32, []int64{1, 2}, []float64{3, 2}, 0},
		{"Gather/token-logprobs", func() *torch.Tensor { // picks logits[i, target[i]]
			return m32().Gather(-1, tI64([]int64{1, 0, 1}, 3, 1))
		}, torch.Float32, []int64{3, 1}, []float64{1, 2, 5}, 0},
		{"Cat/dim0", func() *torch.Tensor {
			return torch.Cat([]*torch.Tensor{tF32([]float32{1, 2, 3, 4}, 2, 2), tF32([]float32{5, 6}, 1, 2)}, 0)
		}, torch.Float32, []int64{3, 2}, []float64{1, 2, 3, 4, 5, 6}, 0},
		{"Cat/dim1", func() *torch.Tensor {
			return torch.Cat([]*torch.Tensor{tF32([]float32{1, 2, 3, 4}, 2, 2), tF32([]float32{5, 6}, 2, 1)}, 1)
		}, torch.Float32, []int64{2, 3}, []float64{1, 2, 5, 3, 4, 6}, 0},
		{"Cat/dim-1-three", func() *torch.Tensor {
			return torch.Cat([]*torch.Tensor{tF32([]float32{1}), tF32([]float32{2, 3}), tF32([]float32{4})}, -1)
		}, torch.Float32, []int64{4}, []float64{1, 2, 3, 4}, 0},
		{"Cat/single", func() *torch.Tensor { return torch.Cat([]*torch.Tensor{tF32([]float32{7, 8})}, 0) },
			torch.Float32, []int64{2}, []float64{7, 8}, 0},
		{"Stack/dim0", func() *torch.Tensor {
			return torch.Stack([]*torch.Tensor{tF32([]float32{1, 2}), tF32([]float32{3, 4})}, 0)
		}, torch.Float32, []int64{2, 2}, []float64{1, 2, 3, 4}, 0},
		{"Stack/dim1", func() *torch.Tensor {
			return torch.Stack([]*torch.Tensor{tF32([]float32{1, 2}), tF32([]float32{3, 4})}, 1)
		}, torch.Float32, []int64{2, 2}, []float64{1, 3, 2, 4}, 0},
		{"Stack/dim-1", func() *torch.Tensor {
			return torch.Stack([]*torch.Tensor{tF32([]float32{1, 2, 3, 4}, 2, 2), tF32([]float32{5, 6, 7, 8}, 2, 2)}, -1)
		}, torch.Float32, []int64{2, 2, 2}, []float64{1, 5, 2, 6, 3, 7, 4, 8}, 0},
		{"Stack/zero-dim", func() *torch.Tensor {
			return torch.Stack([]*torch.Tensor{torch.Scalar(1), torch.Scalar(2), torch.Scalar(3)}, 0)
		}, torch.Float32, []int64{3}, []float64{1, 2, 3}, 0},
	})
}

// Narrow follows torch.narrow: a negative start counts from the end of the dimension
// (x.narrow(0, -2, 2) is the last two elements), and a range past the end is an error rather
// than a shorter view.
func TestOpsNarrowMatchesTorch(t *testing.T) {
	t.Run("negative-start-to-end", func(t *testing.T) {
		chkScoped(t, func() {
			got := torch.Arange(0, 10, 1).Narrow(0, -2, 2)
			if got.Numel() != 2 {
				t.Fatalf("Narrow(0, -2, 2) on arange(10) has shape %v, want [2] holding [8 9] as torch.narrow gives", got.Shape())
			}
			chkVals(t, "Narrow(0,-2,2)", got.Float64s(), []float64{8, 9}, 0, 0)
		})
	})
	t.Run("negative-start-inside", func(t *testing.T) {
		chkScoped(t, func() {
			chkTensor(t, "Narrow(0,-3,2)", torch.Arange(0, 10, 1).Narrow(0, -3, 2), torch.Float32, []int64{2}, []float64{7, 8}, 0)
		})
	})
	t.Run("past-the-end", func(t *testing.T) {
		var shape []int64
		err := torch.Try(func() {
			torch.WithScope(func(*torch.Scope) { shape = torch.Arange(0, 10, 1).Narrow(0, 8, 5).Shape() })
		})
		if err == nil {
			t.Fatalf("Narrow(0, 8, 5) on a dimension of 10 returns shape %v instead of failing as torch.narrow does", shape)
		}
	})
}

// AddInPlace and SubInPlace on integral tensors: alpha 1 (or any integral alpha) must work, as
// x.add_(y, alpha=2) does for int64 tensors in PyTorch.
func TestOpsInPlaceIntegralAlpha(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(a, b *torch.Tensor) *torch.Tensor
		want []int64
	}{
		{"AddInPlace/alpha1", func(a, b *torch.Tensor) *torch.Tensor { return a.AddInPlace(b, 1) }, []int64{6, 12}},
		{"AddInPlace/alpha2", func(a, b *torch.Tensor) *torch.Tensor { return a.AddInPlace(b, 2) }, []int64{7, 19}},
		{"SubInPlace/alpha1", func(a, b *torch.Tensor) *torch.Tensor { return a.SubInPlace(b, 1) }, []int64{4, -2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []int64
			var same bool
			err := torch.Try(func() {
				torch.WithScope(func(*torch.Scope) {
					a := tI64([]int64{5, 5})
					same = c.run(a, tI64([]int64{1, 7})) == a
					got = a.Int64s()
				})
			})
			if err != nil {
				t.Fatalf("%s on an int64 tensor fails: %v", c.name, err)
			}
			if !same || !slices.Equal(got, c.want) {
				t.Errorf("%s: got %v (same tensor %v), want %v", c.name, got, same, c.want)
			}
		})
	}
}

func TestOpsChunk(t *testing.T) {
	chkScoped(t, func() {
		parts := torch.Arange(0, 6, 1).Chunk(3, 0)
		if len(parts) != 3 {
			t.Fatalf("Chunk(3): %d parts", len(parts))
		}
		for i, p := range parts {
			chkTensor(t, fmt.Sprintf("chunk %d", i), p, torch.Float32, []int64{2}, []float64{float64(2 * i), float64(2*i + 1)}, 0)
		}
		base := torch.Arange(0, 8, 1).View(2, 4)
		halves := base.Chunk(2, -1)
		chkTensor(t, "Chunk(2,-1)[0]", halves[0], torch.Float32, []int64{2, 2}, []float64{0, 1, 4, 5}, 0)
		chkTensor(t, "Chunk(2,-1)[1]", halves[1], torch.Float32, []int64{2, 2}, []float64{2, 3, 6, 7}, 0)
		// Chunks are views: writing one writes the base.
		halves[1].Fill(-1)
		chkVals(t, "base after writing a chunk", base.Float64s(), []float64{0, 1, -1, -1, 4, 5, -1, -1}, 0, 0)
		single := torch.Arange(0, 4, 1).Chunk(1, 0)
		chkTensor(t, "Chunk(1)", single[0], torch.Float32, []int64{4}, arangeValues(4), 0)
		// The QKV split of a fused projection: [B, T, 3*D] into three [B, T, D].
		qkv := torch.Arange(0, 12, 1).View(1, 2, 6).Chunk(3, 2)
		chkTensor(t, "qkv[1]", qkv[1], torch.Float32, []int64{1, 2, 2}, []float64{2, 3, 8, 9}, 0)

		// Indivisible sizes are rejected rather than giving a short last chunk.
		chkErrCode(t, "Chunk(4) of 6", torch.CodeArgument, func() { torch.Arange(0, 6, 1).Chunk(4, 0) })
		chkErrCode(t, "Chunk(0)", torch.CodeArgument, func() { torch.Arange(0, 6, 1).Chunk(0, 0) })
		chkErrCode(t, "Chunk(-1)", torch.CodeArgument, func() { torch.Arange(0, 6, 1).Chunk(-1, 0) })
	})
}

func TestOpsMaskingAndTriangles(t *testing.T) {
	m3 := func() *torch.Tensor { return torch.Arange(0, 9, 1).View(3, 3) }
	x := func() *torch.Tensor { return tF32([]float32{1, 2, 3, 4, 5, 6}, 2, 3) }
	ninf := math.Inf(-1)
	runOpsCases(t, []opsCase{
		{"Triu/0", func() *torch.Tensor { return m3().Triu(0) }, torch.Float32, []int64{3, 3}, []float64{0, 1, 2, 0, 4, 5, 0, 0, 8}, 0},
		{"Triu/1", func() *torch.Tensor { return m3().Triu(1) }, torch.Float32, []int64{3, 3}, []float64{0, 1, 2, 0, 0, 5, 0, 0, 0}, 0},
		{"Triu/-1", func() *torch.Tensor { return m3().Triu(-1) }, torch.Float32, []int64{3, 3}, []float64{0, 1, 2, 3, 4, 5, 0, 7, 8}, 0},
		{"Tril/0", func() *torch.Tensor { return m3().Tril(0) }, torch.Float32, []int64{3, 3}, []float64{0, 0, 0, 3, 4, 0, 6, 7, 8}, 0},
		{"Tril/-1", func() *torch.Tensor { return m3().Tril(-1) }, torch.Float32, []int64{3, 3}, []float64{0, 0, 0, 3, 0, 0, 6, 7, 0}, 0},
		{"Tril/batched-rectangular", func() *torch.Tensor { return torch.Ones([]int64{2, 2, 3}).Tril(0) },
			torch.Float32, []int64{2, 2, 3}, []float64{1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0}, 0},
		{"Tril/bool-causal-mask", func() *torch.Tensor { return torch.Ones([]int64{3, 3}, torch.WithDType(torch.Bool)).Tril(0) },
			torch.Bool, []int64{3, 3}, []float64{1, 0, 0, 1, 1, 0, 1, 1, 1}, 0},
		{"MaskedFill/broadcast-mask", func() *torch.Tensor { return x().MaskedFill(tBool([]bool{true, false, true}), -1) },
			torch.Float32, []int64{2, 3}, []float64{-1, 2, -1, -1, 5, -1}, 0},
		{"MaskedFill/-inf", func() *torch.Tensor {
			return x().MaskedFill(tBool([]bool{false, true, true, false, false, true}, 2, 3), ninf)
		}, torch.Float32, []int64{2, 3}, []float64{1, ninf, ninf, 4, 5, ninf}, 0},
		{"MaskedFill/int64", func() *torch.Tensor { return tI64([]int64{1, 2}).MaskedFill(tBool([]bool{false, true}), 7) },
			torch.Int64, []int64{2}, []float64{1, 7}, 0},
		{"MaskedFill/causal", func() *torch.Tensor {
			upper := torch.Ones([]int64{2, 2}, torch.WithDType(torch.Bool)).Triu(1)
			return torch.Zeros([]int64{2, 2}).MaskedFill(upper, ninf)
		}, torch.Float32, []int64{2, 2}, []float64{0, ninf, 0, 0}, 0},
		{"Where/scalar-other", func() *torch.Tensor {
			return torch.Where(tBool([]bool{true, false, false, true}, 2, 2), tF32([]float32{1, 2, 3, 4}, 2, 2), torch.Scalar(0))
		}, torch.Float32, []int64{2, 2}, []float64{1, 0, 0, 4}, 0},
		{"Where/broadcast-all", func() *torch.Tensor {
			return torch.Where(tBool([]bool{true, false}, 2, 1), tF32([]float32{1, 2}, 1, 2), tF32([]float32{-1, -2, -3, -4}, 2, 2))
		}, torch.Float32, []int64{2, 2}, []float64{1, 2, -3, -4}, 0},
		{"Where/from-comparison", func() *torch.Tensor {
			v := tF32([]float32{-1, 2, -3})
			return torch.Where(v.GtScalar(0), v, v.MulScalar(0.5))
		}, torch.Float32, []int64{3}, []float64{-0.5, 2, -1.5}, 0},
	})
}

// ---- dtypes ----

func TestOpsDTypeConversion(t *testing.T) {
	// bfloat16 keeps 8 significant bits: spacing 2^-7 in [1, 2), round to nearest, ties to even.
	//   1.00390625   = 1 + 0.5*2^-7: a tie between 1 and 1+2^-7 -> even -> 1
	//   1.01171875   = 1 + 1.5*2^-7: a tie between 1+2^-7 and 1+2^-6 -> even -> 1.015625
	//   1.0029296875 = 1 + 0.375*2^-7 -> down -> 1
	//   1.005859375  = 1 + 0.75*2^-7 -> up -> 1.0078125
	//   65504 (the largest float16) -> 65536 (spacing 256 in [2^15, 2^16); 255.875 steps rounds up)
	//   0.001 = 1.024 * 2^-10 -> 131/128 * 2^-10 = 0.00099945068359375
	bf16In := []float64{1.00390625, 1.01171875, 1.0029296875, 1.005859375, 3.140625, -2.5, 65504, 0.001, 0}
	bf16Want := []float64{1, 1.015625, 1, 1.0078125, 3.140625, -2.5, 65536, 0.00099945068359375, 0}
	// float16 keeps 11 significant bits: spacing 2^-10 in [1, 2); max 65504, 65520 is the tie to inf.
	f16In := []float64{1.00048828125, 1.00146484375, 65504, 65520, 0.1, -2.5}
	f16Want := []float64{1, 1.001953125, 65504, math.Inf(1), 0.0999755859375, -2.5}
	runOpsCases(t, []opsCase{
		{"float64->bfloat16", func() *torch.Tensor { return tF64(bf16In).To(torch.BFloat16) },
			torch.BFloat16, []int64{int64(len(bf16In))}, bf16Want, 1e-300},
		{"float32->bfloat16->float32", func() *torch.Tensor {
			in := make([]float32, len(bf16In))
			for i, v := range bf16In {
				in[i] = float32(v)
			}
			return tF32(in).To(torch.BFloat16).To(torch.Float32)
		}, torch.Float32, []int64{int64(len(bf16In))}, bf16Want, 1e-300},
		{"float64->float16", func() *torch.Tensor { return tF64(f16In).To(torch.Float16) },
			torch.Float16, []int64{int64(len(f16In))}, f16Want, 1e-300},
		{"bfloat16->float16", func() *torch.Tensor { return tF64([]float64{1.5, 3.140625}).To(torch.BFloat16).To(torch.Float16) },
			torch.Float16, []int64{2}, []float64{1.5, 3.140625}, 1e-300},
		{"float64->float32-rounds", func() *torch.Tensor { return tF64([]float64{0.1, 1.0 / 3}).To(torch.Float32) },
			torch.Float32, []int64{2}, []float64{float64(float32(0.1)), float64(float32(1.0 / 3))}, 1e-300},
		{"float32->float64-exact", func() *torch.Tensor { return tF32([]float32{0.1}).To(torch.Float64) },
			torch.Float64, []int64{1}, []float64{0.10000000149011612}, 1e-300},
		{"float32->int64-truncates", func() *torch.Tensor { return tF32([]float32{1.7, -1.7, 2.5, -0.5}).To(torch.Int64) },
			torch.Int64, []int64{4}, []float64{1, -1, 2, 0}, 0},
		{"float32->bool", func() *torch.Tensor { return tF32([]float32{0, 0.5, -1}).To(torch.Bool) },
			torch.Bool, []int64{3}, []float64{0, 1, 1}, 0},
		{"bool->float32", func() *torch.Tensor { return tBool([]bool{false, true}).To(torch.Float32) },
			torch.Float32, []int64{2}, []float64{0, 1}, 0},
		{"int64->float32", func() *torch.Tensor { return tI64([]int64{-3, 1 << 24}).To(torch.Float32) },
			torch.Float32, []int64{2}, []float64{-3, 1 << 24}, 0},
		{"int64->bfloat16-rounds", func() *torch.Tensor { return tI64([]int64{257, 259}).To(torch.BFloat16) },
			torch.BFloat16, []int64{2}, []float64{256, 260}, 0},
		{"int64->bool", func() *torch.Tensor { return tI64([]int64{0, 2, -1}).To(torch.Bool) },
			torch.Bool, []int64{3}, []float64{0, 1, 1}, 0},
		{"uint8->int8-wraps", func() *torch.Tensor { return torch.FromSlice([]uint8{200, 5}).To(torch.Int8) },
			torch.Int8, []int64{2}, []float64{-56, 5}, 0},
		{"int32->float64", func() *torch.Tensor { return torch.FromSlice([]int32{-7, 1 << 30}, 1, 2).To(torch.Float64) },
			torch.Float64, []int64{1, 2}, []float64{-7, 1 << 30}, 0},
	})
	chkScoped(t, func() {
		// Bytes in the tensor's own dtype: 1.0 is 0x3F80 in bfloat16 and 0x3C00 in float16.
		one := tF32([]float32{1, -2})
		if got := one.To(torch.BFloat16).Bytes(); !slices.Equal(got, []byte{0x80, 0x3F, 0x00, 0xC0}) {
			t.Errorf("bfloat16 bytes of [1 -2]: % x", got)
		}
		if got := one.To(torch.Float16).Bytes(); !slices.Equal(got, []byte{0x00, 0x3C, 0x00, 0xC0}) {
			t.Errorf("float16 bytes of [1 -2]: % x", got)
		}
		// FromBytes of bfloat16 weights, as read from a checkpoint.
		w := torch.FromBytes([]byte{0x80, 0x3F, 0x49, 0x40, 0x00, 0x00, 0x80, 0xBF}, torch.BFloat16, 2, 2)
		chkTensor(t, "FromBytes bfloat16", w, torch.BFloat16, []int64{2, 2}, []float64{1, 3.140625, 0, -1}, 0)
	})
}

// FromBytes without a shape describes a zero-dimensional tensor (unlike FromSlice, which
// defaults to 1-D), so it needs exactly one element.
func TestOpsFromBytesNoShapeIsScalar(t *testing.T) {
	chkScoped(t, func() {
		s := torch.FromBytes([]byte{0x00, 0x3C}, torch.Float16)
		chkTensor(t, "FromBytes(2 bytes, float16)", s, torch.Float16, []int64{}, []float64{1}, 0)
		chkErrCode(t, "FromBytes(4 bytes, float16) without shape", torch.CodeArgument, func() {
			torch.FromBytes([]byte{0x00, 0x3C, 0xFF, 0x7B}, torch.Float16)
		})
	})
}

func TestOpsDTypeMetadata(t *testing.T) {
	cases := []struct {
		d        torch.DType
		name     string
		size     int
		floating bool
	}{
		{torch.Float32, "float32", 4, true}, {torch.Float64, "float64", 8, true},
		{torch.Float16, "float16", 2, true}, {torch.BFloat16, "bfloat16", 2, true},
		{torch.Int64, "int64", 8, false}, {torch.Int32, "int32", 4, false},
		{torch.Bool, "bool", 1, false}, {torch.Uint8, "uint8", 1, false}, {torch.Int8, "int8", 1, false},
	}
	for _, c := range cases {
		if c.d.String() != c.name || c.d.Size() != c.size || c.d.IsFloating() != c.floating {
			t.Errorf("%d: String %q Size %d IsFloating %v, want %q %d %v", int(c.d), c.d.String(), c.d.Size(), c.d.IsFloating(), c.name, c.size, c.floating)
		}
		if p, err := torch.ParseDType(strings.ToUpper(c.name)); err != nil || p != c.d {
			t.Errorf("ParseDType(%q) = %v, %v", strings.ToUpper(c.name), p, err)
		}
		// Every dtype can be created, converted to and read back.
		chkScoped(t, func() {
			z := torch.Ones([]int64{2}, torch.WithDType(c.d))
			if z.DType() != c.d || len(z.Bytes()) != 2*c.size {
				t.Errorf("Ones(%v): dtype %v, %d bytes", c.d, z.DType(), len(z.Bytes()))
			}
			chkVals(t, "Ones "+c.name, z.Float64s(), []float64{1, 1}, 0, 0)
			chkVals(t, "to "+c.name, tF32([]float32{0, 1}).To(c.d).Float64s(), []float64{0, 1}, 0, 0)
		})
	}
	for s, want := range map[string]torch.DType{"bf16": torch.BFloat16, "fp16": torch.Float16, "half": torch.Float16,
		"float": torch.Float32, "double": torch.Float64, "long": torch.Int64, "int": torch.Int32, " f32 ": torch.Float32} {
		if got, err := torch.ParseDType(s); err != nil || got != want {
			t.Errorf("ParseDType(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := torch.ParseDType("float8"); err == nil {
		t.Error("ParseDType(float8) should fail")
	}
	if s := torch.DType(42).String(); s != "DType(42)" || torch.DType(42).Size() != 0 {
		t.Errorf("invalid dtype: String %q Size %d", s, torch.DType(42).Size())
	}
}

// ---- slices and bytes ----

type namedF32 float32 // a named element type: FromSlice accepts ~float32

func chkRoundTrip[T torch.Element](t *testing.T, name string, data []T, shape []int64, dtype torch.DType, le []byte) {
	t.Run(name, func(t *testing.T) {
		chkScoped(t, func() {
			x := torch.FromSlice(data, shape...)
			wantShape := shape
			if len(shape) == 0 {
				wantShape = []int64{int64(len(data))}
			}
			if x.DType() != dtype || !slices.Equal(x.Shape(), wantShape) || x.Numel() != int64(len(data)) {
				t.Fatalf("FromSlice: %v, numel %d; want dtype %v shape %v", x, x.Numel(), dtype, wantShape)
			}
			if got := torch.ToSlice[T](x); !slices.Equal(got, data) {
				t.Errorf("ToSlice: got %v, want %v", got, data)
			}
			b := x.Bytes()
			if !slices.Equal(b, le) {
				t.Errorf("Bytes: got % x, want % x", b, le)
			}
			y := torch.FromBytes(b, dtype, wantShape...)
			if got := torch.ToSlice[T](y); !slices.Equal(got, data) || !slices.Equal(y.Shape(), wantShape) {
				t.Errorf("FromBytes(Bytes): got %v %v, want %v %v", got, y.Shape(), data, wantShape)
			}
			// The tensor owns a copy: changing the Go slice afterwards does not change it.
			if len(data) > 0 {
				saved := data[0]
				data[0] = data[len(data)-1]
				if !slices.Equal(x.Bytes(), le) {
					t.Error("tensor shares memory with the Go slice it was made from")
				}
				data[0] = saved
			}
		})
	})
}

func TestOpsSliceRoundTrip(t *testing.T) {
	le32 := func(v ...float32) []byte {
		var b []byte
		for _, f := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
		return b
	}
	le64 := func(v ...float64) []byte {
		var b []byte
		for _, f := range v {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		}
		return b
	}
	chkRoundTrip(t, "float32", []float32{1.5, -0.1, float32(math.Inf(-1)), 3e38, 1e-45, 0, 7}, []int64{7}, torch.Float32,
		le32(1.5, -0.1, float32(math.Inf(-1)), 3e38, 1e-45, 0, 7))
	chkRoundTrip(t, "float32-2x3", []float32{1, 2, 3, 4, 5, 6}, []int64{2, 3}, torch.Float32, le32(1, 2, 3, 4, 5, 6))
	chkRoundTrip(t, "float64", []float64{math.Pi, -1e300, 5e-324, 0.1}, []int64{2, 1, 2}, torch.Float64, le64(math.Pi, -1e300, 5e-324, 0.1))
	chkRoundTrip(t, "int64", []int64{math.MaxInt64, math.MinInt64, -1, 0}, nil, torch.Int64,
		binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(
			binary.LittleEndian.AppendUint64(nil, math.MaxInt64), 1<<63), math.MaxUint64), 0))
	chkRoundTrip(t, "int32", []int32{math.MaxInt32, math.MinInt32, -2}, []int64{3}, torch.Int32,
		[]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0x80, 0xfe, 0xff, 0xff, 0xff})
	chkRoundTrip(t, "uint8", []uint8{0, 255, 128}, []int64{1, 3}, torch.Uint8, []byte{0, 255, 128})
	chkRoundTrip(t, "int8", []int8{-128, 127, -1}, []int64{3, 1}, torch.Int8, []byte{0x80, 0x7f, 0xff})
	chkRoundTrip(t, "bool", []bool{true, false, true, true}, []int64{2, 2}, torch.Bool, []byte{1, 0, 1, 1})
	chkRoundTrip(t, "named-float32", []namedF32{1, -2}, nil, torch.Float32, le32(1, -2))
	chkRoundTrip(t, "empty", []float32{}, nil, torch.Float32, nil)
	chkRoundTrip(t, "empty-2x0", []int64{}, []int64{2, 0}, torch.Int64, nil)
	chkRoundTrip(t, "one-element", []float64{2.5}, []int64{1}, torch.Float64, le64(2.5))

	chkScoped(t, func() {
		// ToSlice converts: a float32 tensor read as int64 truncates, as bool tests non-zero.
		x := tF32([]float32{1.9, -0.5, 0})
		if got := x.Int64s(); !slices.Equal(got, []int64{1, 0, 0}) {
			t.Errorf("Int64s of float32: %v", got)
		}
		if got := x.Bools(); !slices.Equal(got, []bool{true, true, false}) {
			t.Errorf("Bools of float32: %v", got)
		}
		if got := x.Float32s(); !slices.Equal(got, []float32{1.9, -0.5, 0}) {
			t.Errorf("Float32s: %v", got)
		}
		if got := torch.ToSlice[uint8](tI64([]int64{258})); got[0] != 2 {
			t.Errorf("ToSlice[uint8] of 258: %v (want wrap-around 2)", got)
		}
		// ToSlice of a non-contiguous view is row-major in the view's order.
		tr := torch.Arange(0, 6, 1).View(2, 3).Transpose(0, 1)
		if got := tr.Float32s(); !slices.Equal(got, []float32{0, 3, 1, 4, 2, 5}) {
			t.Errorf("Float32s of a transposed view: %v", got)
		}
		if got := tr.Bytes(); !slices.Equal(got, le32(0, 3, 1, 4, 2, 5)) {
			t.Errorf("Bytes of a transposed view: % x", got)
		}
		// A zero-dim tensor has one element.
		if got := torch.Scalar(4.25).Float64s(); !slices.Equal(got, []float64{4.25}) {
			t.Errorf("Float64s of a scalar: %v", got)
		}
	})
}

// ---- factories ----

func TestOpsFactories(t *testing.T) {
	runOpsCases(t, []opsCase{
		{"Arange/default-float32", func() *torch.Tensor { return torch.Arange(0, 5, 1) }, torch.Float32, []int64{5}, arangeValues(5), 0},
		{"Arange/fractional-step", func() *torch.Tensor { return torch.Arange(0, 1, 0.25) }, torch.Float32, []int64{4}, []float64{0, 0.25, 0.5, 0.75}, 0},
		{"Arange/negative-step", func() *torch.Tensor { return torch.Arange(5, 0, -2) }, torch.Float32, []int64{3}, []float64{5, 3, 1}, 0},
		{"Arange/int64", func() *torch.Tensor { return torch.Arange(0, 5, 2, torch.WithDType(torch.Int64)) }, torch.Int64, []int64{3}, []float64{0, 2, 4}, 0},
		{"Arange/float64", func() *torch.Tensor { return torch.Arange(-1, 1, 0.5, torch.WithDType(torch.Float64)) }, torch.Float64, []int64{4}, []float64{-1, -0.5, 0, 0.5}, 0},
		{"Arange/empty", func() *torch.Tensor { return torch.Arange(3, 3, 1) }, torch.Float32, []int64{0}, []float64{}, 0},
		{"Full/float32", func() *torch.Tensor { return torch.Full([]int64{2, 2}, 2.5) }, torch.Float32, []int64{2, 2}, []float64{2.5, 2.5, 2.5, 2.5}, 0},
		{"Full/int64", func() *torch.Tensor { return torch.Full([]int64{3}, 7, torch.WithDType(torch.Int64)) }, torch.Int64, []int64{3}, []float64{7, 7, 7}, 0},
		{"Full/bfloat16-rounds", func() *torch.Tensor { return torch.Full([]int64{1}, 1.01171875, torch.WithDType(torch.BFloat16)) }, torch.BFloat16, []int64{1}, []float64{1.015625}, 0},
		{"Full/-inf", func() *torch.Tensor { return torch.Full([]int64{2}, math.Inf(-1)) }, torch.Float32, []int64{2}, []float64{math.Inf(-1), math.Inf(-1)}, 0},
		{"Full/bool", func() *torch.Tensor { return torch.Full([]int64{2}, 1, torch.WithDType(torch.Bool)) }, torch.Bool, []int64{2}, []float64{1, 1}, 0},
		{"Ones/float64", func() *torch.Tensor { return torch.Ones([]int64{2, 1}, torch.WithDType(torch.Float64)) }, torch.Float64, []int64{2, 1}, []float64{1, 1}, 0},
		{"Ones/bool", func() *torch.Tensor { return torch.Ones([]int64{2}, torch.WithDType(torch.Bool)) }, torch.Bool, []int64{2}, []float64{1, 1}, 0},
		{"Zeros/bfloat16", func() *torch.Tensor { return torch.Zeros([]int64{3}, torch.WithDType(torch.BFloat16)) }, torch.BFloat16, []int64{3}, []float64{0, 0, 0}, 0},
		{"Zeros/empty-shape-is-scalar", func() *torch.Tensor { return torch.Zeros(nil) }, torch.Float32, []int64{}, []float64{0}, 0},
		{"Zeros/zero-size", func() *torch.Tensor { return torch.Zeros([]int64{0, 3}) }, torch.Float32, []int64{0, 3}, []float64{}, 0},
		{"Scalar", func() *torch.Tensor { return torch.Scalar(3.5) }, torch.Float32, []int64{}, []float64{3.5}, 0},
		{"Scalar/int64", func() *torch.Tensor { return torch.Scalar(-4, torch.WithDType(torch.Int64)) }, torch.Int64, []int64{}, []float64{-4}, 0},
		{"Scalar/float64", func() *torch.Tensor { return torch.Scalar(0.1, torch.WithDType(torch.Float64)) }, torch.Float64, []int64{}, []float64{0.1}, 1e-300},
	})
	chkScoped(t, func() {
		s := torch.Scalar(3.5, torch.WithDType(torch.Float64), torch.WithDevice(torch.CPU), torch.RequiresGrad())
		if s.Dim() != 0 || s.Numel() != 1 || s.Item() != 3.5 || s.Device() != torch.CPU {
			t.Errorf("Scalar: dim %d numel %d item %v device %v", s.Dim(), s.Numel(), s.Item(), s.Device())
		}
		if !s.RequiresGrad() || !s.IsLeaf() {
			t.Error("Scalar(RequiresGrad()) is not a leaf requiring grad")
		}
		for name, x := range map[string]*torch.Tensor{
			"Zeros":  torch.Zeros([]int64{2}, torch.RequiresGrad()),
			"Ones":   torch.Ones([]int64{2}, torch.RequiresGrad()),
			"Full":   torch.Full([]int64{2}, 1, torch.RequiresGrad()),
			"Arange": torch.Arange(0, 2, 1, torch.RequiresGrad()),
			"Empty":  torch.Empty([]int64{2}, torch.RequiresGrad()),
		} {
			if !x.RequiresGrad() || !x.IsLeaf() {
				t.Errorf("%s(RequiresGrad()) is not a leaf requiring grad", name)
			}
		}
		if torch.Zeros([]int64{2}).RequiresGrad() {
			t.Error("Zeros requires grad by default")
		}
		e := torch.Empty([]int64{3, 0, 2}, torch.WithDType(torch.Int32))
		if !slices.Equal(e.Shape(), []int64{3, 0, 2}) || e.DType() != torch.Int32 || e.Numel() != 0 {
			t.Errorf("Empty: %v numel %d", e, e.Numel())
		}
	})
}

// ---- in-place updates ----

func TestOpsInPlace(t *testing.T) {
	type inplaceCase struct {
		name  string
		run   func() (target, returned *torch.Tensor)
		dtype torch.DType
		shape []int64
		want  []float64
	}
	cases := []inplaceCase{
		{"AddInPlace/alpha", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1, 2, 3})
			return a, a.AddInPlace(tF32([]float32{1, 1, 2}), 2)
		}, torch.Float32, []int64{3}, []float64{3, 4, 7}},
		{"AddInPlace/broadcast", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1, 2, 3, 4}, 2, 2)
			return a, a.AddInPlace(tF32([]float32{10, 20}), 1)
		}, torch.Float32, []int64{2, 2}, []float64{11, 22, 13, 24}},
		{"SubInPlace/alpha", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1, 2})
			return a, a.SubInPlace(tF32([]float32{2, 4}), 0.5)
		}, torch.Float32, []int64{2}, []float64{0, 0}},
		{"MulInPlace", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1, 2, 3})
			return a, a.MulInPlace(tF32([]float32{2, 0.5, -1}))
		}, torch.Float32, []int64{3}, []float64{2, 1, -3}},
		{"DivInPlace/broadcast-scalar-tensor", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1, 2, 3})
			return a, a.DivInPlace(torch.Scalar(4))
		}, torch.Float32, []int64{3}, []float64{0.25, 0.5, 0.75}},
		{"CopyFrom/broadcast-and-convert", func() (*torch.Tensor, *torch.Tensor) {
			a := torch.Zeros([]int64{2, 3})
			return a, a.CopyFrom(tF64([]float64{1.5, 2.5, 0.1}))
		}, torch.Float32, []int64{2, 3}, []float64{1.5, 2.5, float64(float32(0.1)), 1.5, 2.5, float64(float32(0.1))}},
		{"CopyFrom/int64-into-float32", func() (*torch.Tensor, *torch.Tensor) {
			a := torch.Zeros([]int64{2})
			return a, a.CopyFrom(tI64([]int64{7, -3}))
		}, torch.Float32, []int64{2}, []float64{7, -3}},
		{"CopyFrom/float32-into-int64-truncates", func() (*torch.Tensor, *torch.Tensor) {
			a := torch.Zeros([]int64{2}, torch.WithDType(torch.Int64))
			return a, a.CopyFrom(tF32([]float32{1.9, -1.9}))
		}, torch.Int64, []int64{2}, []float64{1, -1}},
		{"CopyFrom/float32-into-bfloat16-rounds", func() (*torch.Tensor, *torch.Tensor) {
			a := torch.Zeros([]int64{2}, torch.WithDType(torch.BFloat16))
			return a, a.CopyFrom(tF32([]float32{1.01171875, 1.00390625}))
		}, torch.BFloat16, []int64{2}, []float64{1.015625, 1}},
		{"AddScalarInPlace", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1, 2})
			return a, a.AddScalarInPlace(1.5)
		}, torch.Float32, []int64{2}, []float64{2.5, 3.5}},
		{"AddScalarInPlace/int64", func() (*torch.Tensor, *torch.Tensor) {
			a := tI64([]int64{1, 2})
			return a, a.AddScalarInPlace(2)
		}, torch.Int64, []int64{2}, []float64{3, 4}},
		{"MulScalarInPlace", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1, -2})
			return a, a.MulScalarInPlace(-2)
		}, torch.Float32, []int64{2}, []float64{-2, 4}},
		{"Fill", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1, 2, 3, 4}, 2, 2)
			return a, a.Fill(7)
		}, torch.Float32, []int64{2, 2}, []float64{7, 7, 7, 7}},
		{"Fill/-inf", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1})
			return a, a.Fill(math.Inf(-1))
		}, torch.Float32, []int64{1}, []float64{math.Inf(-1)}},
		{"Fill/bool", func() (*torch.Tensor, *torch.Tensor) {
			a := tBool([]bool{false, false})
			return a, a.Fill(1)
		}, torch.Bool, []int64{2}, []float64{1, 1}},
		{"Zero", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1, 2, 3})
			return a, a.Zero()
		}, torch.Float32, []int64{3}, []float64{0, 0, 0}},
		{"Zero/int64", func() (*torch.Tensor, *torch.Tensor) {
			a := tI64([]int64{4, 5})
			return a, a.Zero()
		}, torch.Int64, []int64{2}, []float64{0, 0}},
		{"chained", func() (*torch.Tensor, *torch.Tensor) {
			a := tF32([]float32{1, 2})
			return a, a.MulScalarInPlace(2).AddScalarInPlace(1).AddInPlace(tF32([]float32{1, 1}), -1)
		}, torch.Float32, []int64{2}, []float64{2, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chkScoped(t, func() {
				target, returned := c.run()
				if returned != target {
					t.Errorf("%s returned a different *Tensor (%p, want %p)", c.name, returned, target)
				}
				chkTensor(t, c.name, target, c.dtype, c.shape, c.want, 1e-7)
			})
		})
	}
	// In-place updates through a view write the base tensor's storage.
	chkScoped(t, func() {
		base := torch.Arange(0, 6, 1).View(2, 3)
		base.Slice(1, 1, torch.End, 1).Fill(-1)
		base.Narrow(0, 1, 1).AddScalarInPlace(10)
		base.Transpose(0, 1).Slice(0, 0, 1, 1).MulScalarInPlace(2) // column 0
		chkVals(t, "base after writes through views", base.Float64s(), []float64{0, -1, -1, 26, 9, 9}, 0, 0)
	})
}

// ---- metadata ----

func TestOpsMetadata(t *testing.T) {
	chkScoped(t, func() {
		x := torch.Arange(0, 6, 1).View(2, 3)
		if x.Dim() != 2 || !slices.Equal(x.Shape(), []int64{2, 3}) || x.Size(0) != 2 || x.Size(1) != 3 ||
			x.Size(-1) != 3 || x.Size(-2) != 2 || x.Numel() != 6 || x.DType() != torch.Float32 || x.Device() != torch.CPU {
			t.Errorf("metadata of arange(6).view(2,3): dim %d shape %v size(-1) %d numel %d %v %v",
				x.Dim(), x.Shape(), x.Size(-1), x.Numel(), x.DType(), x.Device())
		}
		if s := x.String(); s != "Tensor[2 3] float32 cpu" {
			t.Errorf("String: %q", s)
		}
		if s := torch.Scalar(1, torch.WithDType(torch.Int64)).String(); s != "Tensor[] int64 cpu" {
			t.Errorf("String of an int64 scalar: %q", s)
		}
		if f := tF32([]float32{1.5, 2}).Format(); !strings.Contains(f, "1.5") || !strings.Contains(f, "CPUFloatType{2}") {
			t.Errorf("Format: %q", f)
		}
		if !x.IsContiguous() {
			t.Error("arange view is not contiguous")
		}
		tr := x.Transpose(0, 1)
		if tr.IsContiguous() {
			t.Error("transposed view reports contiguous")
		}
		if !slices.Equal(tr.Shape(), []int64{3, 2}) || tr.Size(-1) != 2 {
			t.Errorf("transposed shape %v", tr.Shape())
		}
		c := tr.Contiguous()
		if !c.IsContiguous() {
			t.Error("Contiguous() result is not contiguous")
		}
		chkTensor(t, "Contiguous(Transpose)", c, torch.Float32, []int64{3, 2}, []float64{0, 3, 1, 4, 2, 5}, 0)
		// View needs a viewable layout; Contiguous then View works.
		chkTensor(t, "Contiguous(Transpose).View(6)", c.View(6), torch.Float32, []int64{6}, []float64{0, 3, 1, 4, 2, 5}, 0)
		chkErrCode(t, "View of a transposed tensor", torch.CodeTorch, func() { tr.View(6) })
		// Contiguous on a contiguous tensor is the same storage (a new handle).
		same := x.Contiguous()
		same.Fill(5)
		if x.Float64s()[0] != 5 {
			t.Error("Contiguous() of a contiguous tensor copied it")
		}
		// To the same dtype is the same storage too.
		alias := x.To(torch.Float32)
		alias.Zero()
		if x.Float64s()[0] != 0 {
			t.Error("To(same dtype) copied the tensor")
		}
		big := torch.Zeros([]int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3})
		if big.Dim() != 19 || big.Size(-1) != 3 || big.Size(-2) != 2 || big.Numel() != 6 {
			t.Errorf("19-dim tensor: dim %d shape %v", big.Dim(), big.Shape())
		}
		if !torch.Ones([]int64{2}).Expand(3, 2).Contiguous().IsContiguous() {
			t.Error("Contiguous of an expanded tensor")
		}
		if x.Expand(2, 2, 3).IsContiguous() {
			t.Error("an expanded (stride 0) view reports contiguous")
		}
	})
}
