package torch

/*
#include "growthtorch.h"
*/
import "C"

import (
	"runtime"
	"time"
	"unsafe"
)

// Runtime is what the library may change in the process beyond tensors. A program chooses it
// once, with Init; until then, and in a program that never calls Init, libtorch's defaults hold:
// its own CPU allocator, the composite ATen formulas, no pacing. The zero Runtime is those
// defaults. Nothing in this package reads the environment; growthtrain's commands build their
// Runtime from GROWTHTORCH_* variables (cmd/internal/runtimeenv) and turn everything on.
type Runtime struct {
	// Pace lets every goroutine that drives tensor work yield the processor (runtime.Gosched)
	// about every 4 ms of operations, each OS thread on its own interval (see "Pacing" below).
	Pace bool

	// FusedKernels runs RMSNorm, Rotary and CrossEntropy (sum or mean, no label smoothing)
	// through libgrowthtorch's fused one-pass CPU kernels for float32 tensors that need no
	// gradient, instead of the composite ATen formulas (see SetFusedKernels).
	FusedKernels bool

	// CPUCache installs a caching allocator as libtorch's CPU allocator: freed blocks of 64 KiB
	// and more stay in per-size bins, up to CPUCacheLimit idle bytes, and serve the next request
	// of their size (see CPUCacheStats). Tensors that exist already keep the allocator that made
	// them.
	CPUCache bool

	// CPUCacheLimit is the most idle bytes the cache keeps; 0 means DefaultCPUCacheLimit(). It
	// needs CPUCache. SetCPUCacheLimit changes it later.
	CPUCacheLimit int64
}

// paceInterval is the pacing interval: the Go scheduler's monitor starts preempting a goroutine
// that has not rescheduled for 10 ms.
const paceInterval = 4 * time.Millisecond

// Init applies rt to the process. It succeeds once: a second call returns an error
// (errors.Is(err, ErrArgument)) and changes nothing, whatever its options, as do a negative
// CPUCacheLimit and a CPUCacheLimit without CPUCache. Call it at the start of main, before
// tensor work; calling it later is safe (tensors made before keep working and are freed by the
// allocator that made them). SetFusedKernels, SetCPUCacheLimit and EmptyCPUCache adjust the
// settings afterwards.
func Init(rt Runtime) error {
	o := C.gt_runtime_options{size: C.int64_t(unsafe.Sizeof(C.gt_runtime_options{}))}
	if rt.FusedKernels {
		o.fused_kernels = 1
	}
	if rt.CPUCache {
		o.cpu_cache = 1
	}
	o.cpu_cache_limit = C.int64_t(rt.CPUCacheLimit)
	if rt.Pace {
		o.pace_interval_ns = C.int64_t(paceInterval)
	}
	return errorOf(C.gt_runtime_init(&o), "Init")
}

// CurrentRuntime returns the settings in force: those Init chose, as changed since by
// SetFusedKernels and SetCPUCacheLimit (CPUCache is true while the cache serves CPU tensors,
// CPUCacheLimit is its current limit). Before Init it is the zero Runtime.
func CurrentRuntime() Runtime {
	rt, _ := current()
	return rt
}

// Initialized reports whether Init has succeeded in this process.
func Initialized() bool {
	_, ok := current()
	return ok
}

func current() (Runtime, bool) {
	o := C.gt_runtime_options{size: C.int64_t(unsafe.Sizeof(C.gt_runtime_options{}))}
	var initialized C.int
	check(C.gt_runtime_current(&o, &initialized), "CurrentRuntime")
	return Runtime{
		Pace:          o.pace_interval_ns > 0,
		FusedKernels:  o.fused_kernels != 0,
		CPUCache:      o.cpu_cache != 0,
		CPUCacheLimit: int64(o.cpu_cache_limit),
	}, initialized != 0
}

// DefaultCPUCacheLimit is the limit of idle bytes the CPU cache keeps unless told otherwise: an
// eighth of physical memory, at most 2 GiB.
func DefaultCPUCacheLimit() int64 { return int64(C.gt_cpu_cache_default_limit()) }

// Pacing: why tensor operations may yield the processor.
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
//
// The clock lives in the C library, per OS thread: with Runtime.Pace, every 4th tensor handle
// returned to a thread reads a monotonic clock (std::chrono::steady_clock), and a handle carries
// the GT_HANDLE_YIELD flag when that thread's last hint is 4 ms old. wrapHandle yields on the
// flag. So each thread that drives tensor work gets its own interval (one goroutine's yield does
// not reset another's), at no cgo call beyond the operation itself: a counter per handle, a
// clock read (~20 ns) per 4 handles. Goroutines that do tensor work unpinned share the interval
// of whatever thread they run on; pin them (runtime.LockOSThread, which Scope and NoGrad do) and
// each has its own. Operations that return no tensor (in-place updates, Item) do not count.

// yield is what a pacing hint runs; tests replace it to count hints.
var yield = runtime.Gosched

// setPaceInterval changes the pacing interval (0: off), starting every thread's interval
// afresh; Init sets paceInterval. Tests use other intervals.
func setPaceInterval(d time.Duration) { C.gt_set_pace(C.int64_t(d)) }

// currentPaceInterval is the pacing interval in force (0: off).
func currentPaceInterval() time.Duration { return time.Duration(C.gt_pace()) }
