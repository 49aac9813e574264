package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func TestPearsonHand(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	y := []float64{2, 4, 5, 4, 5}
	c := Pearson(x, y)
	// Sxy = 6, Sxx = 10, Syy = 6 → r = 6/sqrt(60).
	near(t, "r", c.R, 6/math.Sqrt(60), 1e-14)
	if c.N != 5 {
		t.Errorf("N = %d", c.N)
	}
	// t = r sqrt(3/(1-r²)) = sqrt(4.5); closed-form t(3) CDF:
	// F(t) = 1/2 + (1/π)[ (t/√3)/(1+t²/3) + atan(t/√3) ].
	tv := math.Sqrt(4.5)
	u := tv / math.Sqrt(3)
	F := 0.5 + (u/(1+tv*tv/3)+math.Atan(u))/math.Pi
	near(t, "p (closed form)", c.P, 2*(1-F), 1e-12)
	near(t, "p (distuv)", c.P, 2*distuv.StudentsT{Mu: 0, Sigma: 1, Nu: 3}.Survival(tv), 1e-12)
	near(t, "p (known)", c.P, 0.124027, 1e-6)

	// NaN pairs are dropped.
	c2 := Pearson([]float64{1, 2, math.NaN(), 3, 4, 5}, []float64{2, 4, 7, 5, 4, 5})
	near(t, "r with NaN", c2.R, c.R, 1e-14)
	if c2.N != 5 {
		t.Errorf("N with NaN = %d, want 5", c2.N)
	}
	// perfect and constant
	if c := Pearson(x, []float64{3, 5, 7, 9, 11}); c.R != 1 || c.P != 0 {
		t.Errorf("perfect: %+v", c)
	}
	if c := Pearson(x, []float64{1, 1, 1, 1, 1}); !math.IsNaN(c.R) {
		t.Errorf("constant: %+v", c)
	}
}

func TestPearsonPValueLargeN(t *testing.T) {
	// p-value against the t distribution formula for a random sample.
	rng := rand.New(rand.NewPCG(1, 1))
	n := 40
	x, y := make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
		y[i] = 0.4*x[i] + rng.NormFloat64()
	}
	c := Pearson(x, y)
	tv := c.R * math.Sqrt(float64(n-2)/(1-c.R*c.R))
	want := 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 2)}.Survival(math.Abs(tv))
	near(t, "p", c.P, want, 1e-10)
}

func TestRanks(t *testing.T) {
	got := Ranks([]float64{10, 20, 20, 30, 5})
	want := []float64{2, 3.5, 3.5, 5, 1}
	for i := range want {
		near(t, "rank", got[i], want[i], 0)
	}
}

func TestSpearman(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	rev := []float64{50, 40, 30, 20, 10}
	c := Spearman(x, rev)
	near(t, "rho reversed", c.R, -1, 1e-15)
	// exact: only the identity and reversal reach |ρ| = 1 → 2/5! = 1/60.
	near(t, "exact p reversed", c.P, 2.0/120, 1e-15)
	if c.Method != "exact permutation" {
		t.Errorf("method %q", c.Method)
	}
	// n = 4, y = [1,3,2,4]: ρ = 1 - 6·2/60 = 0.8; |ρ| ≥ 0.8 for Σd² ∈ {0,2} (4 perms)
	// and their reversals (4 perms) → p = 8/24.
	c = Spearman([]float64{1, 2, 3, 4}, []float64{1, 3, 2, 4})
	near(t, "rho n=4", c.R, 0.8, 1e-14)
	near(t, "p n=4", c.P, 1.0/3, 1e-15)
	// Invariance to monotone transforms.
	c1 := Spearman(x, []float64{1, 3, 2, 5, 4})
	c2 := Spearman(x, []float64{math.Exp(1), math.Exp(3), math.Exp(2), math.Exp(5), math.Exp(4)})
	near(t, "monotone invariance", c2.R, c1.R, 1e-15)
	near(t, "rho hand", c1.R, 1-6*4.0/120, 1e-14) // Σd² = 0+1+1+1+1
	// Ties: Pearson of average ranks.
	xt := []float64{1, 2, 2, 3}
	yt := []float64{1, 2, 3, 4}
	ct := Spearman(xt, yt)
	near(t, "rho ties", ct.R, Pearson([]float64{1, 2.5, 2.5, 4}, yt).R, 1e-15)

	// n ≥ 10: t approximation, p from the formula.
	n := 12
	xs, ys := make([]float64, n), make([]float64, n)
	rng := rand.New(rand.NewPCG(2, 3))
	for i := range xs {
		xs[i] = float64(i)
		ys[i] = float64(i) + 3*rng.NormFloat64()
	}
	cs := Spearman(xs, ys)
	tv := cs.R * math.Sqrt(float64(n-2)/(1-cs.R*cs.R))
	want := 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 2)}.Survival(math.Abs(tv))
	near(t, "spearman t p", cs.P, want, 1e-10)
	if cs.Method != "t(n-2)" {
		t.Errorf("method %q", cs.Method)
	}
	// Exact p agrees with a large Monte-Carlo permutation p for n = 8.
	x8 := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	y8 := []float64{2, 1, 4, 3, 7, 5, 8, 6}
	e := Spearman(x8, y8)
	mc := PermutationPValue(x8, y8, func(a, b []float64) float64 { return pearsonR(Ranks(a), Ranks(b)) }, 20000, 5)
	near(t, "exact vs MC p", mc, e.P, 0.01)
}

func TestKendall(t *testing.T) {
	c := Kendall([]float64{1, 2, 3, 4}, []float64{1, 3, 2, 4})
	near(t, "tau", c.R, 4.0/6, 1e-15) // 5 concordant, 1 discordant
	c = Kendall([]float64{1, 2, 3}, []float64{3, 2, 1})
	near(t, "tau reversed", c.R, -1, 0)
	// z = 3τ sqrt(n(n-1))/sqrt(2(2n+5)), p = 2(1-Φ(|z|))
	z := 3 * (4.0 / 6) * math.Sqrt(12) / math.Sqrt(2*13)
	near(t, "tau p", Kendall([]float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}).P, 2*distuv.UnitNormal.Survival(z), 1e-12)
}
