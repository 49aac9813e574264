package report

import (
	"github.com/growthtrain/growthtrain/model"
	"slices"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/analysis"
)

// rowOf returns the cells of the first row whose measure starts with prefix.
func rowOf(t *testing.T, tb Table, prefix string) []string {
	t.Helper()
	for _, r := range tb.Rows {
		if strings.HasPrefix(r[0], prefix) {
			return r
		}
	}
	t.Fatalf("%q has no row %q:\n%s", tb.Title, prefix, tb.Markdown())
	return nil
}

// sameRows fails unless tb has exactly the rows want.
func sameRows(t *testing.T, tb Table, want [][]string) {
	t.Helper()
	if len(tb.Rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(tb.Rows), len(want), tb.Markdown())
	}
	for i := range want {
		if !slices.Equal(tb.Rows[i], want[i]) {
			t.Errorf("row %d: %q, want %q", i, tb.Rows[i], want[i])
		}
	}
}

func TestPaperTables(t *testing.T) {
	rep, _ := fixture(t)
	for _, name := range PaperTables {
		tb, err := PaperTable(name, rep)
		if err != nil {
			t.Fatal(err)
		}
		if len(tb.Rows) == 0 || (name != "structure" && !slices.Equal(tb.Columns, []string{"measure", "paper", "here", "verdict"})) {
			t.Fatalf("%s: %v, %d rows", name, tb.Columns, len(tb.Rows))
		}
	}
	if _, err := PaperTable("growth", rep); err == nil {
		t.Fatal("growth has no table of an analysis report")
	}
	if _, err := PaperTable("ablation", &analysis.Report{}); err == nil || !strings.Contains(err.Error(), "no ablation results") {
		t.Fatalf("missing section: %v", err)
	}
}

// A 30-layer ablation that is the paper's: every verdict reads "reproduced", beside the paper's
// figures.
func TestAblationPaperTableVerdicts(t *testing.T) {
	v := analysis.AblationVariant{Name: analysis.AblateNeighbourAverage, Critical: []int{8, 9, 10, 11}, Anti: []int{14, 17}, SpanDecades: 7.2}
	for l := 0; l < 30; l++ {
		v.Layers = append(v.Layers, analysis.AblationLayer{Layer: l, Change: 0.01})
	}
	v.Layers[11].Change = 634
	tb := ablationPaperTable(&analysis.AblationResult{BaselinePPL: 22.6, Variants: []analysis.AblationVariant{v}})
	want := [][]string{
		{"baseline perplexity", "22.60", "22.6000", "differs (instruct Q4_1 model; our 10 sentences)"},
		{"neighbour-average: critical layers (CI lower bound > +100%)", "L8-L11", "L8, L9, L10, L11", "reproduced"},
		{"neighbour-average: L11 change", "+63,419%", "+63,400% [0.0%, 0.0%]", ""},
		{"neighbour-average: anti-layers (CI upper bound < 0)", "L14, L17 (-0.6% each)", "L14, L17", "reproduced"},
		{"neighbour-average: L14 change", "-0.6%", "+1.0% [0.0%, 0.0%]", ""},
		{"neighbour-average: L17 change", "-0.6%", "+1.0% [0.0%, 0.0%]", ""},
		{"neighbour-average: importance range", "10^7", "10^7.2", "reproduced"},
	}
	sameRows(t, tb, want)
}

func TestGrowthTable(t *testing.T) {
	runs := []GrowthRun{
		{Seed: 1, GrowthVal: 0.5, UniformVal: 2.5, GrowthSec: 80, UniformSec: 100, Cost: 0.46, FLOPsRatio: 0.5, Params: 9.57e6, GrowthSteps: 416},
		{Seed: 2, GrowthVal: 0.7, UniformVal: 2.1, GrowthSec: 82, UniformSec: 100, Cost: 0.46, FLOPsRatio: 0.5, Params: 9.57e6, GrowthSteps: 416},
	}
	tb := GrowthTable("configs/poc.toml", runs)
	if tb.Title != "Growth vs uniform training (poc.toml, 2 seeds, 9.57M parameters, 416 steps each)" {
		t.Fatalf("title %q", tb.Title)
	}
	want := [][]string{
		{"validation loss, growth", "0.127", "0.6000 ± 0.1414", ""},
		{"validation loss, uniform", "0.599", "2.3000 ± 0.2828", ""},
		{"uniform / growth validation loss", "4.7x", "4.000x ± 1.414", "partly"},
		{"cost: layer-steps vs uniform", "~46% (\"54% cheaper\")", "46.0%", "by construction of the budget"},
		{"estimated FLOPs vs uniform", "n/a", "50.0%", ""},
		{"wall time, growth vs uniform", "13% faster", "81.0s vs 100.0s (-19.0%)", "reproduced"},
	}
	sameRows(t, tb, want)
	if one := GrowthTable("demo.toml", runs[:1]); rowOf(t, one, "validation loss, growth")[2] != "0.5000 ± 0.0000" {
		t.Errorf("one seed: %q", one.Rows[0])
	}
}

// The headline puts the paper's claims beside the numbers of a model of the paper's shape (the
// fixture's results, its config swapped for SmolLM2-135M's), and leaves them out for any other.
func TestHeadline(t *testing.T) {
	rep, _ := fixture(t)
	other := headline(rep)
	for _, want := range []string{"## Headline findings\n\nNo comparison with the paper", "| measure | here |",
		"| manipulation of redundant layers | scale 0.9 "} {
		if !strings.Contains(other, want) {
			t.Errorf("headline of a 4-layer model lacks %q:\n%s", want, other)
		}
	}
	if strings.Contains(other, "22.60") || strings.Contains(other, "L8-L11") {
		t.Errorf("headline of a 4-layer model quotes the paper:\n%s", other)
	}
	shaped := *rep
	shaped.Model.Config = model.SmolLM2_135M()
	h := headline(&shaped)
	for _, want := range []string{"## Headline findings, beside the paper's claims",
		"| baseline PPL; most important layer (neighbour-average) | 22.60; L11 +63,419% | ",
		"| critical core (skip; CI lower bound > +100%) | L8-L11 | ",
		"| anti-layers (skip; CI upper bound < 0) | L14, L17 (-0.6% each) | ",
		"| importance range (skip) | 10^7 | 10^",
		"| gate_proj R² (depth polynomial: in-sample / held-out) | 0.91 | ",
		"| consecutive-delta correlation (mean over types; null: independent layers -0.5) | -0.50 | ",
		"| substituting predicted weights: 1 layer / many | PPL 26.22 / >100,000 (9+) | ",
		"| recovery steps track importance (Spearman) | yes (L8, L11 ~200 steps; L14, L17 0) | ",
		"| manipulation of redundant layers (only scale 0.9 preserves quality) | scale 0.9 +19%; others millions of % | scale 0.9 ",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("headline lacks %q:\n%s", want, h)
		}
	}
}
