package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/growthtrain/growthtrain/trainer"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// trainFlags are accepted both at the top level (growthtrain -c budget.toml) and by `train`.
func trainFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "budget TOML file (see docs/budget.md)"},
		&cli.BoolFlag{Name: "uniform", Usage: "train the uniform baseline of the budget (same model, data order and steps, every layer every step)"},
		&cli.BoolFlag{Name: "compare", Usage: "train the budget and its uniform baseline, then compare them"},
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
	// Ctrl-C: the trainer saves a checkpoint at the next step boundary and stops.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
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
		return interrupted(err)
	}
	opts.Output = filepath.Join(out, "growth")
	growth, err := trainer.Run(b, opts)
	if err != nil {
		return interrupted(err)
	}
	b2, _ := trainer.LoadBudget(path) // a fresh copy: Run resolves the budget in place
	opts.Uniform, opts.Output = true, filepath.Join(out, "uniform")
	uniform, err := trainer.Run(b2, opts)
	if err != nil {
		return interrupted(err)
	}
	cmp := trainer.Compare(growth, uniform)
	trainer.PrintComparison(os.Stdout, cmp)
	return trainer.WriteComparison(filepath.Join(out, "comparison.json"), cmp)
}

func interrupted(err error) error {
	if errors.Is(err, trainer.ErrStopped) {
		fmt.Println(err)
		return nil
	}
	if errors.Is(err, trainer.ErrInterrupted) {
		fmt.Fprintln(os.Stderr, "growthtrain:", err)
		return cli.Exit("", 130)
	}
	return err
}
