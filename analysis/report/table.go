package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/growthtrain/growthtrain/internal/numfmt"
)

// Table is a titled table: pre-formatted cells for people (Markdown) and, beside them, the raw
// values of each cell for programs (CSV).
type Table struct {
	// Name is the table's short, stable file name without extension ("ablation-skip"): Write
	// saves <Name>.md and <Name>.csv.
	Name    string
	Title   string
	Columns []string // the Markdown header
	// CSVColumns holds, per Markdown column, the CSV header of each value its cells carry
	// (snake_case, the unit as a suffix: "change_pct", "ci_low_pct", "loss_nats"); Add fills
	// Values. A table made with AddRow alone (text cells) has none, and its CSV repeats the
	// Markdown cells.
	CSVColumns [][]string
	Rows       [][]string
	Values     [][]any // per row: the CSV record (float64, int, bool or string; NaN: empty)
	Notes      []string
}

// Cell is one cell of a table: its text for Markdown and its values for CSV, one per CSV column
// of its table column.
type Cell struct {
	Text   string
	Values []any
}

// AddRow appends a row of text cells.
func (t *Table) AddRow(cells ...string) { t.Rows = append(t.Rows, cells) }

// Add appends a row of cells: their texts to Rows, their values to Values.
func (t *Table) Add(cells ...Cell) {
	row := make([]string, len(cells))
	var vals []any
	for i, c := range cells {
		row[i] = c.Text
		vals = append(vals, c.Values...)
	}
	t.Rows = append(t.Rows, row)
	t.Values = append(t.Values, vals)
}

// Cell constructors: the Markdown text is formatted by numfmt, the CSV value is the number
// itself (percentages as percent, to match the text).

// TextCell is a string cell.
func TextCell(s string) Cell { return Cell{Text: s, Values: []any{s}} }

// IntCell is an integer cell.
func IntCell(i int) Cell { return Cell{Text: strconv.Itoa(i), Values: []any{i}} }

// NumCell is a number shown with digits decimals.
func NumCell(v float64, digits int) Cell {
	return Cell{Text: numfmt.Float(v, digits), Values: []any{v}}
}

// SigCell is a number shown with n significant digits.
func SigCell(v float64, n int) Cell { return Cell{Text: numfmt.Sig(v, n), Values: []any{v}} }

// PctCell is a fraction shown as a signed percentage; its CSV value is the percentage.
func PctCell(frac float64) Cell { return Cell{Text: numfmt.Pct(frac), Values: []any{100 * frac}} }

// CIPctCell is an interval of fractions shown as percentages: two CSV values, low and high.
func CIPctCell(lo, hi float64) Cell {
	return Cell{Text: numfmt.CIPct(lo, hi), Values: []any{100 * lo, 100 * hi}}
}

// CIFloatCell is an interval shown with digits decimals: two CSV values.
func CIFloatCell(lo, hi float64, digits int) Cell {
	return Cell{Text: numfmt.CIFloat(lo, hi, digits), Values: []any{lo, hi}}
}

// PCell is a p-value.
func PCell(p float64) Cell { return Cell{Text: numfmt.PValue(p), Values: []any{p}} }

// IntsCell is a list of layers: numfmt.Ints as text, "1;2;3" in CSV (one field).
func IntsCell(xs []int) Cell {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return Cell{Text: numfmt.Ints(xs), Values: []any{strings.Join(parts, ";")}}
}

// csvValue formats one CSV value: numbers in full precision (strconv 'g', -1), NaN and ±Inf as
// an empty field, which pandas and R read as missing.
func csvValue(v any) string {
	switch x := v.(type) {
	case float64:
		if !finite(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

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
	if s == "" || s == numfmt.NA {
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
		if c != "" && c != numfmt.NA {
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

// CSVHeader is the CSV header: the flattened CSVColumns, or the Markdown header for a table of
// text cells.
func (t *Table) CSVHeader() []string {
	if t.CSVColumns == nil {
		return t.Columns
	}
	var out []string
	for _, c := range t.CSVColumns {
		out = append(out, c...)
	}
	return out
}

// WriteCSV writes the header and rows as RFC 4180 CSV (encoding/csv): the raw values (see
// CSVColumns), or, for a table of text cells, the cells padded to the header width. Title and
// notes are not written.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if t.CSVColumns != nil {
		header := t.CSVHeader()
		if err := cw.Write(header); err != nil {
			return err
		}
		for i, vals := range t.Values {
			if len(vals) != len(header) {
				return fmt.Errorf("report: table %q row %d has %d values for %d CSV columns", t.Title, i, len(vals), len(header))
			}
			rec := make([]string, len(vals))
			for j, v := range vals {
				rec[j] = csvValue(v)
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	n := t.width()
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
