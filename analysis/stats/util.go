package stats

import (
	"math"
	"slices"
)

func mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// FiniteMean is the mean of the finite values of x (NaN when there are none).
func FiniteMean(x []float64) float64 {
	s, n := 0.0, 0
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			s += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// MeanSD returns the mean of x and its sample standard deviation (n-1 denominator; NaN for
// fewer than two values, the mean NaN for none).
func MeanSD(x []float64) (m, sd float64) {
	m = mean(x)
	if len(x) < 2 {
		return m, math.NaN()
	}
	ss := 0.0
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return m, math.Sqrt(ss / float64(len(x)-1))
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of x by linear interpolation
// between order statistics (the "type 7" definition used by R and NumPy's
// default): position h = (n-1)q in the sorted finite values. NaN and ±Inf
// entries are ignored; NaN if none remain.
func Quantile(x []float64, q float64) float64 {
	s := make([]float64, 0, len(x))
	for _, v := range x {
		if isFinite(v) {
			s = append(s, v)
		}
	}
	slices.Sort(s)
	return quantileSorted(s, q)
}

func quantileSorted(s []float64, q float64) float64 {
	n := len(s)
	if n == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	q = math.Min(1, math.Max(0, q))
	h := float64(n-1) * q
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return s[n-1]
	}
	f := h - float64(lo)
	return s[lo] + f*(s[lo+1]-s[lo])
}

// Float64s converts a float32 slice to float64.
func Float64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
