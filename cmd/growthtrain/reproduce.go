package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/analysis/report"
	"github.com/growthtrain/growthtrain/data"
	"github.com/growthtrain/growthtrain/internal/fsutil"
	"github.com/growthtrain/growthtrain/trainer"
	"github.com/urfave/cli/v2"
)

// The paper's tables, as make targets (make table-ablation ... make paper): each writes
// results/<name>.{json,md,csv,png} with our numbers beside the paper's (report.PaperTable,
// report.GrowthTable).
var reproduceTables = append(slices.Clone(report.PaperTables), "growth")

func reproduceCommand() *cli.Command {
	return &cli.Command{
		Name:      "reproduce",
		Usage:     "regenerate one of the paper's tables beside its numbers: " + strings.Join(reproduceTables, ", "),
		UsageText: "growthtrain reproduce [-m MODEL] [--eval small|full] [-o results] TABLE",
		ArgsUsage: "TABLE",
		Flags: append(modelFlags()[1:], // the model is optional here
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Value: smolLM2GGUF, Usage: "model to analyse (make smollm2 fetches SmolLM2-135M-Instruct here)"},
			&cli.StringFlag{Name: "eval", Value: "small", Usage: "small: the paper-sized evaluation (10 sentences; fits a CPU); full: 1M held-out tokens of the embedded corpus (for a GPU)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "results", Usage: "directory for <table>.{json,md,csv,png}"},
			&cli.StringFlag{Name: "budget", Usage: "growth: the budget to compare (default configs/demo.toml for small, configs/poc.toml for full)"},
			intIn(&cli.IntFlag{Name: "seeds", Value: 3, Usage: "growth: seeds to train each budget with"}, 1, 1000, ""),
			intIn(&cli.IntFlag{Name: "recovery-steps", Usage: "recovery: step cap; 0: 200 on a GPU, 50 on the CPU", DefaultText: "0"}, 0, maxRecovSteps, "0: the default"),
			&cli.StringFlag{Name: "recovery-layers", Value: "auto", Usage: "recovery: auto, all or a list"},
			intIn(&cli.IntFlag{Name: "bootstrap", Value: 1000, Usage: "bootstrap resamples per interval"}, 1, maxBootstrap, ""),
		),
		Action: reproduceAction,
	}
}

func reproduceAction(c *cli.Context) error {
	table := c.Args().First()
	if c.NArg() > 1 {
		return usageError(c, fmt.Errorf("reproduce: one table name, got extra %q", c.Args().Slice()[1:]))
	}
	if !slices.Contains(reproduceTables, table) {
		return usageError(c, fmt.Errorf("reproduce: want one of %s, got %q", strings.Join(reproduceTables, ", "), table))
	}
	if e := c.String("eval"); e != "small" && e != "full" {
		return usageError(c, fmt.Errorf("--eval %q: want small or full", e))
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
		DType: c.String("dtype"), Batch: 0, Metrics: []string{table}, Seed: 1, Bootstrap: c.Int("bootstrap"),
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
	return path, fsutil.WriteFile(path, []byte(b.String()))
}

// writeTable extracts a diagnostic's section into results/<table>.*, with the paper beside it.
func writeTable(out, table, work string, rep *analysis.Report) error {
	var section any
	switch table {
	case "ablation":
		section = rep.Ablation
	case "predictability":
		section = rep.Predictability
	case "recovery":
		section = rep.Recovery
	case "manipulation":
		section = rep.Manipulation
	case "structure":
		section = rep.Structure
	}
	t, err := report.PaperTable(table, rep)
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(map[string]any{"table": table, "model": rep.Model, "data": rep.Data, "result": section}, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(out, table+".json"), raw); err != nil {
		return err
	}
	md := t.Markdown() + fmt.Sprintf("\nModel %s, evaluation %s (%d windows, %d tokens). All tables and plots: %s/report.md.\n",
		rep.Model.Path, rep.Data.Eval, rep.Data.Windows, rep.Data.Tokens, filepath.Base(work))
	if err := fsutil.WriteFile(filepath.Join(out, table+".md"), []byte(md)); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(out, table+".csv"), &t); err != nil {
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
		if err := fsutil.CopyFile(main, filepath.Join(out, table+".png")); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %s/%s.{json,md,csv,png}\n", out, table)
	return nil
}

// writeCSV replaces path by the table as CSV, atomically.
func writeCSV(path string, t *report.Table) error {
	f, err := fsutil.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := t.WriteCSV(f); err != nil {
		return err
	}
	return f.Commit()
}

// reproduceGrowth trains a budget and its uniform baseline over several seeds and reports
// validation loss with spread, wall time and cost.
func reproduceGrowth(c *cli.Context, out string) error {
	path := c.String("budget")
	if path == "" {
		path = map[string]string{"small": "configs/demo.toml", "full": "configs/poc.toml"}[c.String("eval")]
	}
	var rows []report.GrowthRun
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
			sum, err := trainer.Run(b, trainer.Options{Uniform: uniform, Output: dir, Log: io.Discard, AutoTokenizer: autoTokenizer()})
			if err != nil {
				return err
			}
			res[mode] = sum
			fmt.Fprintf(os.Stderr, "seed %d %s: val loss %.4f, %.1fs\n", s, mode, sum.FinalValLoss, sum.Seconds)
		}
		g, u := res["growth"], res["uniform"]
		rows = append(rows, report.GrowthRun{Seed: uint64(s), GrowthVal: g.FinalValLoss, UniformVal: u.FinalValLoss, GrowthSec: g.Seconds,
			UniformSec: u.Seconds, Cost: g.CostRatio, FLOPsRatio: g.FLOPs / u.FLOPs, Params: float64(g.Params), GrowthSteps: g.Steps})
	}
	t := report.GrowthTable(path, rows)
	raw, _ := json.MarshalIndent(map[string]any{"table": "growth", "budget": path, "runs": rows}, "", "  ")
	if err := fsutil.WriteFile(filepath.Join(out, "growth.json"), raw); err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(out, "growth.md"), []byte(t.Markdown())); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(out, "growth.csv"), &t); err != nil {
		return err
	}
	// Validation-loss curves of seed 1.
	var curves []report.GrowthCurve
	for _, mode := range []string{"growth", "uniform"} {
		steps, loss, err := trainer.ReadValLoss(filepath.Join(out, "work-growth", "seed1", mode, "metrics.jsonl"))
		if err != nil {
			return err
		}
		curves = append(curves, report.GrowthCurve{Name: mode, Steps: steps, Loss: loss})
	}
	if err := report.GrowthPlot(filepath.Join(out, "growth.png"), 1, curves); err != nil {
		return err
	}
	fmt.Print(t.Markdown())
	return nil
}
