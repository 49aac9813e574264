package report

// Table and plots of the weight-manipulation diagnostic (analysis.Manipulation).

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/internal/numfmt"
)

// ManipulationTable returns the results as one table.
func ManipulationTable(r *analysis.ManipulationResult) Table {
	t := Table{
		Title:   "Weight manipulation of layers " + numfmt.Ints(r.Layers),
		Columns: []string{"strategy", "setting", "PPL", "change", fmt.Sprintf("%g%% CI", r.Level*100)},
	}
	for _, x := range r.Results {
		setting := x.Detail
		if x.Paper {
			setting += " (paper)"
		}
		t.AddRow(x.Strategy, setting, numfmt.Float(float64(x.PPL), 2), numfmt.Pct(float64(x.Change)), numfmt.CIPct(float64(x.CILo), float64(x.CIHi)))
	}
	t.Notes = append([]string{fmt.Sprintf("Baseline PPL %s over %d windows (%d predicted tokens).",
		numfmt.Float(float64(r.BaselinePPL), 3), r.Windows, r.Tokens)}, r.Notes...)
	return t
}

// ManipulationTables returns the results as report tables (one table).
func ManipulationTables(r *analysis.ManipulationResult) []Table { return []Table{ManipulationTable(r)} }

// logRatio is log10(PPL / baseline PPL) = log10(1 + change): signed, and readable across the
// many decades the strategies span.
func logRatio(change analysis.JSONFloat) float64 { return math.Log10(1 + float64(change)) }

// ManipulationPlots writes into dir "manipulation_scale.png" (log10 PPL ratio against alpha,
// with the interval bounds, and every other strategy as a flat reference line) and
// "manipulation_strategies.png" (one labelled point per result), and returns the paths.
func ManipulationPlots(dir string, r *analysis.ManipulationResult) ([]string, error) {
	var ax, ay, alo, ahi []float64
	for _, x := range r.Results {
		if x.Strategy == analysis.ManipScale && x.Alpha != nil {
			ax = append(ax, *x.Alpha)
			ay = append(ay, logRatio(x.Change))
			alo = append(alo, logRatio(x.CILo))
			ahi = append(ahi, logRatio(x.CIHi))
		}
	}
	var paths []string
	ylabel := "log10(PPL / baseline PPL)"
	title := "Manipulation of layers " + numfmt.Ints(r.Layers)
	if len(ax) > 0 {
		lo, hi := slices.Min(ax), slices.Max(ax)
		if lo == hi {
			lo, hi = lo-0.05, hi+0.05
		}
		series := []Series{
			{Name: "scale alpha", X: ax, Y: ay},
			{Name: "scale: CI lower", X: ax, Y: alo},
			{Name: "scale: CI upper", X: ax, Y: ahi},
		}
		for _, x := range r.Results {
			if x.Strategy != analysis.ManipScale {
				v := logRatio(x.Change)
				series = append(series, Series{Name: x.Strategy, X: []float64{lo, hi}, Y: []float64{v, v}})
			}
		}
		p := filepath.Join(dir, "manipulation_scale.png")
		if err := Lines(p, title+": scaling sweep", "alpha", ylabel, series); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	var x, y []float64
	var labels []string
	for i, res := range r.Results {
		x = append(x, float64(i))
		y = append(y, logRatio(res.Change))
		lbl := res.Strategy
		if res.Alpha != nil {
			lbl += " " + strconv.FormatFloat(*res.Alpha, 'g', -1, 64)
		}
		labels = append(labels, lbl)
	}
	if len(x) > 0 {
		p := filepath.Join(dir, "manipulation_strategies.png")
		if err := Scatter(p, title+": all strategies", "result", ylabel, x, y, labels); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
