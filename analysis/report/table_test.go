package report

import (
	"bytes"
	"math"
	"testing"
)

func TestMarkdownExact(t *testing.T) {
	tb := Table{
		Title:   "Ablation",
		Columns: []string{"layer", "PPL change", "95% CI"},
		Rows: [][]string{
			{"L0", Pct(634.19), CIPct(600, 700)},
			{"L1|x", Pct(-0.006), NA},
			{"L2", Pct(math.NaN())},
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
