package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// sameNaN fails unless got and want are both NaN or within tol.
func sameNaN(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) != math.IsNaN(want) || (!math.IsNaN(got) && math.Abs(got-want) > tol) {
		t.Fatalf("%s: got %.12g, want %.12g (tol %g)", what, got, want, tol)
	}
}

// gramStack is L layers of n elements: a shared component, a smooth depth trend and noise.
func gramStack(L, n int, seed uint64, shared, trend, noise float64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	c, b := make([]float64, n), make([]float64, n)
	for j := range c {
		c[j], b[j] = shared*rng.NormFloat64()+0.3, trend*rng.NormFloat64()
	}
	W := make([][]float64, L)
	for l := range W {
		W[l] = make([]float64, n)
		t := float64(l) / float64(L-1)
		for j := range W[l] {
			W[l][j] = c[j] + b[j]*(t+0.5*t*t) + noise*rng.NormFloat64()
		}
	}
	return W
}

// gramCases are the stacks every Gram test runs on: shared component plus trend plus noise,
// independent layers around a common offset, and a smooth quadratic trend.
var gramCases = []struct {
	name string
	W    [][]float64
}{
	{"shared+trend+noise", gramStack(9, 700, 1, 1, 0.5, 0.3)},
	{"independent", iidLayers(8, 400, 3)},
	{"smooth", smoothLayers(7, 300, 4)},
}

// neighbourDesign is the n×2 design (W[p], W[q]) of a neighbour fit over the concatenated
// triples, and the target W[t].
func neighbourDesign(W [][]float64, triples [][3]int) (*mat.Dense, []float64) {
	var x, y []float64
	for _, tr := range triples {
		for j := range W[tr[1]] {
			x = append(x, W[tr[0]][j], W[tr[2]][j])
			y = append(y, W[tr[1]][j])
		}
	}
	return mat.NewDense(len(y), 2, x), y
}

func predictLin(W [][]float64, p, q int, coef []float64, b0 float64) []float64 {
	out := make([]float64, len(W[p]))
	for j := range out {
		out[j] = b0 + coef[0]*W[p][j] + coef[1]*W[q][j]
	}
	return out
}

// The Gram neighbour fits equal stats.Ridge on the same elements, in-sample per layer and held
// out by stats.LeaveOneOut over the interior layers.
func TestGramNeighborsMatchRidge(t *testing.T) {
	for _, c := range gramCases {
		for _, lambda := range []float64{0, 3} {
			W := c.W
			L := len(W)
			nb := NewGram(W).Neighbors(lambda)
			for _, l := range []int{0, L - 1} {
				if !math.IsNaN(nb.Shared.InSample.PerFold[l]) || !math.IsNaN(nb.Coef[l][0]) || !math.IsNaN(nb.SSHeldOut[l]) {
					t.Fatalf("%s: endpoint %d is scored", c.name, l)
				}
			}
			var interior []int
			for l := 1; l <= L-2; l++ {
				interior = append(interior, l)
				X, y := neighbourDesign(W, [][3]int{{l - 1, l, l + 1}})
				coef, b0, err := Ridge(X, y, lambda, true)
				if err != nil {
					t.Fatal(err)
				}
				sameNaN(t, c.name+" coef a", nb.Coef[l][0], coef[0], 1e-9)
				sameNaN(t, c.name+" coef b", nb.Coef[l][1], coef[1], 1e-9)
				sameNaN(t, c.name+" coef c", nb.Coef[l][2], b0, 1e-9)
				sameNaN(t, c.name+" in-sample R²", nb.Shared.InSample.PerFold[l], RSquared(W[l], predictLin(W, l-1, l+1, coef, b0)), 1e-9)
				avg := predictLin(W, l-1, l+1, []float64{0.5, 0.5}, 0)
				sameNaN(t, c.name+" average R²", nb.Average.InSample.PerFold[l], RSquared(W[l], avg), 1e-9)
			}
			loo, err := LeaveOneOut(len(interior), func(train []int, test int) ([]float64, error) {
				var tr [][3]int
				for _, k := range train {
					l := interior[k]
					tr = append(tr, [3]int{l - 1, l, l + 1})
				}
				X, y := neighbourDesign(W, tr)
				coef, b0, err := Ridge(X, y, lambda, true)
				if err != nil {
					return nil, err
				}
				l := interior[test]
				return predictLin(W, l-1, l+1, coef, b0), nil
			}, func(k int) []float64 { return W[interior[k]] })
			if err != nil {
				t.Fatal(err)
			}
			for k, l := range interior {
				sameNaN(t, c.name+" held-out R²", nb.Shared.HeldOut.PerFold[l], loo.PerFold[k], 1e-9)
				ss := (1 - loo.PerFold[k]) * NewGram(W).CC(l, l)
				sameNaN(t, c.name+" held-out SS", nb.SSHeldOut[l], ss, 1e-7*(1+ss))
			}
			sameNaN(t, c.name+" held-out pooled", nb.Shared.HeldOut.Pooled, loo.Pooled, 1e-9)
			sameNaN(t, c.name+" held-out mean", nb.Shared.HeldOut.MeanFold, loo.MeanFold, 1e-9)
			sameNaN(t, c.name+" null statistic", NewGram(W).neighborHeldOutPooled(lambda), loo.Pooled, 1e-9)
		}
	}
}

// The Gram depth fit (hat-matrix identity for leave-one-layer-out) equals DepthR2's refits.
func TestGramDepthMatchesDepthR2(t *testing.T) {
	for _, c := range gramCases {
		for _, degree := range []int{0, 1, 2, 3} {
			for _, lambda := range []float64{0, 0.7} {
				in, loo, err := DepthR2(c.W, degree, lambda)
				if err != nil {
					t.Fatal(err)
				}
				d := NewGram(c.W).Depth(degree, lambda)
				for l := range c.W {
					sameNaN(t, c.name+" depth in-sample", d.R2.InSample.PerFold[l], in.PerFold[l], 1e-8)
					sameNaN(t, c.name+" depth LOO", d.R2.HeldOut.PerFold[l], loo.PerFold[l], 1e-8)
				}
				sameNaN(t, c.name+" depth pooled in", d.R2.InSample.Pooled, in.Pooled, 1e-8)
				sameNaN(t, c.name+" depth pooled LOO", d.R2.HeldOut.Pooled, loo.Pooled, 1e-8)
				sameNaN(t, c.name+" depth mean LOO", d.R2.HeldOut.MeanFold, loo.MeanFold, 1e-8)
			}
		}
	}
}

// DepthHat·W is RidgeMulti's fit on DepthFeatures, element by element.
func TestDepthHatIsRidgeMulti(t *testing.T) {
	W := gramStack(11, 50, 5, 1, 1, 0.2)
	L := len(W)
	for _, degree := range []int{1, 2, 4} {
		for _, lambda := range []float64{0, 2} {
			x := DepthFeatures(L, degree)
			fit, err := RidgeMulti(x, W, lambda, true)
			if err != nil {
				t.Fatal(err)
			}
			h := DepthHat(L, degree, lambda)
			for l := 0; l < L; l++ {
				want := fit.Predict(mat.Row(nil, l, x))
				for j := range want {
					got := 0.0
					for k := 0; k < L; k++ {
						got += h.At(l, k) * W[k][j]
					}
					sameNaN(t, "hat fit", got, want[j], 1e-10)
				}
			}
		}
	}
}

// The delta correlations and every shuffled null from the Gram matrix equal the direct
// computations on the reordered weights.
func TestGramDeltaAndNullsMatchDirect(t *testing.T) {
	for _, c := range gramCases {
		g := NewGram(c.W)
		corr, mc := DeltaCorrelations(c.W)
		gc, gm := g.deltaCorrelations()
		for i := range corr {
			sameNaN(t, c.name+" delta corr", gc[i], corr[i], 1e-9)
		}
		sameNaN(t, c.name+" mean delta corr", gm, mc, 1e-9)

		const perms, seed = 25, 42
		hat := DepthHat(len(c.W), 2, 0)
		nulls := g.ShuffledNulls(perms, seed, 0, hat)
		direct := ShuffledNull(c.W, perms, seed)
		k := 0
		layerOrders(len(c.W), perms, seed, func(order []int) {
			stack := make([][]float64, len(order))
			for i, l := range order {
				stack[i] = c.W[l]
			}
			p := NewGram(stack)
			sameNaN(t, c.name+" delta null", nulls.Delta[k], direct.Values[k], 1e-9)
			sameNaN(t, c.name+" neighbour null", nulls.Neighbor[k], p.Neighbors(0).Shared.HeldOut.Pooled, 1e-9)
			sameNaN(t, c.name+" depth null", nulls.Depth[k], p.Depth(2, 0).R2.HeldOut.Pooled, 1e-9)
			k++
		})
		if k != perms || len(nulls.Delta) != perms || len(nulls.Neighbor) != perms || len(nulls.Depth) != perms {
			t.Fatalf("%s: %d orders, %d/%d/%d null draws", c.name, k, len(nulls.Delta), len(nulls.Neighbor), len(nulls.Depth))
		}
	}
}

// solveSym's three paths (2×2 closed form, Cholesky, pseudo-inverse) against an explicit
// inverse or pseudo-inverse.
func TestSolveSym(t *testing.T) {
	cases := []struct {
		name     string
		g        []float64 // p×p, row major
		lambda   float64
		singular bool
	}{
		{"1x1", []float64{4}, 0, false},
		{"2x2", []float64{4, 1, 1, 3}, 0, false},
		{"2x2 ridge", []float64{4, 1, 1, 3}, 0.5, false},
		{"3x3", []float64{4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2}, 0, false},
		{"2x2 duplicate columns", []float64{5, 5, 5, 5}, 0, true},
		{"3x3 rank 2", []float64{1, 1, 0, 1, 1, 0, 0, 0, 2}, 0, true},
		{"2x2 zero", []float64{0, 0, 0, 0}, 0, true},
		{"1x1 zero", []float64{0}, 0, true},
	}
	for _, c := range cases {
		p := int(math.Round(math.Sqrt(float64(len(c.g)))))
		g := mat.NewSymDense(p, c.g)
		r := mat.NewDense(p, 2, nil)
		for i := 0; i < p; i++ {
			r.Set(i, 0, float64(i+1))
			r.Set(i, 1, -2*float64(i)+0.5)
		}
		got, err := solveSym(g, c.lambda, r)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var want mat.Dense
		if c.singular {
			pi, ok := newSymPinv(shifted(g, c.lambda))
			if !ok {
				t.Fatalf("%s: pinv failed", c.name)
			}
			want.Mul(pi.Dense(), r)
		} else {
			var inv mat.Dense
			if err := inv.Inverse(shifted(g, c.lambda)); err != nil {
				t.Fatal(err)
			}
			want.Mul(&inv, r)
		}
		for i := 0; i < p; i++ {
			for j := 0; j < 2; j++ {
				sameNaN(t, c.name, got.At(i, j), want.At(i, j), 1e-12)
			}
		}
	}
	// The closed form falls back to the minimum-norm solution: x = (1, 1) for x1 + x2 = 2.
	a, b := solve2(1, 1, 1, 2, 2)
	sameNaN(t, "pinv a", a, 1, 1e-12)
	sameNaN(t, "pinv b", b, 1, 1e-12)
}

// symPinv satisfies the four Penrose conditions on a rank-deficient matrix, and applies the
// same matrix as it returns.
func TestSymPinvPenrose(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	b := mat.NewDense(5, 3, nil) // a = b bᵀ: 5×5 of rank 3
	for i := 0; i < 5; i++ {
		for j := 0; j < 3; j++ {
			b.Set(i, j, rng.NormFloat64())
		}
	}
	var a mat.SymDense
	a.SymOuterK(1, b)
	pi, ok := newSymPinv(&a)
	if !ok {
		t.Fatal("pinv failed")
	}
	inv := pi.Dense()
	var aia, iai, ai, ia mat.Dense
	ai.Mul(&a, inv)
	ia.Mul(inv, &a)
	aia.Mul(&ai, &a)
	iai.Mul(&ia, inv)
	check := func(what string, x, y mat.Matrix) {
		if !mat.EqualApprox(x, y, 1e-9) {
			t.Fatalf("%s:\n%v\n%v", what, mat.Formatted(x), mat.Formatted(y))
		}
	}
	check("A A⁺ A = A", &aia, &a)
	check("A⁺ A A⁺ = A⁺", &iai, inv)
	check("A A⁺ symmetric", &ai, ai.T())
	check("A⁺ A symmetric", &ia, ia.T())
	id := mat.NewDense(5, 5, nil)
	for i := 0; i < 5; i++ {
		id.Set(i, i, 1)
	}
	check("Solve(I) = A⁺", pi.Solve(id), inv)
}

func TestNullDistPValues(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name               string
		vals               []float64
		obs                float64
		greater, less, two float64
	}{
		{"middle", []float64{1, 2, 3, 4}, 2.5, 3.0 / 5, 3.0 / 5, 1},
		{"above all", []float64{1, 2, 3, 4}, 9, 1.0 / 5, 5.0 / 5, 2.0 / 5},
		{"below all", []float64{1, 2, 3, 4}, -1, 5.0 / 5, 1.0 / 5, 2.0 / 5},
		{"ties count", []float64{1, 2, 2, 4}, 2, 4.0 / 5, 4.0 / 5, 1},
		{"undefined draws left out", []float64{1, nan, 2, math.Inf(1), 3, 4}, 9, 1.0 / 5, 5.0 / 5, 2.0 / 5},
		{"undefined observation", []float64{1, 2, 3}, nan, nan, nan, nan},
		{"no finite draw", []float64{nan, nan}, 0, nan, nan, nan},
	}
	for _, c := range cases {
		d := Summarise(c.vals)
		sameNaN(t, c.name+" greater", d.PValueGreater(c.obs), c.greater, 1e-15)
		sameNaN(t, c.name+" less", d.PValueLess(c.obs), c.less, 1e-15)
		sameNaN(t, c.name+" two-sided", d.PValueTwoSided(c.obs), c.two, 1e-15)
	}
	d := Summarise([]float64{1, nan, 3})
	sameNaN(t, "mean of finite draws", d.Mean, 2, 0)
	sameNaN(t, "sd of finite draws", d.SD, math.Sqrt2, 1e-15)
	sameNaN(t, "sd of one draw", Summarise([]float64{1, nan}).SD, nan, 0)
}
