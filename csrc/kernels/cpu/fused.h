// kernels/cpu/fused.h - the CPU backend: fused one-pass kernels (cpu_kernels.h) offered to the
// operations of ops/nn.cpp on ATen tensors.
//
// Each try_* function returns true and sets *out when its kernel applies to these tensors
// (float32 on the CPU, no gradient recorded for them, the fused kernels enabled, a vector path
// on this CPU), and false when the caller must run the composite ATen formula, which is also
// the reference the tests compare with. The kernels have no backward, hence the gradient rule.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace gt::cpu {

bool try_rms_norm(const at::Tensor &x, const at::Tensor &weight, double eps, at::Tensor *out);
bool try_rope(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin, at::Tensor *out);
// reduction is GT_REDUCTION_*; an out-of-range target returns false (ATen reports it).
bool try_cross_entropy(const at::Tensor &logits, const at::Tensor &target, int64_t ignore_index,
                       int reduction, double label_smoothing, at::Tensor *out);

}  // namespace gt::cpu
