package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/growthtrain/growthtrain/trainer"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// trainFlags are accepted both at the top level (growthtrain -c budget.toml) and by `train`.
func trainFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "budget TOML file (see docs/budget.md)"},
		&cli.BoolFlag{Name: "uniform", Usage: "train the uniform baseline of the budget (same model, data order and steps, every layer every step)"},
		&cli.BoolFlag{Name: "compare", Usage: "train the budget and its uniform baseline at equal cost (--match), then compare them"},
		&cli.StringFlag{Name: "match", Value: trainer.MatchFLOPs, Usage: "with --compare: the costs to hold equal, comma-separated: " + strings.Join(trainer.Matches, ", ") + " (one comparison each)"},
		&cli.StringFlag{Name: "match-to", Value: trainer.MatchToBaseline, Usage: "with --compare: which run adapts its steps to the other's cost: baseline or budget"},
		&cli.BoolFlag{Name: "resume", Usage: "continue from the latest checkpoint in the output directory"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output directory (default: [run] output)"},
		intIn(&cli.IntFlag{Name: "stop-at", Usage: "checkpoint and stop after this many steps (continue later with --resume)"}, 0, trainer.MaxSteps, "0: run to the end"),
	}
}

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:      "train",
		Usage:     "train with per-layer budgets (same as growthtrain -c FILE)",
		UsageText: "growthtrain train -c budget.toml [--uniform | --compare] [--resume] [-o DIR]",
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
	// Ctrl-C and SIGTERM: the trainer saves a checkpoint at the next step boundary and stops.
	ctx, stop := notifyContext()
	defer stop()
	out := c.String("output")
	if out == "" {
		out = b.Run.Output
	}
	opts := trainer.Options{Resume: c.Bool("resume"), Log: os.Stdout, Context: ctx, StopAt: c.Int("stop-at"),
		Progress: term.IsTerminal(int(os.Stderr.Fd())), AutoTokenizer: autoTokenizer()}
	if !c.Bool("compare") {
		opts.Uniform, opts.Output = c.Bool("uniform"), out
		_, err := trainer.Run(b, opts)
		return interrupted(ctx, err)
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
	if err != nil {
		return interrupted(ctx, err)
	}
	trainer.PrintComparison(os.Stdout, rep)
	return trainer.WriteComparison(filepath.Join(out, "comparison.json"), rep)
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
func interrupted(ctx context.Context, err error) error {
	if errors.Is(err, trainer.ErrStopped) {
		fmt.Println(err)
		return nil
	}
	if errors.Is(err, trainer.ErrInterrupted) {
		code := 130
		var sc signalCause
		if errors.As(context.Cause(ctx), &sc) {
			if s, ok := sc.sig.(syscall.Signal); ok {
				code = 128 + int(s)
			}
			return cli.Exit(fmt.Sprintf("%s: %v", sc.sig, err), code)
		}
		return cli.Exit(err.Error(), code)
	}
	return err
}
