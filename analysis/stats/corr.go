package stats

import (
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// Corr is a correlation estimate.
type Corr struct {
	R float64 // correlation coefficient (NaN if undefined)
	P float64 // two-sided p-value for H0: no association (NaN if undefined)
	N int     // number of complete (both finite) pairs used
	// Method describes how P was obtained, e.g. "t(n-2)",
	// "exact permutation (n!=120)", "normal approximation".
	Method string
}

// finitePairs returns copies of x and y restricted to indices where both
// are finite. It panics if the lengths differ.
func finitePairs(x, y []float64) (xs, ys []float64) {
	if len(x) != len(y) {
		panic("stats: correlation of slices with different lengths")
	}
	xs = make([]float64, 0, len(x))
	ys = make([]float64, 0, len(y))
	for i := range x {
		if isFinite(x[i]) && isFinite(y[i]) {
			xs = append(xs, x[i])
			ys = append(ys, y[i])
		}
	}
	return xs, ys
}

// pearsonR is the plain sample correlation of equal-length slices (two-pass,
// centred sums). NaN if either has zero variance or n < 2.
func pearsonR(x, y []float64) float64 {
	n := len(x)
	if n < 2 {
		return math.NaN()
	}
	mx, my := mean(x), mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	r := sxy / math.Sqrt(sxx*syy)
	return math.Max(-1, math.Min(1, r))
}

// TTestPValue returns the two-sided p-value of a correlation r on n pairs
// under H0 ρ = 0, from t = r·sqrt((n-2)/(1-r²)) ~ Student t with n-2 df:
// p = 2·P(T > |t|) = I_{df/(df+t²)}(df/2, 1/2) (regularised incomplete
// beta, exact in the tails). |r| = 1 gives 0; n < 3 gives NaN.
func TTestPValue(r float64, n int) float64 {
	if n < 3 || math.IsNaN(r) {
		return math.NaN()
	}
	if math.Abs(r) >= 1 {
		return 0
	}
	df := float64(n - 2)
	t2 := r * r * df / (1 - r*r)
	return mathext.RegIncBeta(df/2, 0.5, df/(df+t2))
}

// Pearson returns the Pearson product-moment correlation of x and y over
// the pairs where both are finite, with the two-sided t-test p-value
// (TTestPValue). Panics if len(x) != len(y).
func Pearson(x, y []float64) Corr {
	xs, ys := finitePairs(x, y)
	r := pearsonR(xs, ys)
	return Corr{R: r, P: TTestPValue(r, len(xs)), N: len(xs), Method: "t(n-2)"}
}

// Ranks returns 1-based ranks of x, giving tied values the average of the
// ranks they span (e.g. [10, 20, 20, 30] → [1, 2.5, 2.5, 4]). x must not
// contain NaN.
func Ranks(x []float64) []float64 {
	n := len(x)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case x[a] < x[b]:
			return -1
		case x[a] > x[b]:
			return 1
		}
		return 0
	})
	r := make([]float64, n)
	for i := 0; i < n; {
		j := i
		for j+1 < n && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// SpearmanExactMaxN is the largest n for which Spearman uses an exact
// permutation p-value (all n! orderings enumerated); above it the
// t-approximation is used.
const SpearmanExactMaxN = 9

// Spearman returns Spearman's rank correlation ρ (Pearson correlation of
// average ranks, so ties are handled) over pairs where both values are
// finite. P-value (two-sided):
//   - n ≥ 10: t-approximation, t = ρ·sqrt((n-2)/(1-ρ²)) with n-2 df;
//   - 3 ≤ n ≤ 9: exact permutation test: the fraction of all n! orderings
//     of the y ranks whose |ρ| ≥ |ρ_obs| (with a 1e-12 relative tolerance),
//     conditional on the observed tie pattern. For n ≤ 3, p ≥ 1/3 always.
func Spearman(x, y []float64) Corr {
	xs, ys := finitePairs(x, y)
	n := len(xs)
	rx, ry := Ranks(xs), Ranks(ys)
	rho := pearsonR(rx, ry)
	c := Corr{R: rho, N: n}
	switch {
	case math.IsNaN(rho) || n < 3:
		c.P = math.NaN()
		c.Method = "undefined"
	case n <= SpearmanExactMaxN:
		c.P = exactPermP(rx, ry, rho)
		c.Method = "exact permutation"
	default:
		c.P = TTestPValue(rho, n)
		c.Method = "t(n-2)"
	}
	return c
}

// exactPermP enumerates all permutations of ry (Heap's algorithm) and
// returns the fraction with |pearson(rx, perm)| >= |obs|.
func exactPermP(rx, ry []float64, obs float64) float64 {
	n := len(ry)
	a := slices.Clone(ry)
	thr := math.Abs(obs) * (1 - 1e-12)
	var hits, total int
	check := func() {
		total++
		if r := pearsonR(rx, a); !math.IsNaN(r) && math.Abs(r) >= thr-1e-15 {
			hits++
		}
	}
	c := make([]int, n)
	check()
	for i := 0; i < n; {
		if c[i] < i {
			if i%2 == 0 {
				a[0], a[i] = a[i], a[0]
			} else {
				a[c[i]], a[i] = a[i], a[c[i]]
			}
			check()
			c[i]++
			i = 0
		} else {
			c[i] = 0
			i++
		}
	}
	return float64(hits) / float64(total)
}

// PermutationPValue is a Monte-Carlo two-sided permutation p-value for any
// association statistic: it shuffles y `perms` times with a PCG generator
// seeded by seed and returns (1 + #{|stat(x, y_perm)| ≥ |stat(x, y)|}) /
// (perms + 1). Use it e.g. with a Spearman statistic when n is moderate
// and the t approximation is doubtful.
func PermutationPValue(x, y []float64, stat func(x, y []float64) float64, perms int, seed uint64) float64 {
	obs := math.Abs(stat(x, y))
	if math.IsNaN(obs) || perms <= 0 {
		return math.NaN()
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	yp := slices.Clone(y)
	hits := 0
	for k := 0; k < perms; k++ {
		rng.Shuffle(len(yp), func(i, j int) { yp[i], yp[j] = yp[j], yp[i] })
		if math.Abs(stat(x, yp)) >= obs*(1-1e-12) {
			hits++
		}
	}
	return float64(1+hits) / float64(perms+1)
}

// Kendall returns Kendall's τ-b over finite pairs (O(n²); fine for the
// per-layer sizes used here). The p-value uses the normal approximation
// z = 3τ·sqrt(n(n-1)) / sqrt(2(2n+5)), which is the no-ties variance;
// with ties it is approximate.
func Kendall(x, y []float64) Corr {
	xs, ys := finitePairs(x, y)
	n := len(xs)
	c := Corr{N: n, Method: "normal approximation"}
	if n < 2 {
		c.R, c.P = math.NaN(), math.NaN()
		return c
	}
	var conc, disc, tx, ty float64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			dx := xs[i] - xs[j]
			dy := ys[i] - ys[j]
			switch {
			case dx == 0 && dy == 0:
			case dx == 0:
				tx++
			case dy == 0:
				ty++
			case (dx > 0) == (dy > 0):
				conc++
			default:
				disc++
			}
		}
	}
	den := math.Sqrt((conc + disc + tx) * (conc + disc + ty))
	if den == 0 {
		c.R, c.P = math.NaN(), math.NaN()
		return c
	}
	c.R = (conc - disc) / den
	fn := float64(n)
	z := 3 * c.R * math.Sqrt(fn*(fn-1)) / math.Sqrt(2*(2*fn+5))
	c.P = math.Erfc(math.Abs(z) / math.Sqrt2)
	return c
}
