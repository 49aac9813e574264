package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../csrc/bench -I${SRCDIR}/../../csrc
#cgo LDFLAGS: -L${SRCDIR}/../../build -lgrowthtorch_bench -Wl,-rpath,${SRCDIR}/../../build
#include "gtbench.h"
*/
import "C"

import "fmt"

// reference runs the C++ reference loop of csrc/bench/bench.cpp (kind 0: the forward chain of
// six small ops; kind 1: the two-layer MLP training step) iters times on size x size matrices
// and returns the elapsed seconds. It comes from libgrowthtorch_bench, which `make lib` builds
// beside libgrowthtorch and which is never installed: benchmarks are not part of the public C
// interface.
func reference(kind, iters, size int) (float64, error) {
	var sec C.double
	var msg [512]C.char
	if code := C.gtbench_reference(C.int(kind), C.int64_t(iters), C.int64_t(size), &sec, &msg[0], C.int64_t(len(msg))); code != 0 {
		return 0, fmt.Errorf("C++ reference (kind %d): %s (code %d)", kind, C.GoString(&msg[0]), int(code))
	}
	return float64(sec), nil
}
