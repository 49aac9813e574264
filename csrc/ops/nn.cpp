// ops/nn.cpp - neural-network functions: softmax, embedding, the loss, attention, RMSNorm,
// SwiGLU and rotary embeddings.
//
// RMSNorm, rotary embeddings and the loss first offer the call to the CPU backend's fused
// kernels (kernels/cpu/fused.h), which take it for float32 CPU tensors that record no
// gradient; everything else runs the composite ATen formula below. A CUDA backend would be
// asked the same way (csrc/README.md).

#include "internal.h"

#include <c10/core/GradMode.h>

#include <ATen/ops/rms_norm.h>
#include "kernels/cpu/fused.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/embedding.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/rsqrt.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/softmax.h>
#include <c10/util/StringUtil.h>

#include <optional>
#include <string>

using gt::get;
using gt::guard;
using gt::wrap;

namespace {

// at::rms_norm over the last dimension.
at::Tensor native_rms_norm(const at::Tensor &a, const at::Tensor &w, double eps) {
  std::optional<at::Tensor> weight;
  if (w.defined()) weight = w;
  return at::rms_norm(a, {a.size(-1)}, weight, eps);
}

}  // namespace

extern "C" {

gt_error gt_softmax(gt_tensor a, int64_t dim, int log, gt_tensor *out) {
  return guard([&] {
    const auto &x = get(a, log ? "log_softmax" : "softmax");
    *out = wrap(log ? at::log_softmax(x, dim) : at::softmax(x, dim));
  });
}

gt_error gt_embedding(gt_tensor weight, gt_tensor ids, gt_tensor *out) {
  return guard([&] {
    *out = wrap(at::embedding(get(weight, "embedding weight"), get(ids, "embedding ids")));
  });
}

gt_error gt_cross_entropy(gt_tensor logits, gt_tensor target, int64_t ignore_index,
                          int reduction, double label_smoothing, gt_tensor *out) {
  return guard([&] {
    if (reduction < GT_REDUCTION_NONE || reduction > GT_REDUCTION_SUM) {
      throw gt::ArgumentError("cross entropy: unknown reduction code");
    }
    const auto &x = get(logits, "cross entropy logits");
    const auto &t = get(target, "cross entropy target");
    at::Tensor y;
    if (gt::cpu::try_cross_entropy(x, t, ignore_index, reduction, label_smoothing, &y)) {
      *out = wrap(std::move(y));
      return;
    }
    // Our reduction codes are chosen to equal at::Reduction's.
    *out = wrap(at::cross_entropy_loss(x, t, std::nullopt, reduction, ignore_index,
                                       label_smoothing));
  });
}

gt_error gt_sdpa(gt_tensor q, gt_tensor k, gt_tensor v, gt_tensor mask, double dropout,
                 int causal, double scale, int enable_gqa, gt_tensor *out) {
  return guard([&] {
    std::optional<at::Tensor> m;
    if (mask != 0) m = get(mask, "attention mask");
    std::optional<double> sc;
    if (scale >= 0) sc = scale;
    *out = wrap(at::scaled_dot_product_attention(get(q, "attention query"),
                                                 get(k, "attention key"), get(v, "attention value"),
                                                 m, dropout, causal != 0, sc, enable_gqa != 0));
  });
}

gt_error gt_rms_norm_native(gt_tensor x, gt_tensor weight, double eps, gt_tensor *out) {
  return guard([&] {
    const auto &a = get(x, "rms_norm");
    if (a.dim() == 0) throw gt::ArgumentError("rms_norm: input must have at least one dimension");
    at::Tensor w;
    if (weight != 0) w = get(weight, "rms_norm weight");
    *out = wrap(native_rms_norm(a, w, eps));
  });
}

gt_error gt_rms_norm(gt_tensor x, gt_tensor weight, double eps, gt_tensor *out) {
  return guard([&] {
    const auto &a = get(x, "rms_norm");
    if (a.dim() == 0) throw gt::ArgumentError("rms_norm: input must have at least one dimension");
    at::Tensor w;
    if (weight != 0) w = get(weight, "rms_norm weight");
    at::Tensor y;
    if (gt::cpu::try_rms_norm(a, w, eps, &y)) {
      *out = wrap(std::move(y));
      return;
    }
    if (a.is_cuda()) {
      // libtorch's fused kernel, forward and backward: ~3 kernels instead of ~8 forward and ~20
      // backward for the composite formula.
      *out = wrap(native_rms_norm(a, w, eps));
      return;
    }
    // HF's LlamaRMSNorm, op for op (x * rsqrt(mean(x^2) + eps), then the weight): the same
    // numerics as the reference, and on CPU faster than at::rms_norm in a model's forward.
    y = a * at::rsqrt(a.pow(2).mean(-1, /*keepdim=*/true) + eps);
    if (w.defined()) y = w * y;
    *out = wrap(std::move(y));
  });
}

gt_error gt_swiglu(gt_tensor gate, gt_tensor up, gt_tensor *out) {
  return guard([&] {
    const auto &g = get(gate, "swiglu gate");
    const auto &u = get(up, "swiglu up");
    if (at::GradMode::is_enabled() && (g.requires_grad() || u.requires_grad())) {
      *out = wrap(gt::swiglu_autograd(g, u));  // keeps gate and up only for backward
      return;
    }
    // One call for the pair; on CPU ATen's two vectorised passes were as fast as a fused one.
    *out = wrap(at::silu(g) * u);
  });
}

gt_error gt_rope(gt_tensor x, gt_tensor cos, gt_tensor sin, gt_tensor *out) {
  return guard([&] {
    const auto &a = get(x, "rope input");
    const auto &c = get(cos, "rope cos");
    const auto &s = get(sin, "rope sin");
    if (a.dim() < 2 || a.size(-1) % 2 != 0) {
      throw gt::ArgumentError("rope: input must be [..., T, D] with D even, got shape " +
                              c10::str(a.sizes()));
    }
    at::Tensor y;
    if (gt::cpu::try_rope(a, c, s, &y)) {
      *out = wrap(std::move(y));
      return;
    }
    // The autograd function differentiates x only (the tables are constants).
    if (at::GradMode::is_enabled() && a.requires_grad() && !c.requires_grad() && !s.requires_grad()) {
      *out = wrap(gt::rope_autograd(a, c, s));
      return;
    }
    *out = wrap(gt::rope_composite(a, c, s));
  });
}

}  // extern "C"

namespace gt {

at::Tensor rope_composite(const at::Tensor &a, const at::Tensor &c, const at::Tensor &s) {
  // HF's formula: x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x[..., d/2:], x[..., :d/2]).
  const int64_t d = a.size(-1);
  auto rot = at::cat({a.slice(-1, d / 2, d).neg(), a.slice(-1, 0, d / 2)}, -1);
  return a * c + rot * s;
}

}  // namespace gt

extern "C" {

}  // extern "C"
