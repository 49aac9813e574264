package torch

/*
#include "growthtorch.h"
*/
import "C"

import "runtime"

// AdamWConfig holds AdamW's hyper-parameters (Loshchilov & Hutter's decoupled weight decay).
type AdamWConfig struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
}

// AdamWStep applies one AdamW update to every parameter that has a gradient, using libtorch's
// fused multi-tensor kernel (one call for the whole list, grouped by device and dtype, as
// torch.optim.AdamW(fused=True) does). expAvg, expAvgSq and steps are the per-parameter state:
// zeros like the parameter, and a float32 zero-dimensional tensor on its device for the step
// count, which the call increments. Parameters without a gradient (frozen) are skipped and
// their state is left untouched.
func AdamWStep(params, expAvg, expAvgSq, steps []*Tensor, cfg AdamWConfig) {
	n := len(params)
	if len(expAvg) != n || len(expAvgSq) != n || len(steps) != n {
		fail("AdamWStep", "state lists must match the %d parameters (got %d, %d, %d)", n, len(expAvg), len(expAvgSq), len(steps))
	}
	if n == 0 {
		return
	}
	p, m, v, s := handles("AdamWStep", params), handles("AdamWStep", expAvg), handles("AdamWStep", expAvgSq), handles("AdamWStep", steps)
	err := C.gt_adamw(&p[0], &m[0], &v[0], &s[0], C.int64_t(n), C.double(cfg.LR), C.double(cfg.Beta1), C.double(cfg.Beta2), C.double(cfg.Eps), C.double(cfg.WeightDecay))
	runtime.KeepAlive(params)
	runtime.KeepAlive(expAvg)
	runtime.KeepAlive(expAvgSq)
	runtime.KeepAlive(steps)
	check(err, "AdamWStep")
}

// ClipGradNorm scales the gradients of params so their joint 2-norm is at most maxNorm (no
// clipping when maxNorm <= 0) and returns the norm before clipping (0 when no parameter has a
// gradient), as torch.nn.utils.clip_grad_norm_ does. Returning a float64 waits for the device;
// ClipGradNormTensor does not.
func ClipGradNorm(params []*Tensor, maxNorm float64) float64 {
	hs := handles("ClipGradNorm", params)
	var norm C.double
	err := C.gt_clip_grad_norm(handlesArg(hs), C.int64_t(len(hs)), C.double(maxNorm), &norm)
	runtime.KeepAlive(params)
	check(err, "ClipGradNorm")
	return float64(norm)
}

// ClipGradNormTensor is ClipGradNorm, bit for bit, with the norm left on the device: a 0-d
// tensor on the gradients' device (float32, or float64 when any gradient is float64; a float32
// CPU zero when no parameter has a gradient). On a GPU the clipping is then queued without a
// host synchronisation; read the norm (Item) when it is needed, e.g. when logging.
func ClipGradNormTensor(params []*Tensor, maxNorm float64) *Tensor {
	hs := handles("ClipGradNormTensor", params)
	var out C.gt_tensor
	err := C.gt_clip_grad_norm_tensor(handlesArg(hs), C.int64_t(len(hs)), C.double(maxNorm), &out)
	runtime.KeepAlive(params)
	return result(err, "ClipGradNormTensor", out)
}

// ScaleGrads multiplies the gradients of params (those that have one) by factor in place, in
// one foreach kernel per device and dtype instead of one per parameter (loss scaling divides
// them by the scale so).
func ScaleGrads(params []*Tensor, factor float64) {
	hs := handles("ScaleGrads", params)
	err := C.gt_grads_mul(handlesArg(hs), C.int64_t(len(hs)), C.double(factor))
	runtime.KeepAlive(params)
	check(err, "ScaleGrads")
}
