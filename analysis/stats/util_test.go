package stats

import (
	"math"
	"testing"
)

func TestMeanSD(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		x        []float64
		mean, sd float64
	}{
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0 / 7)},
		{[]float64{1, 3}, 2, math.Sqrt2},
		{[]float64{3}, 3, nan},
		{nil, nan, nan},
	}
	for _, c := range cases {
		m, sd := MeanSD(c.x)
		sameNaN(t, "mean", m, c.mean, 1e-15)
		sameNaN(t, "sd", sd, c.sd, 1e-15)
	}
}
