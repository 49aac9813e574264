// Package inputtest holds test helpers for hostile inputs: a bound on the memory a test may
// use, a time bound, and named pipes standing in for files. A test that "memory does not grow
// without bound" or "nothing blocks" then fails cleanly instead of exhausting the machine or
// hanging when the property breaks.
package inputtest

import (
	"fmt"
	"os"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

const heapMetric = "/memory/classes/heap/objects:bytes"

// Guard watches the live heap until the returned stop is called (or the test ends). If it
// exceeds limit bytes, Guard prints the test's name and exits the test binary with status 1: a
// runaway allocation cannot be interrupted from another goroutine, and letting it finish could
// take the machine down. stop returns the largest live heap seen.
func Guard(t testing.TB, limit uint64) (stop func() (peak uint64)) {
	t.Helper()
	done := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	peak := Heap()
	go func() {
		sample := []metrics.Sample{{Name: heapMetric}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			h := sample[0].Value.Uint64()
			mu.Lock()
			peak = max(peak, h)
			mu.Unlock()
			if h > limit {
				fmt.Fprintf(os.Stderr, "--- FAIL: %s: live heap %d bytes exceeds the test's %d-byte bound\n", t.Name(), h, limit)
				os.Exit(1)
			}
		}
	}()
	stop = func() uint64 {
		once.Do(func() { close(done) })
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
	t.Cleanup(func() { stop() })
	return stop
}

// Heap returns the live heap now, in bytes.
func Heap() uint64 {
	sample := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// Within runs f and fails the test if it has not returned after d. A blocked f is left behind
// (nothing can interrupt it); FIFO's cleanup unblocks one stuck opening a pipe.
func Within(t testing.TB, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v (blocked?)", what, d)
	}
}
