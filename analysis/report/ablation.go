package report

// Tables and plots of the ablation diagnostic (analysis.Ablation).

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/internal/numfmt"
)

// AblationTables returns one per-layer table per variant, then a compact summary of all variants
// (and, with more than one variant, the changes side by side).
func AblationTables(a *analysis.AblationResult) []Table {
	var out []Table
	for _, v := range a.Variants {
		t := Table{
			Name:       "ablation-" + v.Name,
			Title:      "Ablation: " + v.Name,
			Columns:    []string{"layer", "PPL", "change", fmt.Sprintf("%g%% CI", a.Level*100), "rank", "flag"},
			CSVColumns: [][]string{{"layer"}, {"ppl"}, {"change_pct"}, {"ci_low_pct", "ci_high_pct"}, {"rank"}, {"critical", "anti"}},
		}
		for _, la := range v.Layers {
			t.Add(IntCell(la.Layer), NumCell(float64(la.PPL), 2), PctCell(float64(la.Change)),
				CIPctCell(float64(la.CILo), float64(la.CIHi)), IntCell(la.Rank), Cell{Text: flagText(la), Values: []any{la.Critical, la.Anti}})
		}
		t.Notes = append(t.Notes, fmt.Sprintf("Baseline PPL %s over %d windows (%d predicted tokens).",
			numfmt.Float(float64(a.BaselinePPL), 3), a.Windows, a.Tokens))
		t.Notes = append(t.Notes, a.Notes[:min(2, len(a.Notes))]...)
		for _, n := range a.Notes[min(2, len(a.Notes)):] {
			if strings.HasPrefix(n, v.Name+" ") || strings.HasPrefix(n, v.Name+":") {
				t.Notes = append(t.Notes, n)
			}
		}
		out = append(out, t)
	}
	sum := Table{
		Name:       "ablation-summary",
		Title:      "Ablation summary",
		Columns:    []string{"variant", "critical layers", "anti-layers", "most important (top 5)", "least important (bottom 5)", "span (decades)"},
		CSVColumns: [][]string{{"variant"}, {"critical_layers"}, {"anti_layers"}, {"top5_layers"}, {"bottom5_layers"}, {"span_decades"}},
	}
	for _, v := range a.Variants {
		n := len(v.Ranking)
		sum.Add(TextCell(v.Name), IntsCell(v.Critical), IntsCell(v.Anti), IntsCell(v.Ranking[:min(5, n)]),
			IntsCell(v.Ranking[max(0, n-5):]), NumCell(float64(v.SpanDecades), 1))
	}
	sum.Notes = []string{fmt.Sprintf("Baseline PPL %s; critical: CI lower bound > %s; anti: CI upper bound < 0. In the CSV, layer lists are separated by semicolons.",
		numfmt.Float(float64(a.BaselinePPL), 3), numfmt.Pct(a.CriticalChange))}
	out = append(out, sum)
	if len(a.Variants) > 1 {
		cmpT := Table{Name: "ablation-by-variant", Title: "Ablation: PPL change by variant", Columns: []string{"layer"}, CSVColumns: [][]string{{"layer"}}}
		for _, v := range a.Variants {
			cmpT.Columns = append(cmpT.Columns, v.Name)
			cmpT.CSVColumns = append(cmpT.CSVColumns, []string{csvName(v.Name) + "_change_pct"})
		}
		rows := map[int][]Cell{}
		var layers []int
		for _, v := range a.Variants {
			for _, la := range v.Layers {
				if _, ok := rows[la.Layer]; !ok {
					layers = append(layers, la.Layer)
					rows[la.Layer] = make([]Cell, len(a.Variants))
					for i := range rows[la.Layer] {
						rows[la.Layer][i] = Cell{Text: numfmt.NA, Values: []any{math.NaN()}}
					}
				}
				c := PctCell(float64(la.Change))
				if f := flagText(la); f != "" {
					c.Text += " (" + f + ")"
				}
				rows[la.Layer][variantIndex(a, v.Name)] = c
			}
		}
		slices.Sort(layers)
		for _, l := range layers {
			cmpT.Add(append([]Cell{IntCell(l)}, rows[l]...)...)
		}
		out = append(out, cmpT)
	}
	return out
}

// csvName turns a name into a CSV header word: lower case, '-' and spaces as '_'.
func csvName(s string) string {
	return strings.ToLower(strings.NewReplacer("-", "_", " ", "_").Replace(s))
}

func variantIndex(a *analysis.AblationResult, name string) int {
	for i, v := range a.Variants {
		if v.Name == name {
			return i
		}
	}
	return -1
}

func flagText(la analysis.AblationLayer) string {
	switch {
	case la.Critical:
		return "critical"
	case la.Anti:
		return "anti"
	}
	return ""
}

// AblationPlots writes one bar chart per variant into dir ("ablation_<variant>.<format>": PPL
// change per layer in percent on a symmetric-log axis, with the bootstrap intervals as whiskers
// and critical and anti-layers highlighted) in each format (default png) and returns the paths of
// the first format.
func AblationPlots(dir string, a *analysis.AblationResult, formats ...string) ([]string, error) {
	figs := newFigures(dir, formats)
	for _, v := range a.Variants {
		L := 0
		for _, la := range v.Layers {
			L = max(L, la.Layer+1)
		}
		nan := []float64{math.NaN()}
		val, lo, hi := slices.Repeat(nan, L), slices.Repeat(nan, L), slices.Repeat(nan, L)
		hl := map[int]string{}
		for _, la := range v.Layers {
			val[la.Layer], lo[la.Layer], hi[la.Layer] = 100*float64(la.Change), 100*float64(la.CILo), 100*float64(la.CIHi)
			if f := flagText(la); f != "" {
				hl[la.Layer] = f
			}
		}
		title := fmt.Sprintf("Ablation (%s): PPL change per layer, baseline PPL %s", v.Name, numfmt.Float(float64(a.BaselinePPL), 2))
		if err := figs.add("ablation_"+v.Name, func(p string) error {
			return LayerBars(p, title, "PPL change (%)", val, lo, hi, hl, true)
		}); err != nil {
			return figs.paths, err
		}
	}
	return figs.paths, nil
}
