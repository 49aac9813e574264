package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/growthtrain/growthtrain/analysis/report"
	"github.com/growthtrain/growthtrain/trainer"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// trainFlags are accepted both at the top level (growthtrain -c budget.toml) and by `train`.
func trainFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "budget TOML file (see docs/budget.md)"},
		&cli.BoolFlag{Name: "uniform", Usage: "train the uniform baseline of the budget (same model, data order and steps, every layer every step)"},
		&cli.BoolFlag{Name: "compare", Usage: "train the budget and its uniform baseline at equal cost (--match), then compare them"},
		&cli.StringFlag{Name: "match", Value: trainer.MatchFLOPs, Usage: "with --compare: the costs to hold equal, comma-separated: " + strings.Join(trainer.Matches, ", ") + " (one comparison each)"},
		&cli.StringFlag{Name: "match-to", Value: trainer.MatchToBaseline, Usage: "with --compare: which run adapts its steps to the other's cost: baseline or budget"},
		&cli.BoolFlag{Name: "resume", Usage: "continue from the latest checkpoint in the output directory"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output directory (default: [run] output)"},
		&cli.StringFlag{Name: "activation-checkpointing", Usage: "recompute these layers' intermediates in the backward pass instead of keeping them (less memory, about a third more compute for them; same numbers): all, none, or layers such as 0-3,8 (default: [run] activation_checkpointing)"},
		intIn(&cli.IntFlag{Name: "stop-at", Usage: "checkpoint and stop after this many steps (continue later with --resume)"}, 0, trainer.MaxSteps, "0: run to the end"),
	}, distFlags()...)
}

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:      "train",
		Usage:     "train with per-layer budgets (same as growthtrain -c FILE)",
		UsageText: "growthtrain train -c budget.toml [--uniform | --compare] [--resume] [-o DIR] [--nproc N]",
		Flags:     trainFlags(),
		Action:    trainAction,
	}
}

func trainAction(c *cli.Context) error {
	path := c.String("config")
	if path == "" {
		return fmt.Errorf("no budget: pass -c budget.toml (configs/ has examples)")
	}
	if c.Bool("uniform") && c.Bool("compare") {
		return fmt.Errorf("--uniform and --compare exclude each other (--compare runs both)")
	}
	b, err := trainer.LoadBudget(path)
	if err != nil {
		return err
	}
	if spec := c.String("activation-checkpointing"); spec != "" {
		// Checked here, before any rank starts; each run applies it (trainer.Options.Recompute).
		if err := b.SetActivationCheckpointing(spec); err != nil {
			return usageError(c, fmt.Errorf("--activation-checkpointing: %w", err))
		}
	}
	if launching(c) {
		return launch(argv, c.Int("nproc"))
	}
	// Ctrl-C and SIGTERM: the trainer saves a checkpoint at the next step boundary and stops.
	ctx, stop := notifyContext()
	defer stop()
	out := c.String("output")
	if out == "" {
		out = b.Run.Output
	}
	// Stage messages, the progress bars and the run's summary go to stderr; stdout gets the paths
	// of the results (summary.json, the loss curve) and --compare's comparison.
	opts := trainer.Options{Resume: c.Bool("resume"), Log: os.Stderr, Context: ctx, StopAt: c.Int("stop-at"),
		Progress: term.IsTerminal(int(os.Stderr.Fd())), AutoTokenizer: autoTokenizer(), Recompute: c.String("activation-checkpointing")}
	// A rank of a data-parallel run (launched by --nproc, torchrun or SLURM).
	root := true
	if e, ok, err := readRankEnv(); err != nil {
		return err
	} else if ok {
		g, dev, err := joinGroup(e, b.Run.Device, c.Duration("dist-timeout"))
		if err != nil {
			return err
		}
		defer g.Close()
		opts.Group, opts.Device, root = g, dev, e.rank == 0
	}
	if !c.Bool("compare") {
		opts.Uniform, opts.Output = c.Bool("uniform"), out
		_, err := trainer.Run(b, opts)
		if root {
			finishRun(out, runName(b.Run.Name, out), err)
		}
		return interrupted(ctx, err, root)
	}
	// --compare --resume resumes each run that has a checkpoint (a finished one re-finishes
	// from its final checkpoint at once) and starts one that has none.
	var match []string
	for _, m := range strings.Split(c.String("match"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			match = append(match, m)
		}
	}
	opts.Output = out
	rep, err := trainer.RunComparison(path, opts, trainer.CompareOptions{Match: match, MatchTo: c.String("match-to")})
	// A loss curve for each of RunComparison's runs (growth, uniform, uniform at matched cost).
	runs, _ := filepath.Glob(filepath.Join(out, "*", "metrics.jsonl"))
	if !root {
		runs = nil
	}
	for _, m := range runs {
		dir := filepath.Dir(m)
		finishRun(dir, runName(b.Run.Name, out)+" ("+filepath.Base(dir)+")", err)
	}
	if err != nil {
		return interrupted(ctx, err, root)
	}
	if !root {
		return nil
	}
	trainer.PrintComparison(os.Stdout, rep)
	return trainer.WriteComparison(filepath.Join(out, "comparison.json"), rep)
}

// finishRun writes the loss curve beside dir's metrics.jsonl, once the trainer has returned
// (finished, stopped at --stop-at, interrupted or diverged: whatever steps were logged), and
// prints the paths of the run's results. A figure that cannot be drawn is a warning, not a
// failed run.
func finishRun(dir, name string, runErr error) {
	metrics := filepath.Join(dir, "metrics.jsonl")
	if _, err := os.Stat(metrics); err != nil {
		return // the run failed before its first step
	}
	fig := filepath.Join(dir, "loss.png")
	if err := writeLossCurve(metrics, fig, name); err != nil {
		fmt.Fprintf(os.Stderr, "growthtrain: warning: loss curve: %v\n", err)
	} else {
		fmt.Println(fig)
	}
	if runErr == nil {
		fmt.Println(filepath.Join(dir, "summary.json"))
	}
}

// runName is how the loss curve names a run: the budget's [run] name, or its output folder's.
func runName(name, out string) string {
	if name == "" || name == "run" {
		return filepath.Base(filepath.Clean(out))
	}
	return name
}

// writeLossCurve draws the training loss of every step in metrics, the validation loss where it
// was measured and the steps where a phase begins into path (PNG).
func writeLossCurve(metrics, path, name string) error {
	raw, err := os.ReadFile(metrics)
	if err != nil {
		return err
	}
	var train, val report.Series
	train.Name, val.Name = "training loss", "validation loss"
	var starts []float64 // first step of every phase after the first
	phase := ""
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m struct {
			Step    int      `json:"step"`
			Phase   string   `json:"phase"`
			Loss    *float64 `json:"loss"` // null: not finite
			ValLoss *float64 `json:"val_loss"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("%s line %d: %w", metrics, i+1, err)
		}
		x := float64(m.Step)
		if phase != "" && m.Phase != phase {
			starts = append(starts, x)
		}
		phase = m.Phase
		for _, v := range []*float64{m.Loss, m.ValLoss} {
			if v != nil {
				lo, hi = math.Min(lo, *v), math.Max(hi, *v)
			}
		}
		train.X, train.Y = append(train.X, x), append(train.Y, orNaN(m.Loss))
		if m.ValLoss != nil {
			val.X, val.Y = append(val.X, x), append(val.Y, *m.ValLoss)
		}
	}
	series := []report.Series{train}
	if len(val.X) > 0 {
		series = append(series, val)
	}
	for i, s := range starts {
		ref := report.Series{Name: "phase start", X: []float64{s, s}, Y: []float64{lo, hi}, Reference: true}
		if i > 0 {
			ref.Name = "" // one legend entry
		}
		series = append(series, ref)
	}
	return report.Lines(path, "Loss of "+name, "step", "loss (nats/token)", series, report.LinesOptions{IntegerX: true})
}

func orNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

// signalCause is the context cause of a run stopped by a signal.
type signalCause struct{ sig os.Signal }

func (s signalCause) Error() string { return "received " + s.sig.String() }

// notifyContext returns a context cancelled by the first SIGINT or SIGTERM, with the signal
// as its cause. After that first signal the default handling comes back, so a second Ctrl-C
// ends the process at once (what is on disk is safe at any instant: docs/failure-model.md).
func notifyContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			signal.Stop(sigs)
			cancel(signalCause{s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// interrupted turns the trainer's stop errors into the command's outcome: --stop-at is a normal
// end; a signal exits with 128 + its number (130 for Ctrl-C, 143 for SIGTERM) after the
// checkpoint.
// Of a data-parallel run's ranks only rank 0 (root) says so: the others stopped alike.
func interrupted(ctx context.Context, err error, root bool) error {
	if errors.Is(err, trainer.ErrStopped) {
		if root {
			fmt.Fprintln(os.Stderr, err) // a stage message: where the run stopped
		}
		return nil
	}
	if errors.Is(err, trainer.ErrInterrupted) {
		code := 130
		var sc signalCause
		msg := err.Error()
		if errors.As(context.Cause(ctx), &sc) {
			if s, ok := sc.sig.(syscall.Signal); ok {
				code = 128 + int(s)
			}
			msg = fmt.Sprintf("%s: %v", sc.sig, err)
		}
		if !root {
			msg = "" // a rank interrupted by another rank's signal exits alike, silently
		}
		return cli.Exit(msg, code)
	}
	return err
}
