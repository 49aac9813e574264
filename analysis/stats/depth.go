package stats

import "gonum.org/v1/gonum/mat"

// The depth fits predict every element of a layer's weights as a polynomial in the layer's
// depth. DepthFeatures is their design matrix; RidgeMulti fits it to the weights themselves and
// DepthHat gives the same fit as a linear smoother over layers, which is what the Gram-matrix
// statistics (Gram.Depth) need.

// DepthFeatures returns the L×degree design matrix of polynomial depth
// features for layers 0..L-1: column d-1 holds t^d with t = 2l/(L-1) - 1
// (depth rescaled to [-1, 1] for conditioning). Use it with an intercept.
// For L = 1, t = 0. degree <= 0 gives one all-zero column, i.e. an
// intercept-only (mean) model.
func DepthFeatures(L, degree int) *mat.Dense {
	if degree <= 0 {
		return mat.NewDense(L, 1, nil) // a single zero column: intercept-only model
	}
	x := mat.NewDense(L, degree, nil)
	for l := 0; l < L; l++ {
		t := 0.0
		if L > 1 {
			t = 2*float64(l)/float64(L-1) - 1
		}
		v := 1.0
		for d := 0; d < degree; d++ {
			v *= t
			x.Set(l, d, v)
		}
	}
	return x
}

// centred returns a copy of X with each column's mean subtracted, and the means: the design of
// a fit whose intercept is not penalised.
func centred(X mat.Matrix) (*mat.Dense, []float64) {
	n, p := X.Dims()
	xc := mat.DenseCopyOf(X)
	mx := make([]float64, p)
	for k := 0; k < p; k++ {
		s := 0.0
		for i := 0; i < n; i++ {
			s += xc.At(i, k)
		}
		mx[k] = s / float64(n)
		for i := 0; i < n; i++ {
			xc.Set(i, k, xc.At(i, k)-mx[k])
		}
	}
	return xc, mx
}

// DepthHat returns the L×L hat matrix H of the ridge fit on DepthFeatures(L, degree) with an
// unpenalised intercept and penalty lambda: the fitted weights of every element at once are
// Ŵ = H·W (W stacked by layer), H = 11ᵀ/L + Xc (XcᵀXc + λI)⁺ Xcᵀ with Xc the centred features.
// It is the fit of RidgeMulti(DepthFeatures(L, degree), W, lambda, true) (up to rounding), as a
// linear smoother over layers; its diagonal gives the exact leave-one-layer-out residuals
// (Gram.Depth). degree <= 0 is the mean over layers.
func DepthHat(L, degree int, lambda float64) *mat.Dense {
	h := mat.NewDense(L, L, nil)
	for i := 0; i < L; i++ {
		for k := 0; k < L; k++ {
			h.Set(i, k, 1/float64(L))
		}
	}
	if degree <= 0 {
		return h
	}
	xc, _ := centred(DepthFeatures(L, degree))
	var g mat.SymDense
	g.SymOuterK(1, xc.T())
	pi, ok := newSymPinv(shifted(&g, lambda))
	if !ok {
		return h
	}
	var t1, t2 mat.Dense
	t1.Mul(xc, pi.Dense())
	t2.Mul(&t1, xc.T())
	h.Add(h, &t2)
	return h
}
