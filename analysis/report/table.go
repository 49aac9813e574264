package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// NA is the text used for NaN and ±Inf values.
const NA = "n/a"

// Table is a titled table of pre-formatted cells.
type Table struct {
	Title   string
	Columns []string
	Rows    [][]string
	Notes   []string
}

// AddRow appends a row of cells.
func (t *Table) AddRow(cells ...string) { t.Rows = append(t.Rows, cells) }

func (t *Table) width() int {
	n := len(t.Columns)
	for _, r := range t.Rows {
		n = max(n, len(r))
	}
	return n
}

func cell(r []string, j int) string {
	if j < len(r) {
		return r[j]
	}
	return ""
}

// isNumericCell reports whether s looks like a formatted number, a
// percentage, or an interval of them ("1.5", "+63,419%", "[-0.1%, +2.3%]",
// "1.2e-05", "12 ± 3", "<1e-16"). "n/a" and "" count as numeric-compatible but not as
// evidence (see numericColumn).
func isNumericCell(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || s == NA {
		return true
	}
	digit := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case strings.ContainsRune("+-−.,%eE[]() ±×x/<>~", r):
		default:
			return false
		}
	}
	return digit
}

// numericColumn: right-align a column when it has at least one cell with a
// digit and every cell is numeric-like (or empty / n/a).
func (t *Table) numericColumn(j int) bool {
	any := false
	for _, r := range t.Rows {
		c := strings.TrimSpace(cell(r, j))
		if !isNumericCell(c) {
			return false
		}
		if c != "" && c != NA {
			any = true
		}
	}
	return any
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", " "), "\n", " ")
}

// Markdown renders the table as GitHub-flavoured Markdown:
//
//	### Title            (omitted when Title is empty)
//	<blank line>
//	| A   |   B |         header, cells padded to the column width
//	| --- | --: |         numeric columns (see below) are right-aligned
//	| x   |   1 |
//	<blank line>
//	Note lines, one "- note" per line (omitted when there are none)
//
// A column is right-aligned when every cell looks numeric (digits with
// + - . , % e [ ] ( ) ± or n/a). Rows shorter than the header are padded
// with empty cells; '|' in cells is escaped and newlines become spaces.
func (t *Table) Markdown() string {
	n := t.width()
	var b strings.Builder
	if t.Title != "" {
		fmt.Fprintf(&b, "### %s\n\n", mdEscape(t.Title))
	}
	if n == 0 {
		return b.String()
	}
	right := make([]bool, n)
	w := make([]int, n)
	header := make([]string, n)
	for j := 0; j < n; j++ {
		right[j] = t.numericColumn(j)
		header[j] = mdEscape(cell(t.Columns, j))
		w[j] = max(3, utf8.RuneCountInString(header[j]))
	}
	rows := make([][]string, len(t.Rows))
	for i, r := range t.Rows {
		rows[i] = make([]string, n)
		for j := 0; j < n; j++ {
			rows[i][j] = mdEscape(cell(r, j))
			w[j] = max(w[j], utf8.RuneCountInString(rows[i][j]))
		}
	}
	pad := func(s string, j int) string {
		fill := strings.Repeat(" ", w[j]-utf8.RuneCountInString(s))
		if right[j] {
			return fill + s
		}
		return s + fill
	}
	line := func(cells []string) {
		b.WriteString("|")
		for j, c := range cells {
			b.WriteString(" " + pad(c, j) + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	b.WriteString("|")
	for j := 0; j < n; j++ {
		if right[j] {
			b.WriteString(" " + strings.Repeat("-", w[j]-1) + ": |")
		} else {
			b.WriteString(" " + strings.Repeat("-", w[j]) + " |")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		line(r)
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n")
		for _, note := range t.Notes {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(note, "\n", " "))
		}
	}
	return b.String()
}

// WriteCSV writes the header and rows as RFC 4180 CSV (encoding/csv; rows
// padded to the header width). Title and notes are not written.
func (t *Table) WriteCSV(w io.Writer) error {
	n := t.width()
	cw := csv.NewWriter(w)
	rec := make([]string, n)
	write := func(r []string) error {
		for j := range rec {
			rec[j] = cell(r, j)
		}
		return cw.Write(rec)
	}
	if err := write(t.Columns); err != nil {
		return err
	}
	for _, r := range t.Rows {
		if err := write(r); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

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
