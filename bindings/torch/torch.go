// Package torch drives libtorch tensors from Go through growthtrain's C library (libgrowthtorch,
// built from csrc/). It covers what a LLaMA-family decoder and its training need: tensors of the
// common dtypes on the CPU and CUDA devices, the math, shape and neural-network operations,
// autograd, fused AdamW and gradient clipping, random generators with saveable state, and
// device queries.
//
// # Errors
//
// Operations panic with a *Error when libtorch rejects them (bad shapes, mixed dtypes, an index
// out of range, an absent CUDA device, out of memory), the way gonum's matrix code panics on
// mismatched dimensions: a tensor program is written without an error check after every
// operation. Code at an API boundary converts the panic into an error with
//
//	defer torch.Recover(&err)
//
// or runs a function with Try. A C++ exception never reaches Go: the process is not aborted.
//
// # Lifetime
//
// A Tensor holds memory the Go garbage collector cannot see (possibly gigabytes on a GPU), so
// free it deterministically: Close, or open a Scope that releases every tensor created inside it
// except those kept. A runtime cleanup frees a forgotten tensor eventually, as a safety net only.
// LiveTensors reports how many tensors still hold storage, so tests can prove a loop leaks nothing.
//
// # Threads
//
// libtorch keeps grad mode (and, on CUDA, the current stream) per OS thread. NoGrad and Scope
// pin the calling goroutine to its thread while they are active; operations issued from other
// goroutines are not affected by them. A Tensor must not be used by two goroutines at once.
package torch

/*
#cgo pkg-config: growthtorch
#include <stdlib.h>
#include "growthtorch.h"
*/
import "C"

import (
	"fmt"
	"os"
)

// ABIVersion is the version of the C interface (GT_ABI_VERSION in growthtorch.h) these bindings
// were written for. The library reports its own at start-up; a mismatch stops the program with
// an explanation (exit status 2) rather than letting it call functions whose meaning changed.
const ABIVersion = 8

func init() {
	if v := int(C.gt_abi_version()); v != ABIVersion {
		fmt.Fprintf(os.Stderr, "growthtrain: libgrowthtorch has C ABI version %d but these Go bindings "+
			"(github.com/growthtrain/growthtrain/bindings/torch) need version %d.\n"+
			"The libgrowthtorch loaded at run time does not come from the same growthtrain version as the "+
			"program. Build and install the library from that version (make lib, or make install PREFIX=...), "+
			"rebuild the program, and check that LD_LIBRARY_PATH does not point at another copy "+
			"(pkg-config --variable=abiversion growthtorch shows the version PKG_CONFIG_PATH finds).\n",
			v, ABIVersion)
		os.Exit(2)
	}
}

// LibraryABIVersion returns the ABI version of the loaded libgrowthtorch.
func LibraryABIVersion() int { return int(C.gt_abi_version()) }

// TorchVersion returns the version of libtorch the library was compiled against, e.g. "2.11.0".
func TorchVersion() string { return C.GoString(C.gt_torch_version()) }

// CUDACompiled reports whether the library was linked with libtorch's CUDA kernels. It says
// nothing about whether a GPU is present: see CUDAAvailable.
func CUDACompiled() bool { return C.gt_cuda_compiled() != 0 }

// LiveTensors returns the number of tensors whose storage is held through a handle: created and
// neither closed nor released by their scope. Tests use it to prove that a loop leaks nothing.
func LiveTensors() int64 { return int64(C.gt_live_tensors()) }

// SetNumThreads sets the number of threads libtorch uses for intra-op parallelism on the CPU.
func SetNumThreads(n int) { C.gt_set_num_threads(C.int(n)) }

// NumThreads returns the number of intra-op CPU threads.
func NumThreads() int { return int(C.gt_get_num_threads()) }

// ManualSeed seeds the default generators of the CPU and of every CUDA device.
func ManualSeed(seed uint64) { C.gt_manual_seed(C.uint64_t(seed)) }
