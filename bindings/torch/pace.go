package torch

import (
	"os"
	"runtime"
	"sync/atomic"
	_ "unsafe" // for go:linkname
)

// Pacing: why every operation may yield the processor.
//
// A forward pass driven from Go is a long run of short cgo calls from one goroutine, usually
// locked to its OS thread (libtorch's OpenMP pool belongs to the calling thread). To the Go
// scheduler that goroutine never reschedules, so every 10 ms its monitor thread (sysmon) marks
// it for preemption, takes its P while it is inside a call, and drops back to polling every
// 20 µs. On a machine whose cores are all busy in libtorch's threads, each of those wake-ups
// preempts a compute thread, and the preempted locked goroutine is handed from thread to thread.
// Measured on SmolLM2-135M evaluation (2 cores): about 3,000 context switches per 512-token
// window and a 5-7% slower forward pass. Yielding on our own every few milliseconds resets the
// scheduler's clock first: one cheap reschedule instead of dozens of wake-ups (4x fewer
// switches, forward 5-7% faster in the same measurement).

//go:linkname nanotime runtime.nanotime
func nanotime() int64

// paceInterval is the longest a goroutine keeps issuing tensor operations without yielding;
// sysmon preempts after 10 ms. The clock (20 ns here) is read on every paceEvery-th operation
// only, so a run of tiny operations pays a few nanoseconds each.
const (
	paceInterval = 4_000_000 // ns
	paceEvery    = 4
)

var (
	pacing    = os.Getenv("GROWTHTORCH_PACE") != "0" // GROWTHTORCH_PACE=0 turns pacing off
	paceOps   atomic.Uint32
	lastYield atomic.Int64
	clock     = nanotime
	yield     = runtime.Gosched
)

// pace yields the processor if paceInterval has passed since the last yield. It is called after
// every operation that returns a tensor.
func pace() {
	if !pacing || paceOps.Add(1)%paceEvery != 0 {
		return
	}
	now := clock()
	if last := lastYield.Load(); now-last >= paceInterval && lastYield.CompareAndSwap(last, now) {
		yield()
	}
}
