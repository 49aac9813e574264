package torch

import (
	"sync/atomic"
	"time"
)

// Hooks into the package for its external tests (compiled into the test binary only).

// CountPaceHints makes pacing hints count instead of yielding until restore is called; count
// returns how many arrived so far, from any goroutine.
func CountPaceHints() (count func() int, restore func()) {
	var n atomic.Int64
	prev := yield
	yield = func() { n.Add(1) }
	return func() int { return int(n.Load()) }, func() { yield = prev }
}

// SetPaceInterval sets the pacing interval (0: off), starting every thread's interval afresh,
// until restore puts the previous one back.
func SetPaceInterval(d time.Duration) (restore func()) {
	prev := currentPaceInterval()
	setPaceInterval(d)
	return func() { setPaceInterval(prev) }
}

// RestartPacing starts every thread's pacing interval afresh (keeping the interval).
func RestartPacing() { setPaceInterval(currentPaceInterval()) }

// PaceInterval is the interval Runtime.Pace sets.
const PaceInterval = paceInterval
