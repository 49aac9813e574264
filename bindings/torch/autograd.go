package torch

/*
#include "growthtorch.h"
*/
import "C"

import "runtime"

// SetRequiresGrad turns gradient recording on or off for a leaf tensor and returns t.
func (t *Tensor) SetRequiresGrad(on bool) *Tensor {
	err := C.gt_set_requires_grad(t.c("SetRequiresGrad"), cbool(on))
	runtime.KeepAlive(t)
	check(err, "SetRequiresGrad")
	return t
}

// RequiresGrad reports whether gradients flow to or through t.
func (t *Tensor) RequiresGrad() bool {
	var v C.int
	err := C.gt_requires_grad(t.c("RequiresGrad"), &v)
	runtime.KeepAlive(t)
	check(err, "RequiresGrad")
	return v != 0
}

// IsLeaf reports whether t was created by the user rather than by a recorded operation.
func (t *Tensor) IsLeaf() bool {
	var v C.int
	err := C.gt_is_leaf(t.c("IsLeaf"), &v)
	runtime.KeepAlive(t)
	check(err, "IsLeaf")
	return v != 0
}

// Backward accumulates d(t)/d(leaf) into the .Grad of every leaf that requires grad; t must be
// a scalar. The graph is freed afterwards.
func (t *Tensor) Backward() { t.BackwardWith(nil, false) }

// BackwardWith back-propagates the gradient grad (same shape as t; nil for a scalar t), keeping
// the graph for another pass when retainGraph is set.
func (t *Tensor) BackwardWith(grad *Tensor, retainGraph bool) {
	var gh C.gt_tensor // 0: implicit gradient of a scalar
	if grad != nil {
		gh = grad.c("Backward")
	}
	err := C.gt_backward(t.c("Backward"), gh, cbool(retainGraph))
	runtime.KeepAlive(t)
	runtime.KeepAlive(grad)
	check(err, "Backward")
}

// Grad returns a new handle to t's accumulated gradient, or nil when it has none.
func (t *Tensor) Grad() *Tensor {
	var out C.gt_tensor
	err := C.gt_grad(t.c("Grad"), &out)
	runtime.KeepAlive(t)
	return result(err, "Grad", out)
}

// ZeroGrad sets t's gradient to zeros in place (if it has one).
func (t *Tensor) ZeroGrad() {
	err := C.gt_grad_zero(t.c("ZeroGrad"))
	runtime.KeepAlive(t)
	check(err, "ZeroGrad")
}

// SetGradNone drops t's gradient, freeing its memory (the cheaper way to reset between steps).
func (t *Tensor) SetGradNone() {
	err := C.gt_grad_set_none(t.c("SetGradNone"))
	runtime.KeepAlive(t)
	check(err, "SetGradNone")
}

// NoGrad runs f with gradient recording off. The goroutine is pinned to its OS thread meanwhile
// (grad mode is per thread in libtorch), so operations f starts on other goroutines still
// record gradients. The previous mode is restored even if f panics.
func NoGrad(f func()) {
	runtime.LockOSThread()
	prev := C.gt_set_grad_enabled(0)
	defer func() {
		C.gt_set_grad_enabled(prev)
		runtime.UnlockOSThread()
	}()
	f()
}

// GradEnabled reports whether gradient recording is on for the calling goroutine's thread. It is
// meaningful inside NoGrad or a pinned goroutine.
func GradEnabled() bool { return C.gt_is_grad_enabled() != 0 }

// Autocast runs f with lower-precision compute on the calling goroutine's thread for device
// type dev (CPU or CUDA; the index is ignored): libtorch's matrix products and attention compute
// in dtype (BFloat16 or Float16), the way torch.autocast does, while float32 parameters and the
// gradients they receive stay float32. It pins the goroutine while f runs; regions nest. The
// backward pass needs no region of its own: it runs in the dtypes the forward pass chose. Do not
// nest regions of different dtypes: libtorch caches each weight's cast once per outermost region.
func Autocast(dev Device, dtype DType, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	check(C.gt_autocast_enter(C.int(dev.Type), C.int(dtype)), "Autocast")
	defer func() { check(C.gt_autocast_exit(C.int(dev.Type)), "Autocast") }()
	f()
}

// AutocastDType reports the compute dtype of the autocast region open on the calling
// goroutine's thread for dev's type, and false when there is none.
func AutocastDType(dev Device) (DType, bool) {
	var on, dt C.int
	check(C.gt_autocast_state(C.int(dev.Type), &on, &dt), "AutocastDType")
	return DType(dt), on != 0
}
