package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Usage errors follow the Unix conventions (docs/cli.md): a mistyped command, an unknown flag, a
// flag after a positional argument, a missing required flag or a value out of range exits with
// status 2 and prints the error and the command's usage line on stderr; stdout stays for
// results. A command's own failures (a missing file, a bad model) exit with 1.

// exitUsage is the exit status of a usage error.
const exitUsage = 2

// usageErr is a usage error of a command (nil: the top level).
type usageErr struct {
	err error
	cmd *cli.Command
}

func (e usageErr) Error() string { return e.err.Error() }
func (e usageErr) Unwrap() error { return e.err }

// usageError marks err as a usage error of c's command.
func usageError(c *cli.Context, err error) error {
	var cmd *cli.Command
	if c != nil {
		cmd = c.Command
	}
	return usageErr{err: err, cmd: cmd}
}

// printUsage writes the usage lines of cmd (the app's when nil) and where to find more.
func printUsage(w io.Writer, app *cli.App, cmd *cli.Command) {
	text, name := app.UsageText, "growthtrain"
	if cmd != nil && cmd.Name != "" && cmd.Name != app.Name {
		text, name = cmd.UsageText, cmd.HelpName
		if name == "" {
			name = "growthtrain " + cmd.Name
		}
		if text == "" {
			text = name + " [options]"
		}
	}
	fmt.Fprintf(w, "usage: %s\nrun '%s --help' for the options\n", text, name)
}

// enforceConventions makes every command of app follow the usage conventions: flag parse errors
// and missing required flags become usage errors (urfave/cli would print the whole help on
// stdout); a command that takes no positional arguments (ArgsUsage empty) rejects any, and no
// command accepts a flag after a positional argument (urfave/cli stops parsing flags at the
// first positional and would hand the flag to the command as an argument).
func enforceConventions(app *cli.App) {
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error { return usageError(c, err) }
	for _, cmd := range app.Commands {
		enforceCommand(cmd)
	}
}

func enforceCommand(cmd *cli.Command) {
	cmd.OnUsageError = func(c *cli.Context, err error, _ bool) error { return usageError(c, err) }
	var required []cli.Flag
	for _, f := range cmd.Flags {
		if r, ok := f.(cli.RequiredFlag); ok && r.IsRequired() {
			required = append(required, f)
			setRequired(f, false)
		}
	}
	before, action := cmd.Before, cmd.Action
	// urfave/cli adds a help subcommand to every command when it runs; these are the command's own.
	subs := slices.Clone(cmd.Subcommands)
	cmd.Before = func(c *cli.Context) error {
		if len(subs) == 0 { // else the argument is the subcommand (or an unknown one: Action says so)
			if err := checkArgs(c, cmd); err != nil {
				return err
			}
		}
		var missing []string
		for _, f := range required {
			if names := f.Names(); !c.IsSet(names[0]) {
				missing = append(missing, flagName(names))
			}
		}
		if len(missing) > 0 {
			return usageError(c, fmt.Errorf("missing %s", strings.Join(missing, ", ")))
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
	if len(subs) > 0 {
		if action == nil {
			cmd.Action = func(c *cli.Context) error {
				var names []string
				for _, s := range subs {
					names = append(names, s.Name)
				}
				if c.NArg() == 0 {
					return usageError(c, fmt.Errorf("%s: missing command (%s)", cmd.Name, strings.Join(names, ", ")))
				}
				return usageError(c, fmt.Errorf("%s: unknown command %q (want %s)", cmd.Name, c.Args().First(), strings.Join(names, ", ")))
			}
		}
		for _, s := range subs {
			enforceCommand(s)
		}
	}
}

// checkArgs rejects positional arguments where cmd takes none and flags after a positional.
func checkArgs(c *cli.Context, cmd *cli.Command) error {
	args := c.Args().Slice()
	for _, a := range args {
		if len(a) > 1 && strings.HasPrefix(a, "-") {
			return usageError(c, fmt.Errorf("flag %s after the positional argument %q: flags go before positional arguments", a, args[0]))
		}
	}
	if cmd.ArgsUsage == "" && len(args) > 0 {
		return usageError(c, fmt.Errorf("unexpected argument %q (%s takes no positional arguments)", args[0], cmd.Name))
	}
	return nil
}

func flagName(names []string) string {
	s := "--" + names[0]
	for _, a := range names[1:] {
		if len(a) == 1 {
			s += " (-" + a + ")"
		}
	}
	return s
}

// setRequired clears or sets the Required field of the flag types growthtrain uses.
func setRequired(f cli.Flag, v bool) {
	switch f := f.(type) {
	case *cli.StringFlag:
		f.Required = v
	case *cli.IntFlag:
		f.Required = v
	case *cli.Float64Flag:
		f.Required = v
	case *cli.BoolFlag:
		f.Required = v
	case *cli.StringSliceFlag:
		f.Required = v
	case *cli.Uint64Flag:
		f.Required = v
	case *cli.DurationFlag:
		f.Required = v
	default:
		panic(fmt.Sprintf("setRequired: flag type %T", f))
	}
}

// exitStatus is the exit status for err (not nil): 2 for a usage error, the status an error
// carries (cli.Exit), else 1. For a usage error it also returns the command it belongs to.
func exitStatus(err error) (int, *cli.Command, bool) {
	var ue usageErr
	if errors.As(err, &ue) {
		return exitUsage, ue.cmd, true
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode(), nil, false
	}
	return 1, nil, false
}
