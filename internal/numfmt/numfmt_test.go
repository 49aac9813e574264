package numfmt

import (
	"math"
	"testing"
)

func TestFormatters(t *testing.T) {
	cases := []struct{ got, want string }{
		{Pct(634.19), "+63,419%"},
		{Pct(-0.006), "-0.6%"},
		{Pct(0.123), "+12.3%"},
		{Pct(0.99), "+99.0%"},
		{Pct(0.99999), "+100%"},
		{Pct(-12.346), "-1,235%"},
		{Pct(0), "0.0%"},
		{Pct(-0.0001), "0.0%"},
		{Pct(math.Inf(1)), "n/a"},
		{Pct(math.NaN()), "n/a"},
		{Float(3.14159, 2), "3.14"},
		{Float(-0.0001, 2), "-1.00e-04"},
		{Float(-0.004, 2), "-4.00e-03"},
		{Float(0, 3), "0.000"},
		{Float(-0.006, 2), "-0.01"},
		{Float(2.5e10, 1), "2.5e+10"},
		{Float(math.NaN(), 2), "n/a"},
		{Float(math.Inf(-1), 2), "n/a"},
		{CI(0.12345, 1.5), "[0.1235, 1.5]"},
		{CI(math.NaN(), 2), "[n/a, 2]"},
		{CIFloat(1, 2.25, 1), "[1.0, 2.2]"},
		{CIPct(-0.01, 0.5), "[-1.0%, +50.0%]"},
		{PValue(0.0123456), "0.0123"},
		{PValue(0), "<1e-16"},
		{PValue(math.NaN()), "n/a"},
		{Sig(123456, 3), "1.23e+05"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %q, want %q", i, c.got, c.want)
		}
	}
}

func TestLists(t *testing.T) {
	cases := []struct{ got, want string }{
		{Ints(nil), "none"},
		{Ints([]int{3, 5, 12}), "3, 5, 12"},
		{Layers(nil), "none"},
		{Layers([]int{8}), "L8"},
		{Layers([]int{14, 17}), "L14, L17"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %q, want %q", i, c.got, c.want)
		}
	}
}
