package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (tol %g)", name, got, want, tol)
	}
}

func TestRidgeHandValues(t *testing.T) {
	// One feature, no intercept: β = Σxy / (Σx² + λ) = 28/(14+1).
	X := mat.NewDense(3, 1, []float64{1, 2, 3})
	y := []float64{2, 4, 6}
	c, b0, err := Ridge(X, y, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "coef", c[0], 28.0/15, 1e-12)
	near(t, "b0", b0, 0, 0)
	// With intercept (unpenalised): centred Sxy = 4, Sxx = 2, β = 4/(2+λ)=1 for λ=2,
	// b0 = ȳ - x̄β = 4 - 2 = 2.
	c, b0, err = Ridge(X, y, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "coef(intercept)", c[0], 1, 1e-12)
	near(t, "b0(intercept)", b0, 2, 1e-12)
	// λ = 0 recovers the exact line y = 2x.
	c, b0, _ = Ridge(X, y, 0, true)
	near(t, "coef(ols)", c[0], 2, 1e-12)
	near(t, "b0(ols)", b0, 0, 1e-12)
}

func TestRidgeExactLinearAndShrinkage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n, p := 60, 3
	X := mat.NewDense(n, p, nil)
	beta := []float64{1, -2, 0.5}
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		y[i] = 2
		for k := 0; k < p; k++ {
			v := rng.NormFloat64()
			X.Set(i, k, v)
			y[i] += beta[k] * v
		}
	}
	c, b0, err := Ridge(X, y, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	for k := range beta {
		near(t, "coef", c[k], beta[k], 1e-10)
	}
	near(t, "b0", b0, 2, 1e-10)
	yhat := make([]float64, n)
	for i := range yhat {
		yhat[i] = b0 + mat.Dot(X.RowView(i), mat.NewVecDense(p, c))
	}
	near(t, "R2", RSquared(y, yhat), 1, 1e-12)

	norm := func(v []float64) float64 { return Norm2(v) }
	prev := norm(c)
	for _, lam := range []float64{0.1, 1, 10, 100, 1e4} {
		cl, _, err := Ridge(X, y, lam, true)
		if err != nil {
			t.Fatal(err)
		}
		if nl := norm(cl); !(nl < prev) {
			t.Errorf("lambda=%g: ‖coef‖=%g not < %g (no shrinkage)", lam, nl, prev)
		} else {
			prev = nl
		}
	}
	if prev > 0.05*norm(c) {
		t.Errorf("lambda=1e4 should shrink coefficients towards 0, ‖coef‖=%g", prev)
	}
	// RidgeCols (streamed Gram) agrees with Ridge.
	cols := make([][]float64, p)
	for k := range cols {
		cols[k] = mat.Col(nil, k, X)
	}
	for _, lam := range []float64{0, 3} {
		c1, b1, _ := Ridge(X, y, lam, true)
		c2, b2, err := RidgeCols(cols, y, lam, true)
		if err != nil {
			t.Fatal(err)
		}
		for k := range c1 {
			near(t, "RidgeCols coef", c2[k], c1[k], 1e-12)
		}
		near(t, "RidgeCols b0", b2, b1, 1e-12)
	}
}

func TestRidgeSingularMinNorm(t *testing.T) {
	// Duplicate column with λ = 0: the minimum-norm solution splits the
	// coefficient equally.
	x := []float64{1, 2, 3, 4}
	y := []float64{2, 4, 6, 8}
	c, b0, err := RidgeCols([][]float64{x, x}, y, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "c0", c[0], 1, 1e-9)
	near(t, "c1", c[1], 1, 1e-9)
	near(t, "b0", b0, 0, 1e-9)
	if _, _, err := Ridge(mat.NewDense(2, 1, []float64{1, 2}), []float64{1}, 0, true); err == nil {
		t.Error("expected dimension error")
	}
}

func TestRidgeMultiMatchesRidge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n, p, m := 12, 2, 7
	X := mat.NewDense(n, p, nil)
	for i := 0; i < n; i++ {
		for k := 0; k < p; k++ {
			X.Set(i, k, rng.NormFloat64())
		}
	}
	Y := make([][]float64, n)
	for i := range Y {
		Y[i] = make([]float64, m)
		for j := range Y[i] {
			Y[i][j] = rng.NormFloat64()
		}
	}
	for _, icpt := range []bool{true, false} {
		fit, err := RidgeMulti(X, Y, 0.7, icpt)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < m; j++ {
			y := make([]float64, n)
			for i := range y {
				y[i] = Y[i][j]
			}
			c, b0, _ := Ridge(X, y, 0.7, icpt)
			for k := range c {
				near(t, "multi coef", fit.Coef[k][j], c[k], 1e-12)
			}
			near(t, "multi b0", fit.Intercept[j], b0, 1e-12)
		}
	}
}

func TestElementwiseRidgeExact(t *testing.T) {
	// targets[i][j] = b0[j] + c0[j]*f0 + c1[j]*f1 exactly → recovered.
	rng := rand.New(rand.NewPCG(5, 6))
	n, m := 8, 5
	c0 := []float64{1, -1, 0.5, 2, 0}
	c1 := []float64{0.3, 0.3, -2, 1, 1}
	b := []float64{0, 1, 2, 3, 4}
	feats := make([][][]float64, n)
	tg := make([][]float64, n)
	for i := 0; i < n; i++ {
		f0, f1 := make([]float64, m), make([]float64, m)
		tg[i] = make([]float64, m)
		for j := 0; j < m; j++ {
			f0[j], f1[j] = rng.NormFloat64(), rng.NormFloat64()
			tg[i][j] = b[j] + c0[j]*f0[j] + c1[j]*f1[j]
		}
		feats[i] = [][]float64{f0, f1}
	}
	fit, err := ElementwiseRidge(feats, tg, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < m; j++ {
		near(t, "c0", fit.Coef[0][j], c0[j], 1e-9)
		near(t, "c1", fit.Coef[1][j], c1[j], 1e-9)
		near(t, "b0", fit.Intercept[j], b[j], 1e-9)
	}
}

func TestLeaveOneOutHand(t *testing.T) {
	// Predicting each y_i by the mean of the others gives
	// y_i - ŷ_i = 4/3 (y_i - ȳ) for n = 4, so pooled Q² = 1 - 16/9 = -7/9.
	y := []float64{1, 2, 3, 4}
	res, err := LeaveOneOut(4, func(train []int, test int) ([]float64, error) {
		s := 0.0
		for _, i := range train {
			s += y[i]
		}
		return []float64{s / float64(len(train))}, nil
	}, func(i int) []float64 { return y[i : i+1] })
	if err != nil {
		t.Fatal(err)
	}
	near(t, "pooled Q2", res.Pooled, -7.0/9, 1e-12)
	for _, v := range res.PerFold {
		if !math.IsNaN(v) { // one value per fold: SS_tot = 0 → NaN
			t.Errorf("per-fold R2 of a scalar should be NaN, got %g", v)
		}
	}
}

func linearLayers(L, m int, seed uint64, quad bool) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 99))
	a, b, c := make([]float64, m), make([]float64, m), make([]float64, m)
	for j := range a {
		a[j], b[j], c[j] = rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
	}
	W := make([][]float64, L)
	for l := range W {
		W[l] = make([]float64, m)
		for j := range W[l] {
			W[l][j] = a[j] + b[j]*float64(l)/float64(L)
			if quad {
				W[l][j] += c[j] * math.Pow(float64(l)/float64(L), 2)
			}
		}
	}
	return W
}

func TestDepthR2ExactLinear(t *testing.T) {
	W := linearLayers(12, 500, 7, false)
	in, loo, err := DepthR2(W, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "in-sample pooled", in.Pooled, 1, 1e-10)
	near(t, "LOO pooled", loo.Pooled, 1, 1e-10)
	for _, v := range loo.PerFold {
		near(t, "LOO fold", v, 1, 1e-9)
	}
	// Quadratic trend: degree 2 is exact, degree 1 is not.
	Wq := linearLayers(12, 500, 8, true)
	_, loo2, _ := DepthR2(Wq, 2, 0)
	near(t, "LOO quad deg2", loo2.Pooled, 1, 1e-9)
	in1, loo1, _ := DepthR2(Wq, 1, 0)
	if !(loo1.Pooled < 1-1e-6) || !(loo1.Pooled <= in1.Pooled) {
		t.Errorf("degree-1 on quadratic data: LOO %g should be < 1 and <= in-sample %g", loo1.Pooled, in1.Pooled)
	}
	// Ridge penalty reduces in-sample fit.
	inR, _, _ := DepthR2(W, 1, 50)
	if !(inR.Pooled < in.Pooled) {
		t.Errorf("ridge in-sample R2 %g should be below OLS %g", inR.Pooled, in.Pooled)
	}
}

func TestNeighborR2(t *testing.T) {
	W := linearLayers(10, 300, 9, false)
	in, loo, err := NeighborR2(W, 0)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "neighbour in-sample", in.Pooled, 1, 1e-9)
	near(t, "neighbour LOO", loo.Pooled, 1, 1e-9)
	if len(loo.PerFold) != 8 {
		t.Fatalf("folds = %d, want 8", len(loo.PerFold))
	}
	// Independent layers: out-of-sample prediction is poor (R² ≤ ~0).
	rng := rand.New(rand.NewPCG(10, 11))
	Wn := make([][]float64, 10)
	for l := range Wn {
		Wn[l] = make([]float64, 2000)
		for j := range Wn[l] {
			Wn[l][j] = rng.NormFloat64()
		}
	}
	_, looN, _ := NeighborR2(Wn, 0)
	if looN.Pooled > 0.05 {
		t.Errorf("LOO R2 on independent layers = %g, want <= ~0", looN.Pooled)
	}
	_, looD, _ := DepthR2(Wn, 1, 0)
	if looD.Pooled > 0.05 {
		t.Errorf("depth LOO R2 on independent layers = %g, want <= ~0", looD.Pooled)
	}
	if _, _, err := NeighborR2(W[:3], 0); err == nil {
		t.Error("expected error for L < 4")
	}
}

func TestRSquaredEdge(t *testing.T) {
	near(t, "perfect", RSquared([]float64{1, 2, 3}, []float64{1, 2, 3}), 1, 0)
	near(t, "mean", RSquared([]float64{1, 2, 3}, []float64{2, 2, 2}), 0, 1e-15)
	// y=[1,2,3], ŷ=[2,2,4]: SSres = 1+0+1 = 2, SStot = 2 → 0.
	near(t, "hand", RSquared([]float64{1, 2, 3}, []float64{2, 2, 4}), 0, 1e-15)
	near(t, "hand2", RSquared([]float64{1, 2, 3}, []float64{1, 2, 4}), 0.5, 1e-15)
	if !math.IsNaN(RSquared([]float64{1, 1}, []float64{1, 1})) {
		t.Error("constant y should give NaN")
	}
}

func TestQuantile(t *testing.T) {
	x := []float64{4, 1, 3, 2, math.NaN()}
	near(t, "median", Quantile(x, 0.5), 2.5, 1e-15)
	near(t, "q25", Quantile(x, 0.25), 1.75, 1e-15)
	near(t, "q0", Quantile(x, 0), 1, 0)
	near(t, "q1", Quantile(x, 1), 4, 0)
}

func TestElementwiseRidgeSingularElement(t *testing.T) {
	// Element 0: constant feature → min-norm coefficient 0, intercept = mean.
	// Element 1: ordinary exact fit y = 3x + 1.
	feats := [][][]float64{{{1, 0}}, {{1, 1}}, {{1, 2}}}
	tg := [][]float64{{2, 1}, {4, 4}, {6, 7}}
	fit, err := ElementwiseRidge(feats, tg, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "singular coef", fit.Coef[0][0], 0, 1e-12)
	near(t, "singular intercept", fit.Intercept[0], 4, 1e-12)
	near(t, "coef", fit.Coef[0][1], 3, 1e-12)
	near(t, "intercept", fit.Intercept[1], 1, 1e-12)
	// λ > 0 with no intercept matches Ridge on that element.
	fit, _ = ElementwiseRidge(feats, tg, 2, false)
	c, _, _ := Ridge(mat.NewDense(3, 1, []float64{0, 1, 2}), []float64{1, 4, 7}, 2, false)
	near(t, "ridge no-intercept", fit.Coef[0][1], c[0], 1e-12)
}
