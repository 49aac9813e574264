package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
)

func newRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x853c49e6748fea9b^seed))
}

// percentileCI returns the percentile interval of the finite replicates.
func percentileCI(reps []float64, level float64) (lo, hi float64) {
	s := make([]float64, 0, len(reps))
	for _, v := range reps {
		if isFinite(v) {
			s = append(s, v)
		}
	}
	slices.Sort(s)
	a := (1 - level) / 2
	return quantileSorted(s, a), quantileSorted(s, 1-a)
}

func checkBoot(n, iters int, level float64) error {
	if n == 0 {
		return errors.New("stats: bootstrap of empty sample")
	}
	if iters < 1 {
		return errors.New("stats: bootstrap needs iters >= 1")
	}
	if !(level > 0 && level < 1) {
		return errors.New("stats: bootstrap level must be in (0, 1)")
	}
	return nil
}

// BootstrapCI returns the percentile bootstrap confidence interval of
// stat(samples) at the given level (e.g. 0.95): `iters` resamples of the
// same size drawn with replacement (PCG generator seeded by seed), lo/hi
// are the (1-level)/2 and (1+level)/2 quantiles (type 7) of the finite
// replicate values; point = stat(samples). NaN results if the inputs are
// invalid (empty, iters < 1, level outside (0,1)).
func BootstrapCI(samples []float64, stat func([]float64) float64, iters int, level float64, seed uint64) (lo, hi, point float64) {
	nan := math.NaN()
	if checkBoot(len(samples), iters, level) != nil {
		return nan, nan, nan
	}
	point = stat(samples)
	rng := newRNG(seed)
	n := len(samples)
	buf := make([]float64, n)
	reps := make([]float64, iters)
	for k := range reps {
		for i := range buf {
			buf[i] = samples[rng.IntN(n)]
		}
		reps[k] = stat(buf)
	}
	lo, hi = percentileCI(reps, level)
	return lo, hi, point
}

// Mean is the arithmetic mean (NaN for an empty slice); convenient as a
// BootstrapCI statistic.
func Mean(x []float64) float64 { return mean(x) }

// BootstrapPairedCI resamples paired observations jointly: each replicate
// draws n indices with replacement and evaluates stat on the selected
// (a[i], b[i]) pairs. Percentile interval as in BootstrapCI.
func BootstrapPairedCI(a, b []float64, stat func(a, b []float64) float64, iters int, level float64, seed uint64) (lo, hi, point float64) {
	nan := math.NaN()
	if len(a) != len(b) || checkBoot(len(a), iters, level) != nil {
		return nan, nan, nan
	}
	point = stat(a, b)
	rng := newRNG(seed)
	n := len(a)
	ba, bb := make([]float64, n), make([]float64, n)
	reps := make([]float64, iters)
	for k := range reps {
		for i := 0; i < n; i++ {
			j := rng.IntN(n)
			ba[i], bb[i] = a[j], b[j]
		}
		reps[k] = stat(ba, bb)
	}
	lo, hi = percentileCI(reps, level)
	return lo, hi, point
}

// RatioChange is mean(b)/mean(a) - 1 (NaN when mean(a) = 0).
func RatioChange(a, b []float64) float64 {
	ma := mean(a)
	if ma == 0 {
		return math.NaN()
	}
	return mean(b)/ma - 1
}

// BootstrapRatioCI is the percentile CI of mean(b)/mean(a) - 1 where a[i]
// and b[i] are the same evaluation window under two conditions (e.g. mean
// loss under baseline and ablation); windows are resampled jointly so the
// pairing is preserved.
func BootstrapRatioCI(a, b []float64, iters int, level float64, seed uint64) (lo, hi, point float64) {
	return BootstrapPairedCI(a, b, RatioChange, iters, level, seed)
}

// PerplexityChange returns PPL_abl/PPL_base - 1 where
// PPL = exp(Σ NLL / Σ tokens) over the windows; the two perplexities share
// the token count, so this is exp((ΣnllAbl - ΣnllBase)/Σtokens) - 1
// (computed in log space, so it does not overflow for large changes).
func PerplexityChange(nllBase, nllAbl, tokens []float64) float64 {
	var sb, sa, st float64
	for i := range nllBase {
		sb += nllBase[i]
		sa += nllAbl[i]
		st += tokens[i]
	}
	if st <= 0 {
		return math.NaN()
	}
	return math.Expm1((sa - sb) / st)
}

// BootstrapPerplexityChangeCI is the percentile bootstrap CI of the
// relative perplexity change PPL_abl/PPL_base - 1 (see PerplexityChange).
// Input i is one evaluation window: nllBase[i] and nllAbl[i] are the summed
// token NLLs (nats) of that window under baseline and ablation, tokens[i]
// its number of predicted tokens. Each replicate resamples windows with
// replacement, jointly across the three slices. point is the full-data
// value. NaN results for invalid input (length mismatch, empty, bad level).
func BootstrapPerplexityChangeCI(nllBase, nllAbl, tokens []float64, iters int, level float64, seed uint64) (lo, hi, point float64) {
	nan := math.NaN()
	n := len(nllBase)
	if len(nllAbl) != n || len(tokens) != n || checkBoot(n, iters, level) != nil {
		return nan, nan, nan
	}
	point = PerplexityChange(nllBase, nllAbl, tokens)
	rng := newRNG(seed)
	reps := make([]float64, iters)
	for k := range reps {
		var sb, sa, st float64
		for i := 0; i < n; i++ {
			j := rng.IntN(n)
			sb += nllBase[j]
			sa += nllAbl[j]
			st += tokens[j]
		}
		if st <= 0 {
			reps[k] = nan
			continue
		}
		reps[k] = math.Expm1((sa - sb) / st)
	}
	lo, hi = percentileCI(reps, level)
	return lo, hi, point
}
