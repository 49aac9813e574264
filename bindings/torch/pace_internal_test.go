package torch

import (
	"runtime"
	"testing"
)

func TestPaceYieldsOncePerInterval(t *testing.T) {
	now, yields := int64(0), 0
	clock, yield = func() int64 { return now }, func() { yields++ }
	defer func() { clock, yield = nanotime, runtime.Gosched }()
	lastYield.Store(0)
	steps := []struct {
		at   int64
		want int
	}{
		{1, 0},                   // just after the last yield
		{paceInterval - 1, 0},    // not yet
		{paceInterval, 1},        // the interval has passed: yield
		{paceInterval + 10, 1},   // and the clock restarts there
		{2*paceInterval - 1, 1},  //
		{2 * paceInterval, 2},    //
		{10 * paceInterval, 3},   // a long operation: one yield, not one per interval missed
		{10*paceInterval + 1, 3}, //
	}
	for _, s := range steps {
		now = s.at
		for i := 0; i < paceEvery; i++ { // the clock is read once per paceEvery operations
			pace()
		}
		if yields != s.want {
			t.Fatalf("at %d ns: %d yields, want %d", s.at, yields, s.want)
		}
	}
}
