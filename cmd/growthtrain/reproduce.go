package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/analysis/report"
	"github.com/growthtrain/growthtrain/data"
	"github.com/growthtrain/growthtrain/internal/numfmt"
	"github.com/growthtrain/growthtrain/trainer"
	"github.com/urfave/cli/v2"
)

// The paper's tables, as make targets (make table-ablation ... make paper): each writes
// results/<name>.{json,md,csv,png} with our numbers beside the paper's.
var reproduceTables = []string{"predictability", "ablation", "recovery", "manipulation", "structure", "growth"}

func reproduceCommand() *cli.Command {
	return &cli.Command{
		Name:      "reproduce",
		Usage:     "regenerate one of the paper's tables beside its numbers: " + strings.Join(reproduceTables, ", "),
		UsageText: "growthtrain reproduce [-m MODEL] [--eval small|full] [-o results] TABLE",
		Flags: append(modelFlags()[1:], // the model is optional here
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Value: trainer.SmolLM2GGUF, Usage: "model to analyse (default: SmolLM2-135M-Instruct from make smollm2)"},
			&cli.StringFlag{Name: "eval", Value: "small", Usage: "small: the paper-sized evaluation (10 sentences; fits a CPU); full: 1M held-out tokens of the embedded corpus (for a GPU)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "results", Usage: "directory for <table>.{json,md,csv,png}"},
			&cli.StringFlag{Name: "budget", Usage: "growth: the budget to compare (default configs/demo.toml for small, configs/poc.toml for full)"},
			&cli.IntFlag{Name: "seeds", Value: 3, Usage: "growth: seeds to train each budget with"},
			&cli.IntFlag{Name: "recovery-steps", Usage: "recovery: step cap (default 200 on a GPU, 50 on the CPU)"},
			&cli.StringFlag{Name: "recovery-layers", Value: "auto", Usage: "recovery: auto, all or a list"},
			&cli.IntFlag{Name: "bootstrap", Value: 1000, Usage: "bootstrap resamples per interval"},
		),
		Action: reproduceAction,
	}
}

func reproduceAction(c *cli.Context) error {
	table := c.Args().First()
	if c.NArg() > 1 {
		return fmt.Errorf("reproduce: options go before the table name (growthtrain reproduce [options] TABLE); got extra %q", c.Args().Slice()[1:])
	}
	if !slices.Contains(reproduceTables, table) {
		return fmt.Errorf("reproduce: want one of %s, got %q", strings.Join(reproduceTables, ", "), table)
	}
	if e := c.String("eval"); e != "small" && e != "full" {
		return fmt.Errorf("--eval %q: want small or full", e)
	}
	out := c.String("output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if table == "growth" {
		return reproduceGrowth(c, out)
	}
	work := filepath.Join(out, "work-"+table)
	p := analyzeParams{Model: c.String("model"), Tokenizer: c.String("tokenizer"), Device: c.String("device"),
		DType: c.String("dtype"), Batch: 8, Metrics: []string{table}, Seed: 1, Bootstrap: c.Int("bootstrap"),
		RecoveryLayers: c.String("recovery-layers"), RecoverySteps: c.Int("recovery-steps"), Output: work}
	if c.String("eval") == "full" {
		heldOut, err := writeValidationSplit(filepath.Join(out, "heldout.txt"))
		if err != nil {
			return err
		}
		p.Data, p.EvalTokens, p.SeqLen = heldOut, 1000000, 1024
	}
	rep, err := runAnalyze(p)
	if err != nil {
		return err
	}
	return writeTable(out, table, work, rep)
}

// writeValidationSplit writes the embedded corpus' validation documents (never trained on by
// the trainer's default split) to path, for --eval full.
func writeValidationSplit(path string) (string, error) {
	docs, err := data.DefaultCorpus()
	if err != nil {
		return "", err
	}
	_, val, err := data.Split(docs, 0.05, 1)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, d := range val {
		b.WriteString(d.Text)
		b.WriteString("\n\n")
	}
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeTable extracts a diagnostic's section into results/<table>.*, with the paper beside it.
func writeTable(out, table, work string, rep *analysis.Report) error {
	var section any
	var t report.Table
	switch table {
	case "ablation":
		section = rep.Ablation
		t = ablationTable(rep)
	case "predictability":
		section = rep.Predictability
		t = predictabilityTable(rep)
	case "recovery":
		section = rep.Recovery
		t = recoveryTable(rep)
	case "manipulation":
		section = rep.Manipulation
		t = manipulationTable(rep)
	case "structure":
		section = rep.Structure
		t = structureTable(rep)
	}
	raw, err := json.MarshalIndent(map[string]any{"table": table, "model": rep.Model, "data": rep.Data, "result": section}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, table+".json"), raw, 0o644); err != nil {
		return err
	}
	md := t.Markdown() + fmt.Sprintf("\nModel %s, evaluation %s (%d windows, %d tokens). All tables and plots: %s/report.md.\n",
		rep.Model.Path, rep.Data.Eval, rep.Data.Windows, rep.Data.Tokens, filepath.Base(work))
	if err := os.WriteFile(filepath.Join(out, table+".md"), []byte(md), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, table+".csv"))
	if err != nil {
		return err
	}
	if err := t.WriteCSV(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	pngs, _ := filepath.Glob(filepath.Join(work, "*.png"))
	if len(pngs) > 0 {
		slices.Sort(pngs)
		main := pngs[0]
		for _, p := range pngs { // prefer the headline plot of each table
			b := filepath.Base(p)
			if strings.Contains(b, map[string]string{"ablation": "neighbour-average", "predictability": "substitution",
				"recovery": "vs_importance", "manipulation": "sweep", "structure": "block"}[table]) {
				main = p
				break
			}
		}
		if err := copyFile(main, filepath.Join(out, table+".png")); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %s/%s.{json,md,csv,png}\n", out, table)
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	o, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(o, in); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}

func paperTable(title string) report.Table {
	return report.Table{Title: title, Columns: []string{"measure", "paper", "here", "verdict"}}
}

func verdictWord(ok bool, partly bool) string {
	switch {
	case ok:
		return "reproduced"
	case partly:
		return "partly"
	}
	return "not reproduced"
}

func ablationTable(rep *analysis.Report) report.Table {
	t := paperTable("Ablation: layer importance (paper vs here)")
	a := rep.Ablation
	t.AddRow("baseline perplexity", "22.60", numfmt.Float(float64(a.BaselinePPL), 4), "differs (instruct Q4_1 model; our 10 sentences)")
	for _, name := range []string{analysis.AblateNeighbourAverage, analysis.AblateSkip} {
		v := a.Variant(name)
		if v == nil {
			continue
		}
		core := []int{8, 9, 10, 11}
		inCore := 0
		for _, l := range core {
			if slices.Contains(v.Critical, l) {
				inCore++
			}
		}
		t.AddRow(name+": critical layers (CI lower bound > +100%)", "L8-L11", numfmt.Layers(v.Critical),
			verdictWord(inCore == 4 && len(v.Critical) == 4, inCore > 0))
		if 11 < len(v.Layers) { // the paper's layer numbers only mean something for its 30 layers
			la11 := v.Layers[11]
			t.AddRow(name+": L11 change", "+63,419%", numfmt.Pct(float64(la11.Change))+" "+numfmt.CIPct(float64(la11.CILo), float64(la11.CIHi)), "")
		}
		antiOK := slices.Contains(v.Anti, 14) && slices.Contains(v.Anti, 17)
		t.AddRow(name+": anti-layers (CI upper bound < 0)", "L14, L17 (-0.6% each)", numfmt.Layers(v.Anti),
			verdictWord(antiOK, slices.Contains(v.Anti, 14) || slices.Contains(v.Anti, 17)))
		for _, l := range []int{14, 17} {
			if l < len(v.Layers) {
				la := v.Layers[l]
				t.AddRow(fmt.Sprintf("%s: L%d change", name, l), "-0.6%", numfmt.Pct(float64(la.Change))+" "+numfmt.CIPct(float64(la.CILo), float64(la.CIHi)), "")
			}
		}
		t.AddRow(name+": importance range", "10^7", fmt.Sprintf("10^%.1f", float64(v.SpanDecades)), verdictWord(float64(v.SpanDecades) >= 6, float64(v.SpanDecades) >= 4))
	}
	return t
}

func predictabilityTable(rep *analysis.Report) report.Table {
	t := paperTable("Weight predictability (paper vs here)")
	p := rep.Predictability
	deltaSum, n := 0.0, 0
	for _, ty := range p.Types {
		if ty.Type == "gate_proj" {
			in, held := float64(ty.Neighbor.InSamplePooled), float64(ty.Neighbor.HeldOutPooled)
			t.AddRow("gate_proj R², neighbour ridge (in-sample / held-out / shuffled null)", "0.91",
				fmt.Sprintf("%.3g / %.3g / %.3g", in, held, float64(ty.NeighborNull.Mean)), verdictWord(held >= 0.8, in >= 0.5))
			t.AddRow("gate_proj R², depth polynomial (in-sample / held-out)", "0.91",
				fmt.Sprintf("%.3g / %.3g", float64(ty.Depth.InSamplePooled), float64(ty.Depth.HeldOutPooled)), "")
		}
		if m := float64(ty.Delta.Mean); !math.IsNaN(m) && !strings.Contains(ty.Type, "norm") {
			deltaSum += m
			n++
		}
	}
	for _, ty := range p.Types {
		if strings.Contains(ty.Type, "norm") {
			t.AddRow(ty.Type+" R², neighbour ridge (held-out)", "n/a", fmt.Sprintf("%.3g", float64(ty.Neighbor.HeldOutPooled)), "")
		}
	}
	if n > 0 {
		mean := deltaSum / float64(n)
		t.AddRow("delta correlation, matrices (null: independent layers)", "-0.50 (\"universal oscillation\")",
			fmt.Sprintf("%.3f (null -0.500)", mean), "matches the null: no evidence of structure beyond independence")
	}
	if s := p.Substitution; s != nil && len(s.Steps) > 0 {
		first, last := s.Steps[0], s.Steps[len(s.Steps)-1]
		t.AddRow("PPL with 1 predicted layer", "26.22", numfmt.Float(float64(first.PPL), 4), "")
		t.AddRow(fmt.Sprintf("PPL with %d predicted layers", last.K), ">100,000 (9+)", numfmt.Float(float64(last.PPL), 4), verdictWord(float64(last.PPL) > 1e5, float64(last.PPL) > 10*float64(first.PPL)))
	}
	return t
}

func recoveryTable(rep *analysis.Report) report.Table {
	t := paperTable("Recovery after perturbation (paper vs here)")
	r := rep.Recovery
	for _, l := range r.Layers {
		paper := map[int]string{8: "~200", 11: "~200", 14: "0", 17: "0"}[l.Layer]
		if paper == "" {
			paper = "n/a"
		}
		steps := fmt.Sprint(l.Steps)
		if !l.Recovered {
			steps = fmt.Sprintf(">%d (not recovered)", l.Steps)
		}
		t.AddRow(fmt.Sprintf("L%d steps to within 1%% (perturbed %s)", l.Layer, numfmt.Pct(float64(l.PerturbedChange))), paper, steps, "")
	}
	if c := r.Correlation; c != nil {
		if math.IsNaN(float64(c.Rho)) {
			t.AddRow("Spearman(recovery steps, importance)", "positive",
				fmt.Sprintf("undefined: %d of %d layers did not recover within %d steps", c.NotRecovered, c.N, r.Options.MaxSteps),
				"not established (raise --recovery-steps, e.g. on a GPU)")
		} else {
			t.AddRow("Spearman(recovery steps, importance)", "positive", fmt.Sprintf("rho %.2f, p %.2g, n %d", float64(c.Rho), float64(c.P), c.N),
				verdictWord(float64(c.Rho) > 0 && float64(c.P) < 0.05, float64(c.Rho) > 0))
		}
	}
	return t
}

func manipulationTable(rep *analysis.Report) report.Table {
	t := paperTable("Manipulation of redundant layers (paper vs here)")
	m := rep.Manipulation
	t.AddRow("layers manipulated", "redundant layers", numfmt.Layers(m.Layers), "")
	for _, res := range m.Results {
		paper := "millions of %"
		label := res.Strategy
		if res.Alpha != nil {
			label = fmt.Sprintf("scale %.2g", *res.Alpha)
			paper = ""
			if res.Paper {
				paper = "+19%"
			}
		}
		t.AddRow(label, paper, numfmt.Pct(float64(res.Change))+" "+numfmt.CIPct(float64(res.CILo), float64(res.CIHi)), "")
	}
	return t
}

func structureTable(rep *analysis.Report) report.Table {
	t := report.Table{Title: "Structure per layer (the paper reports no numbers; here for reference)",
		Columns: []string{"layer", "block influence", "angular distance", "gate_proj stable rank", "gate_proj spectral norm"}}
	s := rep.Structure
	bi, ad := s.BlockInfluence(), s.AngularDistance()
	sr, sn := s.Metric("gate", "stable_rank"), s.Metric("gate", "spectral")
	for l := 0; l < s.NumLayers; l++ {
		t.AddRow(fmt.Sprint(l), at(bi, l, 4), at(ad, l, 4), at(sr, l, 3), at(sn, l, 3))
	}
	return t
}

func at(xs []float64, i, digits int) string {
	if i >= len(xs) {
		return "n/a"
	}
	return numfmt.Float(xs[i], digits)
}

// reproduceGrowth trains a budget and its uniform baseline over several seeds and reports
// validation loss with spread, wall time and cost.
func reproduceGrowth(c *cli.Context, out string) error {
	path := c.String("budget")
	if path == "" {
		path = map[string]string{"small": "configs/demo.toml", "full": "configs/poc.toml"}[c.String("eval")]
	}
	type row struct {
		Seed                       uint64
		GrowthVal, UniformVal      float64
		GrowthSec, UniformSec      float64
		Cost, FLOPsRatio, Params   float64
		GrowthSteps, UniformLayers int
	}
	var rows []row
	for s := 1; s <= c.Int("seeds"); s++ {
		runOut := filepath.Join(out, "work-growth", fmt.Sprintf("seed%d", s))
		res := map[string]*trainer.Summary{}
		for _, uniform := range []bool{false, true} {
			b, err := trainer.LoadBudget(path)
			if err != nil {
				return err
			}
			b.Run.Seed = uint64(s)
			mode := map[bool]string{false: "growth", true: "uniform"}[uniform]
			dir := filepath.Join(runOut, mode)
			os.RemoveAll(dir)
			sum, err := trainer.Run(b, trainer.Options{Uniform: uniform, Output: dir, Log: io.Discard})
			if err != nil {
				return err
			}
			res[mode] = sum
			fmt.Printf("seed %d %s: val loss %.4f, %.1fs\n", s, mode, sum.FinalValLoss, sum.Seconds)
		}
		g, u := res["growth"], res["uniform"]
		rows = append(rows, row{Seed: uint64(s), GrowthVal: g.FinalValLoss, UniformVal: u.FinalValLoss, GrowthSec: g.Seconds,
			UniformSec: u.Seconds, Cost: g.CostRatio, FLOPsRatio: g.FLOPs / u.FLOPs, Params: float64(g.Params), GrowthSteps: g.Steps})
	}
	meanSD := func(f func(r row) float64) (float64, float64) {
		var m, ss float64
		for _, r := range rows {
			m += f(r)
		}
		m /= float64(len(rows))
		for _, r := range rows {
			ss += (f(r) - m) * (f(r) - m)
		}
		if len(rows) > 1 {
			ss /= float64(len(rows) - 1)
		}
		return m, math.Sqrt(ss)
	}
	gv, gsd := meanSD(func(r row) float64 { return r.GrowthVal })
	uv, usd := meanSD(func(r row) float64 { return r.UniformVal })
	gs, _ := meanSD(func(r row) float64 { return r.GrowthSec })
	us, _ := meanSD(func(r row) float64 { return r.UniformSec })
	ratio, rsd := meanSD(func(r row) float64 { return r.UniformVal / r.GrowthVal })
	t := paperTable(fmt.Sprintf("Growth vs uniform training (%s, %d seeds, %.2fM parameters, %d steps each)", filepath.Base(path), len(rows), rows[0].Params/1e6, rows[0].GrowthSteps))
	t.AddRow("validation loss, growth", "0.127", fmt.Sprintf("%.4f ± %.4f", gv, gsd), "")
	t.AddRow("validation loss, uniform", "0.599", fmt.Sprintf("%.4f ± %.4f", uv, usd), "")
	t.AddRow("uniform / growth validation loss", "4.7x", fmt.Sprintf("%.3fx ± %.3f", ratio, rsd), verdictWord(ratio > 4, ratio > 1.05))
	t.AddRow("cost: layer-steps vs uniform", "~46% (\"54% cheaper\")", fmt.Sprintf("%.1f%%", 100*rows[0].Cost), "by construction of the budget")
	t.AddRow("estimated FLOPs vs uniform", "n/a", fmt.Sprintf("%.1f%%", 100*rows[0].FLOPsRatio), "")
	t.AddRow("wall time, growth vs uniform", "13% faster", fmt.Sprintf("%.1fs vs %.1fs (%+.1f%%)", gs, us, 100*(gs/us-1)), verdictWord(gs < 0.9*us, gs < us))
	t.Notes = append(t.Notes, "Same model, initial weights, data order, schedule and total steps for both; only the per-layer budget differs.")
	raw, _ := json.MarshalIndent(map[string]any{"table": "growth", "budget": path, "runs": rows}, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "growth.json"), raw, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "growth.md"), []byte(t.Markdown()), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, "growth.csv"))
	if err != nil {
		return err
	}
	if err := t.WriteCSV(f); err != nil {
		f.Close()
		return err
	}
	f.Close()
	// Validation-loss curves of seed 1.
	var series []report.Series
	for _, mode := range []string{"growth", "uniform"} {
		xs, ys, err := valCurve(filepath.Join(out, "work-growth", "seed1", mode, "metrics.jsonl"))
		if err != nil {
			return err
		}
		series = append(series, report.Series{Name: mode, X: xs, Y: ys})
	}
	if err := report.Lines(filepath.Join(out, "growth.png"), "Validation loss, growth vs uniform (seed 1)", "step", "validation loss", series); err != nil {
		return err
	}
	fmt.Print(t.Markdown())
	return nil
}

func valCurve(path string) (xs, ys []float64, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		var m struct {
			Step    int      `json:"step"`
			ValLoss *float64 `json:"val_loss"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.ValLoss != nil {
			xs, ys = append(xs, float64(m.Step)), append(ys, *m.ValLoss)
		}
	}
	return xs, ys, nil
}
