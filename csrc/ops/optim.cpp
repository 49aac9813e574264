// ops/optim.cpp - optimizer helpers that take a whole parameter list in one call: fused AdamW
// and gradient-norm clipping.

#include "internal.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/clamp_max.h>
#include <ATen/ops/linalg_vector_norm.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

using gt::get;
using gt::guard;
using gt::wrap;

namespace {

// Clips the gradients of params to a total 2-norm of max_norm (if max_norm > 0), as
// torch.nn.utils.clip_grad_norm_ does, and returns the total norm before clipping: a 0-d tensor
// on the first gradient's device, never read back here, or an undefined tensor when no
// parameter has a gradient. Both C entry points below are this one computation.
at::Tensor clip_grad_norm(const gt_tensor *params, int64_t n, double max_norm) {
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (int64_t i = 0; i < n; i++) {
    const auto &p = get(params[i], "clip_grad_norm parameter");
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return at::Tensor();
  // Norms in float32 (float64 when any gradient is float64), whatever the gradients' dtype: a
  // bfloat16 sum of squares would lose the small gradients. One foreach call each for the norms
  // and the scaling, so the kernel count does not grow with the number of parameters.
  auto acc = at::kFloat;
  for (const auto &g : grads) {
    if (g.scalar_type() == at::kDouble) acc = at::kDouble;
  }
  auto norms = at::_foreach_norm(grads, 2, acc);
  auto dev = grads[0].device();
  for (auto &x : norms) {
    if (x.device() != dev) x = x.to(dev);
  }
  auto total = at::linalg_vector_norm(at::stack(norms), 2);
  if (max_norm > 0) {
    auto coef = at::clamp_max(max_norm / (total + 1e-6), 1.0);
    // _foreach_mul_ wants its tensor scalar on the lists' device: group by device.
    std::map<std::string, std::vector<at::Tensor>> by_device;
    for (auto &g : grads) by_device[g.device().str()].push_back(g);
    for (auto &[name, gs] : by_device) {
      at::_foreach_mul_(gs, gs[0].device() == dev ? coef : coef.to(gs[0].device()));
    }
  }
  return total;
}

}  // namespace

extern "C" {

// ---- fused training helpers ------------------------------------------------------------------

gt_error gt_adamw(const gt_tensor *params, const gt_tensor *exp_avg, const gt_tensor *exp_avg_sq,
                  const gt_tensor *steps, int64_t n, double lr, double beta1, double beta2,
                  double eps, double weight_decay) {
  return guard([&] {
    c10::NoGradGuard no_grad;
    // libtorch's fused kernel wants each list on one device and dtype: group like torch.optim.
    struct Group {
      std::vector<at::Tensor> p, g, m, v, s;
    };
    std::map<std::pair<std::string, int>, Group> groups;
    for (int64_t i = 0; i < n; i++) {
      const auto &p = get(params[i], "adamw parameter");
      if (!p.grad().defined()) continue;
      auto key = std::make_pair(p.device().str(), static_cast<int>(p.scalar_type()));
      auto &grp = groups[key];
      grp.p.push_back(p);
      grp.g.push_back(p.grad());
      grp.m.push_back(get(exp_avg[i], "adamw exp_avg"));
      grp.v.push_back(get(exp_avg_sq[i], "adamw exp_avg_sq"));
      grp.s.push_back(get(steps[i], "adamw step"));
    }
    for (auto &[key, grp] : groups) {
      at::_foreach_add_(grp.s, at::Scalar(1.0));
      at::_fused_adamw_(grp.p, grp.g, grp.m, grp.v, /*max_exp_avg_sqs=*/{}, grp.s, lr, beta1,
                        beta2, weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
    }
  });
}

gt_error gt_clip_grad_norm(const gt_tensor *params, int64_t n, double max_norm, double *norm) {
  return guard([&] {
    at::Tensor total = clip_grad_norm(params, n, max_norm);
    *norm = total.defined() ? total.item<double>() : 0;
  });
}

gt_error gt_clip_grad_norm_tensor(const gt_tensor *params, int64_t n, double max_norm,
                                  gt_tensor *norm) {
  return guard([&] {
    at::Tensor total = clip_grad_norm(params, n, max_norm);
    *norm = wrap(total.defined() ? std::move(total) : at::zeros({}, at::kFloat));
  });
}

gt_error gt_grads_mul(const gt_tensor *params, int64_t n, double factor) {
  return guard([&] {
    c10::NoGradGuard no_grad;
    // One foreach call per device and dtype, not one kernel per parameter.
    std::map<std::string, std::vector<at::Tensor>> groups;
    for (int64_t i = 0; i < n; i++) {
      const auto &p = get(params[i], "grads_mul parameter");
      if (p.grad().defined()) {
        const auto &g = p.grad();
        groups[g.device().str() + "/" + std::string(c10::toString(g.scalar_type()))].push_back(g);
      }
    }
    for (auto &[key, gs] : groups) at::_foreach_mul_(gs, at::Scalar(factor));
  });
}

}  // extern "C"
