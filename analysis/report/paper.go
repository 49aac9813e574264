package report

// Our results beside the paper's (package paper): the headline of report.md, and the tables of
// growthtrain reproduce, one per diagnostic plus growth training, each row a measure, the paper's
// figure, ours, and the verdict of package paper's rule where it has one.

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/analysis/paper"
	"github.com/growthtrain/growthtrain/analysis/stats"
	"github.com/growthtrain/growthtrain/internal/numfmt"
)

// PaperTables are the diagnostics PaperTable renders, in the order of the paper's tables.
var PaperTables = []string{"predictability", "ablation", "recovery", "manipulation", "structure"}

// PaperTable returns the comparison table of one diagnostic of rep (one of PaperTables).
func PaperTable(name string, rep *analysis.Report) (Table, error) {
	var t Table
	var ok bool
	switch name {
	case "ablation":
		if ok = rep.Ablation != nil; ok {
			t = ablationPaperTable(rep.Ablation)
		}
	case "predictability":
		if ok = rep.Predictability != nil; ok {
			t = predictabilityPaperTable(rep.Predictability)
		}
	case "recovery":
		if ok = rep.Recovery != nil; ok {
			t = recoveryPaperTable(rep.Recovery)
		}
	case "manipulation":
		if ok = rep.Manipulation != nil; ok {
			t = manipulationPaperTable(rep.Manipulation)
		}
	case "structure":
		if ok = rep.Structure != nil; ok {
			t = structureReferenceTable(rep.Structure)
		}
	default:
		return t, fmt.Errorf("no paper table %q (want one of %s)", name, strings.Join(PaperTables, ", "))
	}
	if !ok {
		return t, fmt.Errorf("the report has no %s results", name)
	}
	return t, nil
}

func paperTable(title string) Table {
	return Table{Title: title, Columns: []string{"measure", "paper", "here", "verdict"}}
}

// The paper's claims in the words of the tables below.
var (
	paperCore       = paper.LayerRange(paper.CriticalCore)
	paperAnti       = numfmt.Layers(paper.AntiLayers) + " (" + paper.AntiLayerChange.Text + " each)"
	paperManyPPL    = ">" + paper.SubstitutedManyPPL.Text + " (" + strconv.Itoa(paper.SubstitutedManyLayers) + "+)"
	paperScale      = fmt.Sprintf("scale %g", paper.ScaleAlpha)
	paperRecoveries = func(approx string) string {
		return numfmt.Layers(paper.SlowRecovery) + " " + approx + paper.SlowRecoverySteps.Text + " steps; " +
			numfmt.Layers(paper.FastRecovery) + " " + paper.FastRecoverySteps.Text
	}
)

func ablationPaperTable(a *analysis.AblationResult) Table {
	t := paperTable("Ablation: layer importance (paper vs here)")
	t.AddRow("baseline perplexity", paper.BaselinePPL.Text, numfmt.Float(float64(a.BaselinePPL), 4), "differs (instruct Q4_1 model; our 10 sentences)")
	for _, name := range []string{analysis.AblateNeighbourAverage, analysis.AblateSkip} {
		v := a.Variant(name)
		if v == nil {
			continue
		}
		t.AddRow(name+": critical layers (CI lower bound > +100%)", paperCore, numfmt.Layers(v.Critical), paper.CoreVerdict(v).String())
		if l := paper.MostImportant; l < len(v.Layers) { // the paper's layer numbers only mean something for its 30 layers
			la := v.Layers[l]
			t.AddRow(fmt.Sprintf("%s: L%d change", name, l), paper.MostImportantChange.Text, numfmt.Pct(float64(la.Change))+" "+numfmt.CIPct(float64(la.CILo), float64(la.CIHi)), "")
		}
		t.AddRow(name+": anti-layers (CI upper bound < 0)", paperAnti, numfmt.Layers(v.Anti), paper.AntiVerdict(v).String())
		for _, l := range paper.AntiLayers {
			if l < len(v.Layers) {
				la := v.Layers[l]
				t.AddRow(fmt.Sprintf("%s: L%d change", name, l), paper.AntiLayerChange.Text, numfmt.Pct(float64(la.Change))+" "+numfmt.CIPct(float64(la.CILo), float64(la.CIHi)), "")
			}
		}
		t.AddRow(name+": importance range", paper.ImportanceRange.Text, fmt.Sprintf("10^%.1f", float64(v.SpanDecades)), paper.RangeVerdict(v).String())
	}
	return t
}

func predictabilityPaperTable(p *analysis.PredictabilityResult) Table {
	t := paperTable("Weight predictability (paper vs here)")
	deltaSum, n := 0.0, 0
	for i := range p.Types {
		ty := &p.Types[i]
		if ty.Type == paper.R2Type {
			in, held := float64(ty.Neighbor.InSamplePooled), float64(ty.Neighbor.HeldOutPooled)
			t.AddRow(ty.Type+" R², neighbour ridge (in-sample / held-out / shuffled null)", paper.GateProjR2.Text,
				fmt.Sprintf("%.3g / %.3g / %.3g", in, held, float64(ty.NeighborNull.Mean)), paper.R2Verdict(ty).String())
			t.AddRow(ty.Type+" R², depth polynomial (in-sample / held-out)", paper.GateProjR2.Text,
				fmt.Sprintf("%.3g / %.3g", float64(ty.Depth.InSamplePooled), float64(ty.Depth.HeldOutPooled)), "")
		}
		if m := float64(ty.Delta.Mean); !math.IsNaN(m) && !strings.Contains(ty.Type, "norm") {
			deltaSum += m
			n++
		}
	}
	for _, ty := range p.Types {
		if strings.Contains(ty.Type, "norm") {
			t.AddRow(ty.Type+" R², neighbour ridge (held-out)", numfmt.NA, fmt.Sprintf("%.3g", float64(ty.Neighbor.HeldOutPooled)), "")
		}
	}
	if n > 0 {
		mean := deltaSum / float64(n)
		// Not a rule of package paper: the statement is what every measurement so far has shown.
		t.AddRow("delta correlation, matrices (null: independent layers)", paper.DeltaCorrelation.Text+" (\"universal oscillation\")",
			fmt.Sprintf("%.3f (null %.3f)", mean, stats.IndependentDeltaNull), "matches the null: no evidence of structure beyond independence")
	}
	if s := p.Substitution; s != nil && len(s.Steps) > 0 {
		first, last := s.Steps[0], s.Steps[len(s.Steps)-1]
		t.AddRow("PPL with 1 predicted layer", paper.SubstitutedOnePPL.Text, numfmt.Float(float64(first.PPL), 4), "")
		t.AddRow(fmt.Sprintf("PPL with %d predicted layers", last.K), paperManyPPL, numfmt.Float(float64(last.PPL), 4), paper.SubstitutionVerdict(s).String())
	}
	return t
}

func recoveryPaperTable(r *analysis.RecoveryResult) Table {
	t := paperTable("Recovery after perturbation (paper vs here)")
	for _, l := range r.Layers {
		claim := numfmt.NA
		if f, ok := paper.RecoverySteps(l.Layer); ok {
			claim = f.Text
			if f.Value > 0 {
				claim = "~" + claim
			}
		}
		steps := fmt.Sprint(l.Steps)
		if !l.Recovered {
			steps = fmt.Sprintf(">%d (not recovered)", l.Steps)
		}
		t.AddRow(fmt.Sprintf("L%d steps to within 1%% (perturbed %s)", l.Layer, numfmt.Pct(float64(l.PerturbedChange))), claim, steps, "")
	}
	if c := r.Correlation; c != nil {
		v := paper.RecoveryVerdict(c)
		if v == paper.Undecided {
			t.AddRow("Spearman(recovery steps, importance)", "positive",
				fmt.Sprintf("undefined: %d of %d layers did not recover within %d steps", c.NotRecovered, c.N, r.Options.MaxSteps),
				v.String()+" (raise --recovery-steps, e.g. on a GPU)")
		} else {
			t.AddRow("Spearman(recovery steps, importance)", "positive", fmt.Sprintf("rho %.2f, p %.2g, n %d", float64(c.Rho), float64(c.P), c.N), v.String())
		}
	}
	return t
}

func manipulationPaperTable(m *analysis.ManipulationResult) Table {
	t := paperTable("Manipulation of redundant layers (paper vs here)")
	t.AddRow("layers manipulated", "redundant layers", numfmt.Layers(m.Layers), "")
	for _, res := range m.Results {
		claim := paper.OtherManipulations
		label := res.Strategy
		if res.Alpha != nil {
			label = fmt.Sprintf("scale %.2g", *res.Alpha)
			claim = ""
			if res.Paper {
				claim = paper.ScaleChange.Text
			}
		}
		t.AddRow(label, claim, numfmt.Pct(float64(res.Change))+" "+numfmt.CIPct(float64(res.CILo), float64(res.CIHi)), "")
	}
	return t
}

// structureReferenceTable is the structure diagnostic's per-layer summary: the paper reports no
// numbers to set beside it.
func structureReferenceTable(s *analysis.StructureResult) Table {
	t := Table{Title: "Structure per layer (the paper reports no numbers; here for reference)",
		Columns: []string{"layer", "block influence", "angular distance", "gate_proj stable rank", "gate_proj spectral norm"}}
	bi, ad := s.BlockInfluence(), s.AngularDistance()
	sr, sn := s.Metric("gate", analysis.MetricStableRank), s.Metric("gate", analysis.MetricSpectral)
	for l := 0; l < s.NumLayers; l++ {
		t.AddRow(fmt.Sprint(l), at(bi, l, 4), at(ad, l, 4), at(sr, l, 3), at(sn, l, 3))
	}
	return t
}

func at(xs []float64, i, digits int) string {
	if i >= len(xs) {
		return numfmt.NA
	}
	return numfmt.Float(xs[i], digits)
}

// GrowthRun is one seed of growthtrain reproduce growth: a budget and its uniform baseline
// trained from the same start (growth.json lists them under these field names).
type GrowthRun struct {
	Seed                       uint64
	GrowthVal, UniformVal      float64 // final validation loss
	GrowthSec, UniformSec      float64 // wall time
	Cost, FLOPsRatio, Params   float64 // the budget's layer-steps and estimated FLOPs vs uniform; parameters
	GrowthSteps, UniformLayers int
}

// GrowthTable compares growth training (the budget at path budget) with uniform training over
// runs (at least one), beside the paper's proof of concept.
func GrowthTable(budget string, runs []GrowthRun) Table {
	meanSD := func(f func(r GrowthRun) float64) (float64, float64) {
		x := make([]float64, len(runs))
		for i, r := range runs {
			x[i] = f(r)
		}
		m, sd := stats.MeanSD(x)
		if len(x) == 1 {
			sd = 0 // one seed: no spread, printed as ± 0
		}
		return m, sd
	}
	gv, gsd := meanSD(func(r GrowthRun) float64 { return r.GrowthVal })
	uv, usd := meanSD(func(r GrowthRun) float64 { return r.UniformVal })
	gs, _ := meanSD(func(r GrowthRun) float64 { return r.GrowthSec })
	us, _ := meanSD(func(r GrowthRun) float64 { return r.UniformSec })
	ratio, rsd := meanSD(func(r GrowthRun) float64 { return r.UniformVal / r.GrowthVal })
	t := paperTable(fmt.Sprintf("Growth vs uniform training (%s, %d seeds, %.2fM parameters, %d steps each)", filepath.Base(budget), len(runs), runs[0].Params/1e6, runs[0].GrowthSteps))
	t.AddRow("validation loss, growth", paper.GrowthValLoss.Text, fmt.Sprintf("%.4f ± %.4f", gv, gsd), "")
	t.AddRow("validation loss, uniform", paper.UniformValLoss.Text, fmt.Sprintf("%.4f ± %.4f", uv, usd), "")
	t.AddRow("uniform / growth validation loss", paper.LossRatio.Text, fmt.Sprintf("%.3fx ± %.3f", ratio, rsd), paper.LossRatioVerdict(ratio).String())
	t.AddRow("cost: layer-steps vs uniform", fmt.Sprintf("~%.0f%% (\"%s cheaper\")", 100*(1-paper.GrowthCostReduction.Value), paper.GrowthCostReduction.Text),
		fmt.Sprintf("%.1f%%", 100*runs[0].Cost), "by construction of the budget")
	t.AddRow("estimated FLOPs vs uniform", numfmt.NA, fmt.Sprintf("%.1f%%", 100*runs[0].FLOPsRatio), "")
	t.AddRow("wall time, growth vs uniform", paper.GrowthSpeedup.Text+" faster", fmt.Sprintf("%.1fs vs %.1fs (%+.1f%%)", gs, us, 100*(gs/us-1)), paper.SpeedupVerdict(gs, us).String())
	t.Notes = append(t.Notes, "Same model, initial weights, data order, schedule and total steps for both; only the per-layer budget differs.")
	return t
}

// GrowthCurve is one training run's validation loss by step.
type GrowthCurve struct {
	Name  string
	Steps []int
	Loss  []float64
}

// GrowthPlot draws the validation-loss curves of growth and uniform training (one seed) into the
// PNG at path.
func GrowthPlot(path string, seed int, curves []GrowthCurve) error {
	var series []Series
	for _, c := range curves {
		xs := make([]float64, len(c.Steps))
		for i, s := range c.Steps {
			xs[i] = float64(s)
		}
		series = append(series, Series{Name: c.Name, X: xs, Y: c.Loss})
	}
	return Lines(path, fmt.Sprintf("Validation loss, growth vs uniform (seed %d)", seed), "step", "validation loss (nats/token)", series, LinesOptions{IntegerX: true})
}

// claimWithoutPaper drops the paper's part of a claim's wording (its "(only ...)" asides).
func claimWithoutPaper(claim string) string {
	if i := strings.Index(claim, " (only "); i >= 0 {
		return claim[:i]
	}
	return claim
}

// headline summarises the findings, next to the paper's claims when the model has the paper's
// shape (paper.Shaped) and alone otherwise.
func headline(r *analysis.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Layer anatomy of %s\n\n", filepath.Base(r.Model.Path))
	fmt.Fprintf(&b, "%d layers, %.1fM parameters (%s on %s). Evaluation: %s, %d windows, %d tokens. Generated %s by growthtrain analyze.\n\n",
		r.Model.Config.NumHiddenLayers, float64(r.Model.Params)/1e6, r.Model.DType, r.Model.Device, r.Data.Eval, r.Data.Windows, r.Data.Tokens, r.Created)
	shaped, diff := paper.Shaped(r.Model.Config)
	var row func(claim, paper, here string)
	if shaped {
		b.WriteString("## Headline findings, beside the paper's claims\n\nThe model has SmolLM2-135M's shape, the paper's model, so its numbers and layer ids are set beside ours.\n\n| claim (paper) | paper | here |\n|---|---|---|\n")
		row = func(claim, paper, here string) { fmt.Fprintf(&b, "| %s | %s | %s |\n", claim, paper, here) }
	} else {
		fmt.Fprintf(&b, "## Headline findings\n\nNo comparison with the paper: its numbers and layer ids are for SmolLM2-135M, and this model differs (%s).\n\n| measure | here |\n|---|---|\n", diff)
		row = func(claim, _, here string) { fmt.Fprintf(&b, "| %s | %s |\n", claimWithoutPaper(claim), here) }
	}
	if a := r.Ablation; a != nil {
		for _, name := range []string{analysis.AblateNeighbourAverage, analysis.AblateSkip} {
			v := a.Variant(name)
			if v == nil {
				continue
			}
			worst, best := math.Inf(-1), math.Inf(1)
			wl, bl := -1, -1
			for _, la := range v.Layers {
				c := float64(la.Change)
				if c > worst {
					worst, wl = c, la.Layer
				}
				if c < best {
					best, bl = c, la.Layer
				}
			}
			row(fmt.Sprintf("baseline PPL; most important layer (%s)", name), fmt.Sprintf("%s; L%d %s", paper.BaselinePPL.Text, paper.MostImportant, paper.MostImportantChange.Text),
				fmt.Sprintf("%.2f; L%d %s", float64(a.BaselinePPL), wl, numfmt.Pct(worst)))
			row(fmt.Sprintf("critical core (%s; CI lower bound > +%.0f%%)", name, 100*a.CriticalChange), paperCore, numfmt.Layers(v.Critical))
			row(fmt.Sprintf("anti-layers (%s; CI upper bound < 0)", name), paperAnti,
				fmt.Sprintf("%s; least important L%d %s", numfmt.Layers(v.Anti), bl, numfmt.Pct(best)))
			row(fmt.Sprintf("importance range (%s)", name), paper.ImportanceRange.Text, fmt.Sprintf("10^%.1f", float64(v.SpanDecades)))
		}
	}
	if p := r.Predictability; p != nil {
		for _, t := range p.Types {
			if t.Type == paper.R2Type {
				row(t.Type+" R² (neighbour ridge: in-sample / held-out / shuffled null)", paper.GateProjR2.Text,
					fmt.Sprintf("%.3g / %.3g / %.3g", float64(t.Neighbor.InSamplePooled), float64(t.Neighbor.HeldOutPooled), float64(t.NeighborNull.Mean)))
				row(t.Type+" R² (depth polynomial: in-sample / held-out)", paper.GateProjR2.Text,
					fmt.Sprintf("%.3g / %.3g", float64(t.Depth.InSamplePooled), float64(t.Depth.HeldOutPooled)))
			}
		}
		var sum float64
		var n int
		for _, t := range p.Types {
			if m := float64(t.Delta.Mean); !math.IsNaN(m) {
				sum += m
				n++
			}
		}
		if n > 0 {
			row(fmt.Sprintf("consecutive-delta correlation (mean over types; null: independent layers %g)", stats.IndependentDeltaNull), paper.DeltaCorrelation.Text, fmt.Sprintf("%.3f", sum/float64(n)))
		}
		if s := p.Substitution; s != nil && len(s.Steps) > 0 {
			first, last := s.Steps[0], s.Steps[len(s.Steps)-1]
			row("substituting predicted weights: 1 layer / many", "PPL "+paper.SubstitutedOnePPL.Text+" / "+paperManyPPL,
				fmt.Sprintf("%.2f / %.4g (%d)", float64(first.PPL), float64(last.PPL), last.K))
		}
	}
	if rc := r.Recovery; rc != nil && rc.Correlation != nil {
		here := fmt.Sprintf("rho %.2f, p %.2g over %d layers", float64(rc.Correlation.Rho), float64(rc.Correlation.P), rc.Correlation.N)
		if math.IsNaN(float64(rc.Correlation.Rho)) {
			here = fmt.Sprintf("undefined: %d of %d layers did not recover within %d steps", rc.Correlation.NotRecovered, rc.Correlation.N, rc.Options.MaxSteps)
		}
		row("recovery steps track importance (Spearman)", "yes ("+paperRecoveries("~")+")", here)
	}
	if m := r.Manipulation; m != nil {
		var parts []string
		for _, res := range m.Results {
			switch {
			case res.Paper:
				parts = append(parts, fmt.Sprintf("scale %.1f %s", *res.Alpha, numfmt.Pct(float64(res.Change))))
			case res.Alpha == nil:
				parts = append(parts, fmt.Sprintf("%s %s", res.Strategy, numfmt.Pct(float64(res.Change))))
			}
		}
		row("manipulation of redundant layers (only "+paperScale+" preserves quality)", paperScale+" "+paper.ScaleChange.Text+"; others "+paper.OtherManipulations,
			strings.Join(parts, "; "))
	}
	if l := r.Lens; l != nil && len(l.Depths) > 1 {
		mid := l.Depths[len(l.Depths)/2]
		last := l.Depths[len(l.Depths)-1]
		first := -1
		for _, d := range l.Depths {
			if float64(d.KL) < 0.5 {
				first = d.Depth
				break
			}
		}
		row("logit lens: loss (nats) at the embeddings / "+depthName(mid)+" / output; first depth with KL to the output < 0.5 nats", "not studied",
			fmt.Sprintf("%.3f / %.3f / %.3f; depth %d", float64(l.Depths[0].Loss), float64(mid.Loss), float64(last.Loss), first))
	}
	if bl := r.Blocks; bl != nil {
		var parts []string
		for _, bb := range bl.Best {
			if bb.N == 1 || bb.N == 2 || bb.N == 4 || bb.N == 8 {
				parts = append(parts, fmt.Sprintf("n=%d: L%d-L%d (%.3f)", bb.N, bb.Start, bb.Start+bb.N-1, float64(bb.LastToken)))
			}
		}
		row("most redundant blocks of n layers (last-token angular distance, arccos/π)", "not studied", strings.Join(parts, "; "))
	}
	b.WriteString("\nEvery effect above comes with a bootstrap interval in the tables below; with the paper-sized evaluation (10 sentences) small effects are not distinguishable from noise, and the flags only fire when the interval supports them.\n")
	return b.String()
}
