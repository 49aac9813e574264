package report

// Tables and plots of the recovery diagnostic (analysis.Recovery).

import (
	"fmt"
	"strconv"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/internal/numfmt"
)

// RecoveryTables returns the per-layer recovery table (with the importance correlation in its
// notes and a second table when importance was given).
func RecoveryTables(r *analysis.RecoveryResult) []Table {
	o := r.Options
	tb := &Table{Name: "recovery", Title: "Recovery after perturbation",
		Columns:    []string{"layer", "perturbed PPL", "change", "steps to recover", "recovered", "final PPL"},
		CSVColumns: [][]string{{"layer"}, {"perturbed_ppl"}, {"change_pct"}, {"steps"}, {"recovered"}, {"final_ppl"}}}
	if r.Correlation != nil {
		tb.Columns = append(tb.Columns, r.Correlation.Name)
		tb.CSVColumns = append(tb.CSVColumns, []string{"importance_pct"})
	}
	for i, rl := range r.Layers {
		steps := IntCell(rl.Steps)
		if !rl.Recovered {
			steps.Text = ">" + strconv.Itoa(o.MaxSteps)
		}
		rec := "yes"
		if !rl.Recovered {
			rec = "no"
		}
		row := []Cell{IntCell(rl.Layer), NumCell(float64(rl.PerturbedPPL), 3), PctCell(float64(rl.PerturbedChange)),
			steps, {Text: rec, Values: []any{rl.Recovered}}, NumCell(float64(rl.FinalPPL), 3)}
		if r.Correlation != nil {
			row = append(row, PctCell(float64(r.Correlation.Importance[i])))
		}
		tb.Add(row...)
	}
	noise := "noise std = " + numfmt.Sig(o.NoiseFrac, 3) + " × each matrix's own std (norm weights untouched)"
	if o.NoiseFrac <= 0 {
		noise = "no noise (control)"
	}
	tb.Notes = []string{
		fmt.Sprintf("baseline PPL %s; recovered when PPL ≤ %s (%s); %s, seed %d.", numfmt.Float(float64(r.BasePPL), 3),
			numfmt.Float(float64(r.TargetPPL), 3), numfmt.Pct(o.Threshold), noise, o.Seed),
		fmt.Sprintf("fine-tuning: %s scope, AdamW lr %s (constant), batch %d, grad clip %s, evaluated every %d steps (step counts are multiples of it), cap %d.",
			o.Scope, numfmt.Sig(o.LR, 3), o.BatchSize, numfmt.Sig(o.GradClip, 3), o.EvalEvery, o.MaxSteps),
		"0 steps: the perturbation never left the threshold; a layer not recovered shows >cap (in the CSV: steps = the cap, recovered = false). paper: " + paperRecoveries("≈ ") + " steps.",
	}
	tables := []Table{*tb}
	if c := r.Correlation; c != nil {
		ct := &Table{Name: "recovery-correlation", Title: "Recovery steps vs " + c.Name,
			Columns:    []string{"Spearman ρ", "p", "n", "p method", "not recovered (censored)"},
			CSVColumns: [][]string{{"spearman_rho"}, {"p"}, {"n"}, {"p_method"}, {"not_recovered"}}}
		ct.Add(NumCell(float64(c.Rho), 3), PCell(float64(c.P)), IntCell(c.N), TextCell(c.Method), IntCell(c.NotRecovered))
		ct.Notes = []string{fmt.Sprintf("not-recovered layers enter as %d steps (cap + 1): tied among themselves, above every recovered layer.", c.CensorValue),
			"paper: recovery speed correlates with importance (statistic not reported)."}
		tables = append(tables, *ct)
	}
	return tables
}

// RecoveryPlots writes the recovery curves (perplexity on a log axis against the fine-tuning
// step, with the recovery target as a reference line) and, with importance, the
// steps-vs-importance scatter into dir in each format (default png), and returns the paths of the
// first format.
func RecoveryPlots(dir string, r *analysis.RecoveryResult, formats ...string) ([]string, error) {
	figs := newFigures(dir, formats)
	var series []Series
	maxStep := 0
	for _, rl := range r.Layers {
		var x, y []float64
		for _, p := range rl.Curve {
			x = append(x, float64(p.Step))
			y = append(y, float64(p.PPL))
			maxStep = max(maxStep, p.Step)
		}
		series = append(series, Series{Name: "L" + strconv.Itoa(rl.Layer), X: x, Y: y})
	}
	target := float64(r.TargetPPL)
	series = append(series, Series{Name: "recovery target", X: []float64{0, float64(max(maxStep, 1))}, Y: []float64{target, target}, Reference: true})
	if err := figs.add("recovery_curves", func(path string) error {
		return Lines(path, "Recovery after perturbing one layer ("+r.Options.Scope+" fine-tuning)", "fine-tuning step", "perplexity",
			series, LinesOptions{IntegerX: true, LogY: true})
	}); err != nil {
		return figs.paths, err
	}
	if c := r.Correlation; c != nil {
		var x, y []float64
		var labels []string
		for i, rl := range r.Layers {
			x = append(x, 100*float64(c.Importance[i]))
			s := float64(rl.Steps)
			if !rl.Recovered {
				s = float64(c.CensorValue)
			}
			y = append(y, s)
			labels = append(labels, "L"+strconv.Itoa(rl.Layer))
		}
		title := fmt.Sprintf("Recovery steps vs %s (Spearman ρ = %s, p = %s)", c.Name, numfmt.Float(float64(c.Rho), 2), numfmt.PValue(float64(c.P)))
		if err := figs.add("recovery_vs_importance", func(path string) error {
			return ScatterWith(path, title, c.Name+" (PPL change, %)", "steps to recover (cap+1: not recovered)", x, y, labels,
				ScatterOptions{SymlogX: true, IntegerY: true})
		}); err != nil {
			return figs.paths, err
		}
	}
	return figs.paths, nil
}
