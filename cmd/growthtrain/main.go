// Command growthtrain measures how unequal the layers of a transformer are and trains with a
// per-layer compute budget that follows those measurements. See README.md and docs/.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/growthtrain/growthtrain/cmd/internal/runtimeenv"
	"github.com/urfave/cli/v2"
)

// argv is the command line without the program name, which --nproc gives its workers.
var argv []string

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
	os.Exit(runMain(os.Args))
}

// runMain runs the command line and returns the exit status: 0, 1 for an error (printed once,
// plainly, on stderr), 2 for a usage error (the error and the command's usage line on stderr:
// usage.go), or the status an error carries (cli.Exit: 130 after Ctrl-C, 143 after SIGTERM,
// once the checkpoint is saved).
func runMain(args []string) int {
	return runMainTo(os.Stderr, args)
}

func runMainTo(stderr io.Writer, args []string) int {
	argv = args[1:] // what --nproc's launcher passes on to its workers
	app := newApp()
	err := app.Run(args)
	if err == nil {
		return 0
	}
	code, cmd, usage := exitStatus(err)
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "growthtrain:", msg)
	}
	if usage {
		printUsage(stderr, app, cmd)
	}
	return code
}

func newApp() *cli.App {
	app := &cli.App{
		Name:      "growthtrain",
		Usage:     "layer anatomy and per-layer-budget training for transformer language models",
		Version:   version,
		UsageText: "growthtrain -c budget.toml [--uniform | --compare] [--resume]\n   growthtrain COMMAND [options]",
		Flags:     trainFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError(c, fmt.Errorf("unknown command %q", c.Args().First()))
			}
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
			sweepCommand(),
			tokenizerCommand(),
			pruneCommand(),
			exportCommand(),
		},
		// Errors are printed once, plainly, by runMain, which also picks the exit status; no Go
		// stack trace ever reaches a user. (The default handler would exit from inside Run.)
		ExitErrHandler: func(*cli.Context, error) {},
	}
	enforceConventions(app)
	return app
}
