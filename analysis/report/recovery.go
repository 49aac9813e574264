package report

// Tables and plots of the recovery diagnostic (analysis.Recovery).

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/internal/numfmt"
)

// RecoveryTables returns the per-layer recovery table (with the importance correlation in its
// notes and a second table when importance was given).
func RecoveryTables(r *analysis.RecoveryResult) []Table {
	o := r.Options
	tb := &Table{Title: "Recovery after perturbation",
		Columns: []string{"layer", "perturbed PPL", "change", "steps to recover", "recovered", "final PPL"}}
	if r.Correlation != nil {
		tb.Columns = append(tb.Columns, r.Correlation.Name)
	}
	for i, rl := range r.Layers {
		steps := strconv.Itoa(rl.Steps)
		if !rl.Recovered {
			steps = ">" + strconv.Itoa(o.MaxSteps)
		}
		rec := "yes"
		if !rl.Recovered {
			rec = "no"
		}
		row := []string{strconv.Itoa(rl.Layer), numfmt.Float(float64(rl.PerturbedPPL), 3), numfmt.Pct(float64(rl.PerturbedChange)),
			steps, rec, numfmt.Float(float64(rl.FinalPPL), 3)}
		if r.Correlation != nil {
			row = append(row, numfmt.Sig(float64(r.Correlation.Importance[i]), 4))
		}
		tb.AddRow(row...)
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
		"0 steps: the perturbation never left the threshold. paper: " + paperRecoveries("≈ ") + " steps.",
	}
	tables := []Table{*tb}
	if c := r.Correlation; c != nil {
		ct := &Table{Title: "Recovery steps vs " + c.Name, Columns: []string{"Spearman ρ", "p", "n", "p method", "not recovered (censored)"}}
		ct.AddRow(numfmt.Float(float64(c.Rho), 3), numfmt.PValue(float64(c.P)), strconv.Itoa(c.N), c.Method, strconv.Itoa(c.NotRecovered))
		ct.Notes = []string{fmt.Sprintf("not-recovered layers enter as %d steps (cap + 1): tied among themselves, above every recovered layer.", c.CensorValue),
			"paper: recovery speed correlates with importance (statistic not reported)."}
		tables = append(tables, *ct)
	}
	return tables
}

// RecoveryPlots writes the recovery curves (and, with importance, the steps-vs-importance scatter)
// into dir and returns their paths.
func RecoveryPlots(dir string, r *analysis.RecoveryResult) ([]string, error) {
	var paths []string
	var series []Series
	maxStep := 0
	for _, rl := range r.Layers {
		var x, y []float64
		for _, p := range rl.Curve {
			x = append(x, float64(p.Step))
			y = append(y, math.Log10(float64(p.PPL)))
			maxStep = max(maxStep, p.Step)
		}
		series = append(series, Series{Name: "L" + strconv.Itoa(rl.Layer), X: x, Y: y})
	}
	series = append(series, Series{Name: "recovery target", X: []float64{0, float64(max(maxStep, 1))},
		Y: []float64{math.Log10(float64(r.TargetPPL)), math.Log10(float64(r.TargetPPL))}})
	path := filepath.Join(dir, "recovery_curves.png")
	if err := Lines(path, "Recovery after perturbing one layer ("+r.Options.Scope+" fine-tuning)", "fine-tuning step", "log10 perplexity", series); err != nil {
		return paths, err
	}
	paths = append(paths, path)
	if c := r.Correlation; c != nil {
		var x, y []float64
		var labels []string
		for i, rl := range r.Layers {
			x = append(x, float64(c.Importance[i]))
			s := float64(rl.Steps)
			if !rl.Recovered {
				s = float64(c.CensorValue)
			}
			y = append(y, s)
			labels = append(labels, "L"+strconv.Itoa(rl.Layer))
		}
		path := filepath.Join(dir, "recovery_vs_importance.png")
		title := fmt.Sprintf("Recovery steps vs %s (Spearman ρ = %s, p = %s)", c.Name, numfmt.Float(float64(c.Rho), 2), numfmt.PValue(float64(c.P)))
		if err := ScatterWith(path, title, c.Name, "steps to recover (cap+1 = not recovered)", x, y, labels, ScatterOptions{SymlogX: true}); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
