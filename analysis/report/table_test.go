package report

import (
	"bytes"
	"math"
	"testing"

	"github.com/growthtrain/growthtrain/internal/numfmt"
)

func TestMarkdownExact(t *testing.T) {
	tb := Table{
		Title:   "Ablation",
		Columns: []string{"layer", "PPL change", "95% CI"},
		Rows: [][]string{
			{"L0", numfmt.Pct(634.19), numfmt.CIPct(600, 700)},
			{"L1|x", numfmt.Pct(-0.006), numfmt.NA},
			{"L2", numfmt.Pct(math.NaN())},
		},
		Notes: []string{"windows resampled jointly"},
	}
	got := tb.Markdown()
	wantFull := "### Ablation\n\n" +
		"| layer | PPL change |               95% CI |\n" +
		"| ----- | ---------: | -------------------: |\n" +
		"| L0    |   +63,419% | [+60,000%, +70,000%] |\n" +
		"| L1\\|x |      -0.6% |                  n/a |\n" +
		"| L2    |        n/a |                      |\n" +
		"\n- windows resampled jointly\n"
	if got != wantFull {
		t.Errorf("Markdown mismatch:\n got:\n%s\nwant:\n%s", got, wantFull)
	}
}

func TestCSVExact(t *testing.T) {
	tb := Table{Columns: []string{"a", "b"}, Rows: [][]string{{"1", "x,y"}, {"2"}, {"3", `q"t`}}}
	var buf bytes.Buffer
	if err := tb.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	want := "a,b\n1,\"x,y\"\n2,\n3,\"q\"\"t\"\n"
	if buf.String() != want {
		t.Errorf("CSV = %q, want %q", buf.String(), want)
	}
}

func TestNumericAlignment(t *testing.T) {
	tb := Table{Columns: []string{"name", "p"}, Rows: [][]string{{"a1", "<1e-16"}, {"b", "0.5"}}}
	want := "| name |      p |\n| ---- | -----: |\n| a1   | <1e-16 |\n| b    |    0.5 |\n"
	if got := tb.Markdown(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if (&Table{}).Markdown() != "" {
		t.Error("empty table should render as empty string")
	}
}
