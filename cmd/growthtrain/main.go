// Command growthtrain measures how unequal the layers of a transformer are and trains with a
// per-layer compute budget that follows those measurements. See README.md and docs/.
package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/growthtrain/growthtrain/cmd/internal/runtimeenv"
	"github.com/urfave/cli/v2"
)

// version is the growthtrain release; the libtorch and ABI versions are reported beside it.
const version = "0.1.0-dev"

func main() {
	// All tensor work runs on this goroutine. libtorch's OpenMP keeps one worker team per calling
	// OS thread; if the goroutine hopped between threads, several teams would spin and compete
	// for the cores (measured: CPU eval at 0.67x of transformers unpinned, parity pinned).
	runtime.LockOSThread()
	// The runtime the library gives tensor work (caching CPU allocator, fused CPU kernels,
	// pacing): all on, unless GROWTHTORCH_* variables say otherwise (docs/cli.md).
	if err := runtimeenv.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "growthtrain:", err)
		os.Exit(1)
	}
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "growthtrain:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:      "growthtrain",
		Usage:     "layer anatomy and per-layer-budget training for transformer language models",
		Version:   version,
		UsageText: "growthtrain -c budget.toml [--uniform | --compare] [--resume]\n   growthtrain COMMAND [options]",
		Flags:     trainFlags(),
		Action: func(c *cli.Context) error {
			if c.String("config") == "" {
				return cli.ShowAppHelp(c)
			}
			return trainAction(c)
		},
		Commands: []*cli.Command{
			trainCommand(),
			versionCommand(),
			selftestCommand(),
			evalCommand(),
			generateCommand(),
			fetchCommand(),
			analyzeCommand(),
			budgetCommand(),
			reproduceCommand(),
			tokenizerCommand(),
		},
		// Errors are printed once, plainly; no Go stack trace ever reaches a user.
		ExitErrHandler: func(c *cli.Context, err error) {
			if ec, ok := err.(cli.ExitCoder); ok && ec.ExitCode() != 1 {
				os.Exit(ec.ExitCode()) // Ctrl-C: 130 after the checkpoint
			}
		},
	}
}
