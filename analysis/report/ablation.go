package report

// Tables and plots of the ablation diagnostic (analysis.Ablation).

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
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
			Title:   "Ablation: " + v.Name,
			Columns: []string{"layer", "PPL", "change", fmt.Sprintf("%g%% CI", a.Level*100), "rank", "flag"},
		}
		for _, la := range v.Layers {
			t.AddRow(strconv.Itoa(la.Layer), numfmt.Float(float64(la.PPL), 2), numfmt.Pct(float64(la.Change)),
				numfmt.CIPct(float64(la.CILo), float64(la.CIHi)), strconv.Itoa(la.Rank), flagText(la))
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
		Title:   "Ablation summary",
		Columns: []string{"variant", "critical layers", "anti-layers", "most important (top 5)", "least important (bottom 5)", "span (decades)"},
	}
	for _, v := range a.Variants {
		n := len(v.Ranking)
		sum.AddRow(v.Name, numfmt.Ints(v.Critical), numfmt.Ints(v.Anti), numfmt.Ints(v.Ranking[:min(5, n)]),
			numfmt.Ints(v.Ranking[max(0, n-5):]), numfmt.Float(float64(v.SpanDecades), 1))
	}
	sum.Notes = []string{fmt.Sprintf("Baseline PPL %s; critical: CI lower bound > %s; anti: CI upper bound < 0.",
		numfmt.Float(float64(a.BaselinePPL), 3), numfmt.Pct(a.CriticalChange))}
	out = append(out, sum)
	if len(a.Variants) > 1 {
		cmpT := Table{Title: "Ablation: PPL change by variant", Columns: []string{"layer"}}
		for _, v := range a.Variants {
			cmpT.Columns = append(cmpT.Columns, v.Name)
		}
		rows := map[int][]string{}
		var layers []int
		for _, v := range a.Variants {
			for _, la := range v.Layers {
				if _, ok := rows[la.Layer]; !ok {
					layers = append(layers, la.Layer)
					rows[la.Layer] = make([]string, len(a.Variants))
				}
				s := numfmt.Pct(float64(la.Change))
				if f := flagText(la); f != "" {
					s += " (" + f + ")"
				}
				rows[la.Layer][variantIndex(a, v.Name)] = s
			}
		}
		slices.Sort(layers)
		for _, l := range layers {
			cmpT.AddRow(append([]string{strconv.Itoa(l)}, rows[l]...)...)
		}
		out = append(out, cmpT)
	}
	return out
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

// AblationPlots writes one bar chart per variant into dir ("ablation_<variant>.png": PPL change
// per layer on a symmetric-log axis, with the bootstrap intervals as whiskers and critical and
// anti-layers highlighted) and returns the paths.
func AblationPlots(dir string, a *analysis.AblationResult) ([]string, error) {
	var paths []string
	for _, v := range a.Variants {
		L := 0
		for _, la := range v.Layers {
			L = max(L, la.Layer+1)
		}
		nan := []float64{math.NaN()}
		val, lo, hi := slices.Repeat(nan, L), slices.Repeat(nan, L), slices.Repeat(nan, L)
		hl := map[int]string{}
		for _, la := range v.Layers {
			val[la.Layer], lo[la.Layer], hi[la.Layer] = float64(la.Change), float64(la.CILo), float64(la.CIHi)
			if f := flagText(la); f != "" {
				hl[la.Layer] = f
			}
		}
		p := filepath.Join(dir, "ablation_"+v.Name+".png")
		title := fmt.Sprintf("Ablation (%s): PPL change, baseline PPL %s", v.Name, numfmt.Float(float64(a.BaselinePPL), 2))
		if err := LayerBars(p, title, "PPL change (fraction)", val, lo, hi, hl, true); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
