// ops/fused_train.cpp - differentiable fused operations for training, written as libtorch
// autograd functions: the LM head with the next-token cross-entropy, over chunks of rows.
//
// The composite head (logits = x W^T, then cross-entropy) keeps the [N, V] logits, their
// log-softmax and, in backward, their gradient: for SmolLM2's vocabulary at 16 x 2048 tokens
// that is 6.4 GB of float32 per copy. Here each chunk's logits are made, turned into the chunk's
// loss and, with gradients recorded, straight into the gradient of the logits
// (softmax - onehot, scaled), which is folded into dL/dx and dL/dW at once, as llm.c does. Only
// a chunk of logits ever exists; backward multiplies the saved gradients by the incoming one.
// Its own translation unit: the autograd headers are heavy.

#include "internal.h"
#include "kernels/cpu/fused.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/add.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/neg.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/silu_backward.h>
#include <ATen/ops/copy.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/gather.h>
#include <ATen/ops/logsumexp.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mul.h>
#include <ATen/ops/ne.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/reciprocal.h>
#include <ATen/ops/scatter_add.h>
#include <ATen/ops/slice.h>
#include <ATen/ops/sub.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/t.h>
#include <ATen/ops/unsqueeze.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <torch/csrc/autograd/custom_function.h>

using gt::get;
using gt::guard;
using gt::wrap;

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct HeadCrossEntropy : public torch::autograd::Function<HeadCrossEntropy> {
  // x [N, H], w [V, H], targets [N] int64. Returns the float32 0-d loss (mean over the counted
  // targets, or their sum); the products run in compute (x's dtype when undefined).
  static at::Tensor forward(AutogradContext *ctx, const at::Tensor &x, const at::Tensor &w,
                            const at::Tensor &targets, int64_t ignore_index, bool mean,
                            int64_t chunk, c10::ScalarType compute) {
    const int64_t n = x.size(0);
    const bool need_x = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    const auto f32 = x.options().dtype(at::kFloat);
    auto wc = w.to(compute);
    auto valid_all = at::ne(targets, ignore_index);
    // 1/count on the device: the mean needs no host synchronisation.
    auto scale = mean ? at::reciprocal(valid_all.sum().to(at::kFloat)) : at::ones({}, f32);
    auto loss = at::zeros({}, f32);
    at::Tensor dx, dw;
    if (need_x) dx = at::empty(x.sizes(), x.options());
    if (need_w) dw = at::zeros(w.sizes(), w.options().dtype(at::kFloat));
    for (int64_t r0 = 0; r0 < n; r0 += chunk) {
      const int64_t r1 = std::min(n, r0 + chunk);
      auto xc = x.slice(0, r0, r1).to(compute);
      auto tc = targets.slice(0, r0, r1);
      auto valid = valid_all.slice(0, r0, r1);
      auto safe = at::where(valid, tc, at::zeros({}, tc.options())).unsqueeze(1);
      auto logits = at::matmul(xc, wc.t()).to(at::kFloat);  // [c, V]
      auto lse = at::logsumexp(logits, {1}, /*keepdim=*/true);
      auto picked = at::gather(logits, 1, safe);
      auto vf = valid.to(at::kFloat).unsqueeze(1);
      loss.add_(((lse - picked) * vf).sum());
      if (!need_x && !need_w) continue;
      // The gradient of the chunk's logits, in place of them: softmax - onehot(target), with
      // ignored rows zeroed and the mean's 1/count applied.
      logits.sub_(lse).exp_();
      logits.scatter_add_(1, safe, -vf);
      logits.mul_(vf * scale);
      auto g = logits.to(compute);
      if (need_x) dx.slice(0, r0, r1).copy_(at::matmul(g, wc));
      if (need_w) dw.add_(at::matmul(g.t(), xc));
    }
    ctx->save_for_backward({dx, dw});
    ctx->saved_data["w_dtype"] = static_cast<int64_t>(w.scalar_type());
    return loss * scale;
  }

  static variable_list backward(AutogradContext *ctx, variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const auto &g = grad_out[0];
    auto w_dtype = static_cast<c10::ScalarType>(ctx->saved_data["w_dtype"].toInt());
    at::Tensor dx, dw;
    if (saved[0].defined()) dx = saved[0] * g.to(saved[0].scalar_type());
    if (saved[1].defined()) dw = (saved[1] * g).to(w_dtype);
    return {dx, dw, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// Rotary embedding y = x*cos + rotate_half(x)*sin. The CPU backend's kernel may run the
// forward (grad mode is off inside an autograd function); the backward is the transpose,
// dx = g*cos + rotate_half^T(g*sin) with rotate_half^T(v) = cat(v[..., d/2:], -v[..., :d/2]):
// the values autograd gets from the composite formula, bit for bit.
struct Rope : public torch::autograd::Function<Rope> {
  static at::Tensor forward(AutogradContext *ctx, const at::Tensor &x, const at::Tensor &cos,
                            const at::Tensor &sin) {
    ctx->save_for_backward({cos, sin});
    at::Tensor y;
    if (gt::cpu::try_rope(x, cos, sin, &y)) return y;
    return gt::rope_composite(x, cos, sin);
  }
  static variable_list backward(AutogradContext *ctx, variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const auto &g = grad_out[0];
    const int64_t d = g.size(-1);
    auto v = g * saved[1];
    auto dx = g * saved[0] + at::cat({v.slice(-1, d / 2, d), v.slice(-1, 0, d / 2).neg()}, -1);
    return {dx, at::Tensor(), at::Tensor()};
  }
};

// SwiGLU silu(gate) * up, keeping gate and up for backward (the composite formula also keeps
// silu(gate), a third tensor of the MLP's width) and recomputing silu(gate) there.
struct SwiGLU : public torch::autograd::Function<SwiGLU> {
  static at::Tensor forward(AutogradContext *ctx, const at::Tensor &gate, const at::Tensor &up) {
    ctx->save_for_backward({gate, up});
    return at::silu(gate) * up;
  }
  static variable_list backward(AutogradContext *ctx, variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const auto &g = grad_out[0];
    const auto &gate = saved[0], &up = saved[1];
    return {at::silu_backward(g * up, gate), g * at::silu(gate)};
  }
};

}  // namespace

namespace gt {

at::Tensor rope_autograd(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin) {
  return Rope::apply(x, cos, sin);
}

at::Tensor swiglu_autograd(const at::Tensor &gate, const at::Tensor &up) {
  return SwiGLU::apply(gate, up);
}

}  // namespace gt

extern "C" {

gt_error gt_head_cross_entropy(gt_tensor x, gt_tensor weight, gt_tensor targets,
                               int64_t ignore_index, int reduction, int64_t chunk,
                               int compute_dtype, gt_tensor *out) {
  return guard([&] {
    const auto &a = get(x, "head cross entropy input");
    const auto &w = get(weight, "head cross entropy weight");
    const auto &t = get(targets, "head cross entropy targets");
    if (a.dim() != 2 || w.dim() != 2 || a.size(1) != w.size(1)) {
      throw gt::ArgumentError("head cross entropy: want x [N, H] and weight [V, H], got " +
                              c10::str(a.sizes()) + " and " + c10::str(w.sizes()));
    }
    if (t.dim() != 1 || t.size(0) != a.size(0) || t.scalar_type() != at::kLong) {
      throw gt::ArgumentError("head cross entropy: want int64 targets [N], got " +
                              c10::str(t.scalar_type()) + " " + c10::str(t.sizes()));
    }
    if (reduction != GT_REDUCTION_MEAN && reduction != GT_REDUCTION_SUM) {
      throw gt::ArgumentError("head cross entropy: the reduction must be mean or sum");
    }
    if (chunk <= 0) throw gt::ArgumentError("head cross entropy: chunk must be positive");
    auto compute = compute_dtype < 0 ? a.scalar_type() : gt::scalar_type(compute_dtype);
    *out = wrap(HeadCrossEntropy::apply(a, w, t, ignore_index, reduction == GT_REDUCTION_MEAN,
                                        chunk, compute));
  });
}

}  // extern "C"
