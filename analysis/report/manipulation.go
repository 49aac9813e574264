package report

// Table and plots of the weight-manipulation diagnostic (analysis.Manipulation).

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/internal/numfmt"
)

// ManipulationTable returns the results as one table.
func ManipulationTable(r *analysis.ManipulationResult) Table {
	t := Table{
		Name:       "manipulation",
		Title:      "Weight manipulation of layers " + numfmt.Ints(r.Layers),
		Columns:    []string{"strategy", "setting", "PPL", "change", fmt.Sprintf("%g%% CI", r.Level*100)},
		CSVColumns: [][]string{{"strategy"}, {"setting", "alpha", "paper_setting"}, {"ppl"}, {"change_pct"}, {"ci_low_pct", "ci_high_pct"}},
	}
	for _, x := range r.Results {
		setting := x.Detail
		if x.Paper {
			setting += " (paper)"
		}
		alpha := math.NaN()
		if x.Alpha != nil {
			alpha = *x.Alpha
		}
		t.Add(TextCell(x.Strategy), Cell{Text: setting, Values: []any{x.Detail, alpha, x.Paper}}, NumCell(float64(x.PPL), 2),
			PctCell(float64(x.Change)), CIPctCell(float64(x.CILo), float64(x.CIHi)))
	}
	t.Notes = append([]string{fmt.Sprintf("Baseline PPL %s over %d windows (%d predicted tokens).",
		numfmt.Float(float64(r.BaselinePPL), 3), r.Windows, r.Tokens)}, r.Notes...)
	return t
}

// ManipulationTables returns the results as report tables (one table).
func ManipulationTables(r *analysis.ManipulationResult) []Table { return []Table{ManipulationTable(r)} }

// ManipulationPlots writes into dir, in each format (default png), "manipulation_scale"
// (perplexity on a log axis against alpha, with its bootstrap band, every other strategy and the
// baseline as labelled reference lines) and "manipulation_strategies" (one bar per result with
// its interval, symmetric-log axis, the paper's setting highlighted), and returns the paths of
// the first format.
func ManipulationPlots(dir string, r *analysis.ManipulationResult, formats ...string) ([]string, error) {
	figs := newFigures(dir, formats)
	base := float64(r.BaselinePPL)
	var ax, ay, alo, ahi []float64
	for _, x := range r.Results {
		if x.Strategy == analysis.ManipScale && x.Alpha != nil {
			ax = append(ax, *x.Alpha)
			ay = append(ay, float64(x.PPL))
			alo = append(alo, base*(1+float64(x.CILo)))
			ahi = append(ahi, base*(1+float64(x.CIHi)))
		}
	}
	title := "Manipulation of layers " + numfmt.Ints(r.Layers)
	if len(ax) > 0 {
		lo, hi := slices.Min(ax), slices.Max(ax)
		if lo == hi {
			lo, hi = lo-0.05, hi+0.05
		}
		series := []Series{{Name: "scale by alpha", X: ax, Y: ay, Lo: alo, Hi: ahi}}
		for _, x := range r.Results {
			if x.Strategy != analysis.ManipScale {
				series = append(series, Series{Name: x.Strategy, X: []float64{lo, hi}, Y: []float64{float64(x.PPL), float64(x.PPL)}})
			}
		}
		series = append(series, Series{Name: "baseline", X: []float64{lo, hi}, Y: []float64{base, base}, Reference: true})
		if err := figs.add("manipulation_scale", func(p string) error {
			return Lines(p, title+": scaling sweep", "alpha", "perplexity", series, LinesOptions{LogY: true})
		}); err != nil {
			return figs.paths, err
		}
	}
	var y, lo, hi []float64
	var labels []string
	paper := map[int]string{}
	for i, res := range r.Results {
		y = append(y, 100*float64(res.Change))
		lo, hi = append(lo, 100*float64(res.CILo)), append(hi, 100*float64(res.CIHi))
		lbl := res.Strategy
		if res.Alpha != nil {
			lbl += " " + strconv.FormatFloat(*res.Alpha, 'g', -1, 64)
		}
		if res.Paper {
			paper[i] = "the paper's setting"
		}
		labels = append(labels, lbl)
	}
	if len(y) > 0 {
		if err := figs.add("manipulation_strategies", func(p string) error {
			return CategoryBars(p, title+": every strategy", "strategy", "PPL change (%)", labels, y, lo, hi, paper, true)
		}); err != nil {
			return figs.paths, err
		}
	}
	return figs.paths, nil
}
