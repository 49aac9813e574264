package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/growthtrain/growthtrain/internal/numfmt"
)

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
