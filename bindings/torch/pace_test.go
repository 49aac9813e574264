package torch_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// osThread is a goroutine locked to its OS thread (for good: the thread ends with it) that runs
// what it is given, one function at a time. Pacing state is per OS thread.
type osThread struct {
	work chan func()
	errs chan error
}

func newOSThread(t *testing.T) *osThread {
	th := &osThread{work: make(chan func()), errs: make(chan error)}
	go func() {
		runtime.LockOSThread()
		for f := range th.work {
			th.errs <- torch.Try(f)
		}
	}()
	t.Cleanup(func() { close(th.work) })
	return th
}

func (th *osThread) run(t *testing.T, f func()) {
	t.Helper()
	th.work <- f
	if err := <-th.errs; err != nil {
		t.Fatal(err)
	}
}

// tensorOp returns one tensor handle, the unit pacing counts.
func tensorOp() { torch.Zeros([]int64{1}).Close() }

// Each OS thread has its own pacing interval: a hint on one thread does not reset another's, so
// two goroutines driving tensor work both yield. The interval is long enough that only the
// first clock read of each thread (on its 4th handle) can hint.
func TestPaceHintsPerThread(t *testing.T) {
	count, restore := torch.CountPaceHints()
	defer restore()
	defer torch.SetPaceInterval(time.Hour)()
	a, b := newOSThread(t), newOSThread(t)
	hints := func(th *osThread, ops int) int {
		before := count()
		th.run(t, func() {
			for i := 0; i < ops; i++ {
				tensorOp()
			}
		})
		return count() - before
	}
	steps := []struct {
		what string
		th   *osThread
		ops  int
		want int
	}{
		{"a: 3 handles, no clock read yet", a, 3, 0},
		{"a: the 4th reads the clock and hints (new interval)", a, 1, 1},
		{"a: more in the same interval", a, 40, 0},
		{"b: its own interval, though a just had a hint", b, 4, 1},
		{"b: more in its interval", b, 40, 0},
		{"a: still inside its interval", a, 40, 0},
	}
	for _, s := range steps {
		if got := hints(s.th, s.ops); got != s.want {
			t.Fatalf("%s: %d hints after %d operations, want %d", s.what, got, s.ops, s.want)
		}
	}
}

// On the real clock: one hint per interval while operations run, never two within one interval,
// and after a long pause one hint, not one per interval missed.
func TestPaceYieldsOncePerInterval(t *testing.T) {
	const interval = 20 * time.Millisecond
	count, restore := torch.CountPaceHints()
	defer restore()
	defer torch.SetPaceInterval(interval)()
	type op struct {
		before, after time.Time // the C clock was read, if at all, between these
		hint          bool
	}
	var ops []op
	issue := func(n int) (hints int) {
		for i := 0; i < n; i++ {
			b, c := time.Now(), count()
			tensorOp()
			o := op{b, time.Now(), count() > c}
			ops = append(ops, o)
			if o.hint {
				hints++
			}
		}
		return hints
	}
	total := 0
	var first, afterPause int
	newOSThread(t).run(t, func() {
		first = issue(4) // a fresh interval: the first clock read hints
		total = first
		start := time.Now()
		for total < 5 && time.Since(start) < 20*time.Second {
			total += issue(4)
		}
		time.Sleep(5 * interval)
		afterPause = issue(4)
	})
	if first != 1 {
		t.Errorf("%d hints in the first 4 operations of an interval, want 1", first)
	}
	if total < 5 {
		t.Errorf("only %d hints in %v of operations with a %v interval", total, ops[len(ops)-5].after.Sub(ops[0].before), interval)
	}
	if afterPause != 1 {
		t.Errorf("%d hints in the 4 operations after a pause of 5 intervals, want 1", afterPause)
	}
	last := -1
	for i, o := range ops {
		if !o.hint {
			continue
		}
		if last >= 0 && o.after.Sub(ops[last].before) < interval {
			t.Errorf("hints on operations %d and %d, %v apart: less than the %v interval", last, i, o.after.Sub(ops[last].before), interval)
		}
		last = i
	}
}

func TestPaceOff(t *testing.T) {
	count, restore := torch.CountPaceHints()
	defer restore()
	defer torch.SetPaceInterval(0)()
	newOSThread(t).run(t, func() {
		for i := 0; i < 100; i++ {
			tensorOp()
		}
	})
	if n := count(); n != 0 {
		t.Fatalf("%d pacing hints with pacing off", n)
	}
}
