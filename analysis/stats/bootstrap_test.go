package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestBootstrapCoverage(t *testing.T) {
	// Percentile bootstrap CI of the mean of N(3, 2²), n = 50: should cover
	// the true mean about 95% of the time.
	rng := rand.New(rand.NewPCG(2024, 1))
	const trials, n, mu = 200, 50, 3.0
	cover := 0
	x := make([]float64, n)
	for tr := 0; tr < trials; tr++ {
		for i := range x {
			x[i] = mu + 2*rng.NormFloat64()
		}
		lo, hi, pt := BootstrapCI(x, Mean, 1000, 0.95, uint64(tr))
		if !(lo <= pt && pt <= hi) {
			t.Fatalf("point %g outside [%g, %g]", pt, lo, hi)
		}
		if lo <= mu && mu <= hi {
			cover++
		}
	}
	cov := float64(cover) / trials
	t.Logf("coverage = %.3f", cov)
	if cov < 0.9 || cov > 0.99 {
		t.Errorf("coverage %g outside [0.9, 0.99]", cov)
	}
}

func TestBootstrapDeterministicAndLevel(t *testing.T) {
	x := []float64{1, 4, 2, 8, 5, 7, 3, 9, 6, 0}
	l1, h1, p := BootstrapCI(x, Mean, 2000, 0.95, 9)
	l2, h2, _ := BootstrapCI(x, Mean, 2000, 0.95, 9)
	if l1 != l2 || h1 != h2 {
		t.Error("not deterministic for a fixed seed")
	}
	near(t, "point", p, 4.5, 1e-15)
	l3, h3, _ := BootstrapCI(x, Mean, 2000, 0.5, 9)
	if !(l1 < l3 && h3 < h1) {
		t.Errorf("50%% CI [%g,%g] should be inside 95%% CI [%g,%g]", l3, h3, l1, h1)
	}
	if l, h, p := BootstrapCI(nil, Mean, 10, 0.95, 1); !math.IsNaN(l) || !math.IsNaN(h) || !math.IsNaN(p) {
		t.Error("empty input should give NaN")
	}
	// Constant sample: degenerate CI.
	l, h, _ := BootstrapCI([]float64{2, 2, 2}, Mean, 100, 0.95, 1)
	near(t, "const lo", l, 2, 0)
	near(t, "const hi", h, 2, 0)
}

func TestBootstrapRatioCI(t *testing.T) {
	a := []float64{1, 2, 3, 4}
	b := []float64{2, 4, 6, 8}
	lo, hi, pt := BootstrapRatioCI(a, b, 500, 0.95, 3)
	// b = 2a on every window → every joint resample gives exactly +100%.
	near(t, "ratio point", pt, 1, 1e-15)
	near(t, "ratio lo", lo, 1, 1e-12)
	near(t, "ratio hi", hi, 1, 1e-12)
}

func TestPerplexityChange(t *testing.T) {
	// ΣNLL base 30, ablation 34 over 10 tokens → exp(0.4) - 1.
	got := PerplexityChange([]float64{10, 20}, []float64{12, 22}, []float64{5, 5})
	near(t, "ppl change", got, math.Exp(0.4)-1, 1e-15)
	// Same as ratio of perplexities.
	pb, pa := math.Exp(30.0/10), math.Exp(34.0/10)
	near(t, "ppl ratio", got, pa/pb-1, 1e-12)
	// Huge changes do not overflow: +63419% ⇔ ratio 635.19.
	big := PerplexityChange([]float64{1000}, []float64{1000 + 100*math.Log(635.19)}, []float64{100})
	near(t, "big", big, 634.19, 1e-9)
}

func TestBootstrapPerplexityChangeCoverage(t *testing.T) {
	// Windows of 128 tokens; per-window NLL difference ~ N(128·δ, 6²), so the
	// true change is exp(δ) - 1.
	rng := rand.New(rand.NewPCG(77, 1))
	const trials, n, tok, delta = 150, 40, 128.0, 0.05
	truth := math.Expm1(delta)
	cover := 0
	base, abl, tk := make([]float64, n), make([]float64, n), make([]float64, n)
	for tr := 0; tr < trials; tr++ {
		for i := 0; i < n; i++ {
			tk[i] = tok
			base[i] = tok*3 + 20*rng.NormFloat64()
			abl[i] = base[i] + tok*delta + 6*rng.NormFloat64()
		}
		lo, hi, pt := BootstrapPerplexityChangeCI(base, abl, tk, 800, 0.95, uint64(tr))
		if !(lo <= pt && pt <= hi) {
			t.Fatalf("point %g outside [%g,%g]", pt, lo, hi)
		}
		if lo <= truth && truth <= hi {
			cover++
		}
	}
	cov := float64(cover) / trials
	t.Logf("PPL-change CI coverage = %.3f", cov)
	if cov < 0.88 || cov > 0.99 {
		t.Errorf("coverage %g outside [0.88, 0.99]", cov)
	}
	if l, _, _ := BootstrapPerplexityChangeCI(base, abl[:3], tk, 10, 0.95, 1); !math.IsNaN(l) {
		t.Error("length mismatch should give NaN")
	}
}
