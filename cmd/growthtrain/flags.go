package main

import (
	"fmt"
	"math"

	"github.com/urfave/cli/v2"
)

// Numeric flags check their value when given: out of range, NaN or infinite is a usage error
// naming the flag and its range, before the command does any work.

// Limits of flags that size work or memory without another bound.
const (
	maxSeqLen     = 1 << 20
	maxBatch      = 1 << 16
	maxTokens     = 1 << 40
	maxBootstrap  = 1_000_000
	maxRecovSteps = 1_000_000
	maxNewTokens  = 1 << 20
)

// intIn makes f accept only lo <= value <= hi; what is a note on the range (e.g. "0: all").
func intIn(f *cli.IntFlag, lo, hi int, what string) *cli.IntFlag {
	f.Action = func(c *cli.Context, v int) error {
		if v < lo || v > hi {
			return usageError(c, fmt.Errorf("--%s %d: want an integer from %d to %d%s", f.Name, v, lo, hi, note(what)))
		}
		return nil
	}
	return f
}

// floatIn makes f accept only finite values in [lo, hi], or (lo, hi] when loOpen (hi may be
// +Inf: no upper bound).
func floatIn(f *cli.Float64Flag, lo, hi float64, loOpen bool, what string) *cli.Float64Flag {
	f.Action = func(c *cli.Context, v float64) (err error) {
		defer func() {
			if err != nil {
				err = usageError(c, err)
			}
		}()
		ok := !math.IsNaN(v) && !math.IsInf(v, 0) && v <= hi && (v > lo || !loOpen && v == lo)
		switch {
		case ok:
		case math.IsInf(hi, 1) && loOpen:
			return fmt.Errorf("--%s %v: want a finite number > %g%s", f.Name, v, lo, note(what))
		case math.IsInf(hi, 1):
			return fmt.Errorf("--%s %v: want a finite number >= %g%s", f.Name, v, lo, note(what))
		case loOpen:
			return fmt.Errorf("--%s %v: want a finite number in (%g, %g]%s", f.Name, v, lo, hi, note(what))
		default:
			return fmt.Errorf("--%s %v: want a finite number in [%g, %g]%s", f.Name, v, lo, hi, note(what))
		}
		return nil
	}
	return f
}

func note(what string) string {
	if what == "" {
		return ""
	}
	return " (" + what + ")"
}
