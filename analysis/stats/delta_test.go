package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func iidLayers(L, m int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	c := make([]float64, m)
	for j := range c {
		c[j] = 5 * rng.NormFloat64() // shared offset cancels in deltas
	}
	W := make([][]float64, L)
	for l := range W {
		W[l] = make([]float64, m)
		for j := range W[l] {
			W[l][j] = c[j] + rng.NormFloat64()
		}
	}
	return W
}

func smoothLayers(L, m int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	a, b, q := make([]float64, m), make([]float64, m), make([]float64, m)
	for j := range a {
		a[j], b[j], q[j] = rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
	}
	W := make([][]float64, L)
	for l := range W {
		W[l] = make([]float64, m)
		x := float64(l)
		for j := range W[l] {
			W[l][j] = a[j] + b[j]*x + 0.05*q[j]*x*x + 0.01*rng.NormFloat64()
		}
	}
	return W
}

func TestDeltaCorrelationsHand(t *testing.T) {
	// D0 = [1,2,3], D1 = [2,4,6] → corr 1; D2 = [-2,-4,-6] → corr(D1,D2) = -1.
	W := [][]float64{{0, 0, 0}, {1, 2, 3}, {3, 6, 9}, {1, 2, 3}}
	c, m := DeltaCorrelations(W)
	if len(c) != 2 {
		t.Fatalf("len = %d", len(c))
	}
	near(t, "c0", c[0], 1, 1e-15)
	near(t, "c1", c[1], -1, 1e-15)
	near(t, "mean", m, 0, 1e-15)
	if c, m := DeltaCorrelations(W[:2]); len(c) != 0 || !math.IsNaN(m) {
		t.Error("L < 3 should give empty, NaN")
	}
}

func TestDeltaCorrelationsIID(t *testing.T) {
	W := iidLayers(8, 200000, 42)
	c, m := DeltaCorrelations(W)
	near(t, "iid mean delta corr", m, IndependentDeltaNull, 0.02)
	for _, v := range c {
		near(t, "iid delta corr layer", v, -0.5, 0.02)
	}
}

func TestDeltaCorrelationsSmooth(t *testing.T) {
	W := smoothLayers(30, 20000, 7)
	_, m := DeltaCorrelations(W)
	if m < 0.9 {
		t.Errorf("smooth trend mean delta corr = %g, want > 0.9", m)
	}
}

func TestShuffledNull(t *testing.T) {
	W := smoothLayers(12, 5000, 3)
	orig := make([]*float64, len(W))
	for l := range W {
		orig[l] = &W[l][0]
	}
	_, obs := DeltaCorrelations(W)
	d := ShuffledNull(W, 200, 11)
	if len(d.Values) != 200 {
		t.Fatalf("values = %d", len(d.Values))
	}
	if !(d.Q025 <= d.Q50 && d.Q50 <= d.Q975) || d.SD <= 0 {
		t.Errorf("bad summary %+v", d)
	}
	if !(obs > d.Q975) || d.PValueGreater(obs) > 0.01 {
		t.Errorf("smooth observed %g should exceed null (q97.5 %g, p %g)", obs, d.Q975, d.PValueGreater(obs))
	}
	// The null is itself a mean of correlations in [-1, 1].
	for _, v := range d.Values {
		if v < -1 || v > 1 {
			t.Fatalf("null value out of range: %g", v)
		}
	}
	// Determinism and seed dependence.
	d2 := ShuffledNull(W, 200, 11)
	d3 := ShuffledNull(W, 200, 12)
	if d2.Mean != d.Mean {
		t.Error("same seed should give the same null")
	}
	if d3.Mean == d.Mean {
		t.Error("different seeds should differ")
	}
	// iid layers: order carries no information; null ≈ -0.5 and the
	// observed value is not extreme.
	Wi := iidLayers(10, 20000, 5)
	_, oi := DeltaCorrelations(Wi)
	di := ShuffledNull(Wi, 200, 1)
	near(t, "iid null mean", di.Mean, -0.5, 0.03)
	if p := di.PValueGreater(oi); p < 0.01 {
		t.Errorf("iid observed should not be extreme under shuffle null, p=%g", p)
	}
	// The caller's layer order is not modified.
	for l := range W {
		if &W[l][0] != orig[l] {
			t.Fatal("ShuffledNull reordered the caller's slice")
		}
	}
}
