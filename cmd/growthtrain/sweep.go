package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/growthtrain/growthtrain/sweep"
	"github.com/growthtrain/growthtrain/trainer"
	"github.com/urfave/cli/v2"
)

// sweep: loss-versus-compute curves of growth methods against the uniform baseline.
func sweepCommand() *cli.Command {
	return &cli.Command{
		Name:      "sweep",
		Usage:     "train growth methods and the uniform baseline at several compute levels and seeds: loss vs compute, and the compute each needs for a target loss",
		UsageText: "growthtrain sweep -c budget.toml [--methods LIST] [--levels LIST] [--seeds LIST] [--target LOSS] -o DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Required: true, Usage: "budget TOML the methods are built from (its model, data and optimizer; its phases are the budget method)"},
			&cli.StringFlag{Name: "methods", Value: strings.Join(sweep.DefaultMethods, ","), Usage: "methods, comma-separated, from " + strings.Join(trainer.Methods, ", ")},
			&cli.StringFlag{Name: "levels", Value: "0.25,0.5,0.75,1", Usage: "compute levels: fractions of the uniform run's estimated FLOPs at the budget's steps"},
			&cli.StringFlag{Name: "seeds", Value: "1,2,3", Usage: "run seeds (model init, data split and order)"},
			&cli.Float64Flag{Name: "target", Usage: "validation loss to read every curve's compute at; 0: the uniform baseline's at the highest level", DefaultText: "0"},
			&cli.BoolFlag{Name: "resume", Usage: "keep finished runs and resume interrupted ones"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "directory for the runs, sweep.json, sweep.csv, summary.md and the figures"},
		},
		Action: sweepAction,
	}
}

func sweepAction(c *cli.Context) error {
	var levels []float64
	for _, f := range strings.Split(c.String("levels"), ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v > 0) {
			return fmt.Errorf("--levels %q: want positive fractions like 0.25,0.5,1", c.String("levels"))
		}
		levels = append(levels, v)
	}
	var seeds []uint64
	for _, f := range strings.Split(c.String("seeds"), ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return fmt.Errorf("--seeds %q: want whole numbers like 1,2,3", c.String("seeds"))
		}
		seeds = append(seeds, v)
	}
	var methods []string
	for _, m := range strings.Split(c.String("methods"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			methods = append(methods, m)
		}
	}
	ctx, stop := notifyContext()
	defer stop()
	res, err := sweep.Run(sweep.Options{Budget: c.String("config"), Methods: methods, Levels: levels, Seeds: seeds,
		Target: c.Float64("target"), Output: c.String("output"), Resume: c.Bool("resume"), Log: os.Stderr,
		Train: trainer.Options{Context: ctx, AutoTokenizer: autoTokenizer()}})
	if err != nil {
		return interrupted(ctx, err, true) // sweep runs in one process
	}
	fmt.Print(res.Markdown())
	fmt.Fprintf(os.Stderr, "wrote %s (sweep.json, sweep.csv, summary.md, loss_vs_flops, loss_vs_wall)\n", c.String("output"))
	return nil
}
