// Package numfmt formats the numbers of growthtrain's reports as text: signed percentages with
// thousands separators, fixed decimals that switch to scientific notation rather than print zero,
// significant digits, intervals, p-values and lists of layers. Non-finite values print as NA.
// The diagnostics use it for the notes they record and the report package for every table cell,
// so a number reads the same wherever it appears.
package numfmt

import (
	"math"
	"strconv"
	"strings"
)

// NA is the text used for NaN and ±Inf values.
const NA = "n/a"

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// groupThousands inserts ',' every three digits in the integer part of an
// unsigned decimal string.
func groupThousands(s string) string {
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i:]
	}
	if len(intPart) <= 3 {
		return s
	}
	var b strings.Builder
	lead := len(intPart) % 3
	if lead > 0 {
		b.WriteString(intPart[:lead])
	}
	for i := lead; i < len(intPart); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(intPart[i : i+3])
	}
	return b.String() + frac
}

// Pct formats a relative change given as a fraction (0.25 = 25%) as a
// signed percentage: one decimal below 100% in magnitude ("-0.6%",
// "+12.3%"), no decimals and thousands separators from 100% up
// ("+63,419%"). Values that round to zero print as "0.0%"; non-finite
// values print as "n/a".
func Pct(x float64) string {
	if !finite(x) {
		return NA
	}
	p := x * 100
	digits := 1
	if math.Abs(p) >= 99.95 {
		digits = 0
	}
	s := strconv.FormatFloat(math.Abs(p), 'f', digits, 64)
	if v, _ := strconv.ParseFloat(s, 64); v == 0 {
		return strconv.FormatFloat(0, 'f', digits, 64) + "%"
	}
	sign := "+"
	if p < 0 {
		sign = "-"
	}
	return sign + groupThousands(s) + "%"
}

// Float formats x with a fixed number of decimals ("n/a" if non-finite;
// negative zero prints as zero). Magnitudes ≥ 1e9 or non-zero values that
// would round to zero switch to scientific notation with digits decimals
// so that they stay informative (e.g. Float(1.2e-7, 3) = "1.200e-07").
func Float(x float64, digits int) string {
	if !finite(x) {
		return NA
	}
	if digits < 0 {
		digits = 0
	}
	ax := math.Abs(x)
	if ax >= 1e9 || (ax > 0 && ax < 0.5*math.Pow(10, -float64(digits))) {
		return strconv.FormatFloat(x, 'e', digits, 64)
	}
	s := strconv.FormatFloat(x, 'f', digits, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// Sig formats x with the given number of significant digits (%g style,
// "n/a" if non-finite).
func Sig(x float64, sig int) string {
	if !finite(x) {
		return NA
	}
	return strconv.FormatFloat(x, 'g', max(sig, 1), 64)
}

// CI formats an interval as "[lo, hi]" with 4 significant digits per bound
// (non-finite bounds print as n/a).
func CI(lo, hi float64) string { return "[" + Sig(lo, 4) + ", " + Sig(hi, 4) + "]" }

// CIFloat formats an interval as "[lo, hi]" using Float(·, digits).
func CIFloat(lo, hi float64, digits int) string {
	return "[" + Float(lo, digits) + ", " + Float(hi, digits) + "]"
}

// CIPct formats a relative-change interval (fractions) as "[lo%, hi%]"
// using Pct, e.g. "[+1.2%, +3.4%]".
func CIPct(lo, hi float64) string { return "[" + Pct(lo) + ", " + Pct(hi) + "]" }

// PValue formats a p-value: 3 significant digits, "<1e-16" below that, and
// "n/a" when undefined.
func PValue(p float64) string {
	switch {
	case !finite(p):
		return NA
	case p < 1e-16:
		return "<1e-16"
	}
	return strconv.FormatFloat(p, 'g', 3, 64)
}

// Ints formats integers as "1, 2, 3" ("none" when empty).
func Ints(x []int) string {
	if len(x) == 0 {
		return "none"
	}
	s := make([]string, len(x))
	for i, v := range x {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

// Layers formats layer indices as "L0, L8, L11" ("none" when empty).
func Layers(ls []int) string {
	if len(ls) == 0 {
		return "none"
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = "L" + strconv.Itoa(l)
	}
	return strings.Join(parts, ", ")
}
