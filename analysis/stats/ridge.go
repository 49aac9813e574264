package stats

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ErrDims reports inconsistent input dimensions.
var ErrDims = errors.New("stats: inconsistent dimensions")

// condLimit is the Cholesky condition-number estimate above which the
// normal equations are treated as (numerically) singular and solved with
// the pseudo-inverse instead.
const condLimit = 1e13

// eps is the float64 machine epsilon, the unit of the pseudo-inverse's
// cut-off.
const eps = 2.220446049250313e-16

// shifted returns a copy of G + lambda*I.
func shifted(g *mat.SymDense, lambda float64) *mat.SymDense {
	p := g.SymmetricDim()
	a := mat.NewSymDense(p, nil)
	a.CopySym(g)
	for i := 0; i < p; i++ {
		a.SetSym(i, i, a.At(i, i)+lambda)
	}
	return a
}

// symPinv is the Moore-Penrose pseudo-inverse of a p×p symmetric positive
// semi-definite matrix in eigen form, a⁺ = V diag(1/e) Vᵀ over the
// eigenvalues e above p*eps*max |eigenvalue| (the others are dropped). It is
// every minimum-norm solution of this package: the singular fallback of
// solveSym and solve2 (Solve), and the hat matrix of the depth fits
// (DepthHat, Dense).
type symPinv struct {
	v    mat.Dense
	e    []float64
	keep []bool
}

// newSymPinv decomposes a; ok is false when the decomposition fails.
func newSymPinv(a *mat.SymDense) (pi *symPinv, ok bool) {
	p := a.SymmetricDim()
	var es mat.EigenSym
	if !es.Factorize(a, true) {
		return nil, false
	}
	pi = &symPinv{e: es.Values(nil), keep: make([]bool, p)}
	es.VectorsTo(&pi.v)
	maxv := 0.0
	for _, e := range pi.e {
		maxv = math.Max(maxv, math.Abs(e))
	}
	for i, e := range pi.e {
		pi.keep[i] = e > float64(p)*eps*maxv
	}
	return pi, true
}

// Solve returns a⁺·r, applied factor by factor: V (diag(1/e) (Vᵀ r)).
func (pi *symPinv) Solve(r *mat.Dense) *mat.Dense {
	var vtr mat.Dense
	vtr.Mul(pi.v.T(), r)
	_, k := r.Dims()
	for i, e := range pi.e {
		s := 0.0
		if pi.keep[i] {
			s = 1 / e
		}
		for j := 0; j < k; j++ {
			vtr.Set(i, j, vtr.At(i, j)*s)
		}
	}
	var b mat.Dense
	b.Mul(&pi.v, &vtr)
	return &b
}

// Dense returns a⁺ itself, entry by entry Σ_i v_ri·v_ci / e_i.
func (pi *symPinv) Dense() *mat.Dense {
	p := len(pi.e)
	inv := mat.NewDense(p, p, nil)
	for r := 0; r < p; r++ {
		for c := 0; c < p; c++ {
			s := 0.0
			for i, e := range pi.e {
				if pi.keep[i] {
					s += pi.v.At(r, i) * pi.v.At(c, i) / e
				}
			}
			inv.Set(r, c, s)
		}
	}
	return inv
}

// solveSym solves (G + lambda*I) B = R for B, where G is p×p symmetric
// positive semi-definite and R is p×k: the one linear solver behind every
// fit in this package. A 2×2 system (the neighbour fits, the quadratic depth
// fits) is solved in closed form, column by column (solve2); a larger one
// with a Cholesky factorisation. Either falls back to the minimum-norm
// solution (G + lambda*I)⁺·R (symPinv) when the system is singular or badly
// conditioned (for lambda = 0 the minimum-norm least-squares solution).
func solveSym(g *mat.SymDense, lambda float64, r *mat.Dense) (*mat.Dense, error) {
	p := g.SymmetricDim()
	if p == 2 {
		_, k := r.Dims()
		b := mat.NewDense(2, k, nil)
		a11, a12, a22 := g.At(0, 0)+lambda, g.At(0, 1), g.At(1, 1)+lambda
		for j := 0; j < k; j++ {
			x1, x2 := solve2(a11, a12, a22, r.At(0, j), r.At(1, j))
			b.Set(0, j, x1)
			b.Set(1, j, x2)
		}
		return b, nil
	}
	a := shifted(g, lambda)
	var chol mat.Cholesky
	if chol.Factorize(a) && chol.Cond() < condLimit {
		var b mat.Dense
		if err := chol.SolveTo(&b, r); err == nil {
			return &b, nil
		}
	}
	pi, ok := newSymPinv(a)
	if !ok {
		return nil, errors.New("stats: eigen decomposition failed")
	}
	return pi.Solve(r), nil
}

// solve2 is solveSym's closed form for the symmetric 2×2 system
// [[a11 a12] [a12 a22]] x = r (the penalty already on the diagonal): Cramer's
// rule while the determinant is clearly positive (above 1e-10 × the squared
// larger diagonal entry, a condition number below about 1e10), otherwise the
// minimum-norm solution. It allocates nothing on the regular path, which the
// per-element fits (ElementwiseRidge) and the Gram-matrix fits rely on.
func solve2(a11, a12, a22, r1, r2 float64) (x1, x2 float64) {
	scale := math.Max(math.Abs(a11), math.Abs(a22))
	if scale == 0 {
		return 0, 0
	}
	det := a11*a22 - a12*a12
	if det > 1e-10*scale*scale {
		return (r1*a22 - r2*a12) / det, (a11*r2 - a12*r1) / det
	}
	pi, ok := newSymPinv(mat.NewSymDense(2, []float64{a11, a12, a12, a22}))
	if !ok {
		return math.NaN(), math.NaN()
	}
	x := pi.Solve(mat.NewDense(2, 1, []float64{r1, r2}))
	return x.At(0, 0), x.At(1, 0)
}

// Ridge fits y ≈ b0 + X·coef by ridge regression, minimising
// ‖y - b0 - X·coef‖² + lambda·‖coef‖². X is n×p (rows are samples).
// The intercept b0 is not penalised: when intercept is true the columns
// of X and y are centred, the penalised system (XcᵀXc + λI)β = Xcᵀyc is
// solved in closed form (Cholesky; pseudo-inverse fallback when singular,
// which for lambda = 0 gives the minimum-norm least-squares solution) and
// b0 = ȳ - x̄ᵀβ. When intercept is false, b0 = 0 and no centring is done.
func Ridge(X mat.Matrix, y []float64, lambda float64, intercept bool) (coef []float64, b0 float64, err error) {
	n, p := X.Dims()
	if len(y) != n {
		return nil, 0, fmt.Errorf("%w: X has %d rows, y has %d", ErrDims, n, len(y))
	}
	cols := make([][]float64, p)
	for j := range cols {
		cols[j] = make([]float64, n)
		for i := 0; i < n; i++ {
			cols[j][i] = X.At(i, j)
		}
	}
	return RidgeCols(cols, y, lambda, intercept)
}

// RidgeCols is Ridge with the design given column-wise: features[k] is the
// k-th feature over all n samples. It only forms the p×p Gram matrix, so it
// is meant for very many samples and few features, e.g. predicting every
// weight element of layer l (n ≈ 300k samples) from the same element of
// layers l-1 and l+1 (p = 2) with one shared pair of coefficients:
//
//	coef, b0, err := RidgeCols([][]float64{W[l-1], W[l+1]}, W[l], lambda, true)
//
// Sums use two passes (means, then centred cross-products) for accuracy.
func RidgeCols(features [][]float64, y []float64, lambda float64, intercept bool) (coef []float64, b0 float64, err error) {
	if lambda < 0 {
		return nil, 0, errors.New("stats: negative lambda")
	}
	n, p := len(y), len(features)
	for k, f := range features {
		if len(f) != n {
			return nil, 0, fmt.Errorf("%w: feature %d has length %d, y has %d", ErrDims, k, len(f), n)
		}
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("%w: no samples", ErrDims)
	}
	mx := make([]float64, p)
	my := 0.0
	if intercept {
		for k, f := range features {
			mx[k] = mean(f)
		}
		my = mean(y)
	}
	g := mat.NewSymDense(p, nil)
	r := mat.NewDense(p, 1, nil)
	for a := 0; a < p; a++ {
		fa := features[a]
		for b := a; b < p; b++ {
			fb := features[b]
			s := 0.0
			for i := 0; i < n; i++ {
				s += (fa[i] - mx[a]) * (fb[i] - mx[b])
			}
			g.SetSym(a, b, s)
		}
		s := 0.0
		for i := 0; i < n; i++ {
			s += (fa[i] - mx[a]) * (y[i] - my)
		}
		r.Set(a, 0, s)
	}
	if p == 0 {
		return []float64{}, my, nil
	}
	sol, err := solveSym(g, lambda, r)
	if err != nil {
		return nil, 0, err
	}
	coef = make([]float64, p)
	b0 = my
	for k := range coef {
		coef[k] = sol.At(k, 0)
		b0 -= mx[k] * coef[k]
	}
	return coef, b0, nil
}

// MultiFit is a multi-output ridge fit: output j is predicted as
// Intercept[j] + Σ_k x[k]·Coef[k][j].
type MultiFit struct {
	Coef      [][]float64 // p rows, each of length m (one entry per output)
	Intercept []float64   // length m (all zero when fitted without intercept)
}

// Predict returns the m outputs for one feature row x (length p).
func (f *MultiFit) Predict(x []float64) []float64 {
	m := len(f.Intercept)
	out := make([]float64, m)
	copy(out, f.Intercept)
	for k, xk := range x {
		c := f.Coef[k]
		for j := range out {
			out[j] += xk * c[j]
		}
	}
	return out
}

// RidgeMulti fits m independent ridge regressions that share the same
// design X (n×p, rows are samples): Y[i] is the row of m outputs for
// sample i (so Y has one column per output). This is the shape of
// "predict a layer's flattened weights from depth features": samples are
// layers, X holds depth features (see DepthFeatures), and Y[i] is layer
// i's flattened weight vector (m ≈ 300k). Only the p×n hat-like matrix
// A = (XcᵀXc + λI)⁻¹Xcᵀ is formed; the coefficients are A·(Y - ȳ), costing
// O(n·p·m) time and O(p·m) extra memory. Y rows are not copied or modified.
// The intercept is unpenalised, as in Ridge.
func RidgeMulti(X mat.Matrix, Y [][]float64, lambda float64, intercept bool) (*MultiFit, error) {
	if lambda < 0 {
		return nil, errors.New("stats: negative lambda")
	}
	n, p := X.Dims()
	if len(Y) != n || n == 0 {
		return nil, fmt.Errorf("%w: X has %d rows, Y has %d", ErrDims, n, len(Y))
	}
	m := len(Y[0])
	for i, row := range Y {
		if len(row) != m {
			return nil, fmt.Errorf("%w: Y row %d has length %d, want %d", ErrDims, i, len(row), m)
		}
	}
	xc, mx := mat.DenseCopyOf(X), make([]float64, p)
	if intercept {
		xc, mx = centred(X)
	}
	fit := &MultiFit{Coef: make([][]float64, p), Intercept: make([]float64, m)}
	for k := range fit.Coef {
		fit.Coef[k] = make([]float64, m)
	}
	my := make([]float64, m)
	if intercept {
		for _, row := range Y {
			for j, v := range row {
				my[j] += v
			}
		}
		for j := range my {
			my[j] /= float64(n)
		}
	}
	if p > 0 {
		var g mat.SymDense
		g.SymOuterK(1, xc.T())
		a, err := solveSym(&g, lambda, mat.DenseCopyOf(xc.T()))
		if err != nil {
			return nil, err
		}
		for i, row := range Y {
			for k := 0; k < p; k++ {
				aki := a.At(k, i)
				if aki == 0 {
					continue
				}
				c := fit.Coef[k]
				for j, v := range row {
					c[j] += aki * (v - my[j])
				}
			}
		}
	}
	copy(fit.Intercept, my)
	for k := 0; k < p; k++ {
		c := fit.Coef[k]
		for j := range fit.Intercept {
			fit.Intercept[j] -= mx[k] * c[j]
		}
	}
	return fit, nil
}

// ElementwiseFit holds per-element ridge coefficients: element j is
// predicted as Intercept[j] + Σ_k Coef[k][j]·feature_k[j].
type ElementwiseFit struct {
	Coef      [][]float64 // p rows of length m
	Intercept []float64   // length m
}

// Predict applies the per-element model to one sample whose k-th feature
// vector is features[k] (length m each).
func (f *ElementwiseFit) Predict(features [][]float64) ([]float64, error) {
	m := len(f.Intercept)
	if len(features) != len(f.Coef) {
		return nil, fmt.Errorf("%w: %d feature vectors, model has %d", ErrDims, len(features), len(f.Coef))
	}
	out := make([]float64, m)
	copy(out, f.Intercept)
	for k, fv := range features {
		if len(fv) != m {
			return nil, fmt.Errorf("%w: feature %d has length %d, want %d", ErrDims, k, len(fv), m)
		}
		c := f.Coef[k]
		for j := range out {
			out[j] += c[j] * fv[j]
		}
	}
	return out, nil
}

// ElementwiseRidge fits a separate small ridge regression for every
// element j = 0..m-1, with samples i = 0..n-1:
//
//	targets[i][j] ≈ b0[j] + Σ_k coef[k][j] · features[i][k][j]
//
// features[i][k] is the k-th feature vector of sample i (length m) and
// targets[i] the target vector (length m). This is "elementwise regression
// across layers": e.g. for each weight element, predict its value in layer
// l from the same element in layers l-1 and l+1, fitted over the training
// layers: sample i ↔ layer l_i, features[i] = {W[l_i-1], W[l_i+1]},
// targets[i] = W[l_i]. The slices are referenced, not copied. Each element
// solves a p×p system (p = number of features, intercept unpenalised) with
// solveSym (minimum-norm for singular elements), so the cost is
// O(m·(n·p² + p³)); p = 2, the neighbour fit, allocates nothing per element.
func ElementwiseRidge(features [][][]float64, targets [][]float64, lambda float64, intercept bool) (*ElementwiseFit, error) {
	if lambda < 0 {
		return nil, errors.New("stats: negative lambda")
	}
	n := len(targets)
	if n == 0 || len(features) != n {
		return nil, fmt.Errorf("%w: %d feature samples, %d targets", ErrDims, len(features), n)
	}
	m := len(targets[0])
	p := len(features[0])
	for i := 0; i < n; i++ {
		if len(targets[i]) != m || len(features[i]) != p {
			return nil, fmt.Errorf("%w: sample %d", ErrDims, i)
		}
		for k := 0; k < p; k++ {
			if len(features[i][k]) != m {
				return nil, fmt.Errorf("%w: sample %d feature %d has length %d, want %d", ErrDims, i, k, len(features[i][k]), m)
			}
		}
	}
	fit := &ElementwiseFit{Coef: make([][]float64, p), Intercept: make([]float64, m)}
	for k := range fit.Coef {
		fit.Coef[k] = make([]float64, m)
	}
	g := make([]float64, p*p) // row-major p×p Gram (centred)
	r := make([]float64, p)
	mx := make([]float64, p)
	fn := float64(n)
	for j := 0; j < m; j++ {
		my := 0.0
		for k := range mx {
			mx[k] = 0
		}
		if intercept {
			for i := 0; i < n; i++ {
				my += targets[i][j]
				for k := 0; k < p; k++ {
					mx[k] += features[i][k][j]
				}
			}
			my /= fn
			for k := range mx {
				mx[k] /= fn
			}
		}
		for a := 0; a < p; a++ {
			for b := a; b < p; b++ {
				s := 0.0
				for i := 0; i < n; i++ {
					s += (features[i][a][j] - mx[a]) * (features[i][b][j] - mx[b])
				}
				g[a*p+b], g[b*p+a] = s, s
			}
			s := 0.0
			for i := 0; i < n; i++ {
				s += (features[i][a][j] - mx[a]) * (targets[i][j] - my)
			}
			r[a] = s
		}
		b0 := my
		switch p {
		case 0:
		case 2: // the neighbour fits: closed form, no allocation per element
			c0, c1 := solve2(g[0]+lambda, g[1], g[3]+lambda, r[0], r[1])
			fit.Coef[0][j], fit.Coef[1][j] = c0, c1
			b0 -= mx[0] * c0
			b0 -= mx[1] * c1
		default:
			gs := mat.NewSymDense(p, nil)
			for a := 0; a < p; a++ {
				for b := a; b < p; b++ {
					gs.SetSym(a, b, g[a*p+b])
				}
			}
			sol, err := solveSym(gs, lambda, mat.NewDense(p, 1, append([]float64(nil), r...)))
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", j, err)
			}
			for k := 0; k < p; k++ {
				fit.Coef[k][j] = sol.At(k, 0)
				b0 -= mx[k] * sol.At(k, 0)
			}
		}
		fit.Intercept[j] = b0
	}
	return fit, nil
}
