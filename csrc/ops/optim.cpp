// ops/optim.cpp - optimizer helpers that take a whole parameter list in one call: fused AdamW
// and gradient-norm clipping.

#include "internal.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/clamp_max.h>
#include <ATen/ops/linalg_vector_norm.h>
#include <ATen/ops/stack.h>
#include <c10/core/GradMode.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

using gt::get;
using gt::guard;
using gt::wrap;

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
    c10::NoGradGuard no_grad;
    std::vector<at::Tensor> grads;
    for (int64_t i = 0; i < n; i++) {
      const auto &p = get(params[i], "clip_grad_norm parameter");
      if (p.grad().defined()) grads.push_back(p.grad());
    }
    if (grads.empty()) {
      *norm = 0;
      return;
    }
    auto norms = at::_foreach_norm(grads, 2);
    auto dev = grads[0].device();
    // Accumulate in float64 when any gradient is float64, else float32 (as torch does).
    auto acc = at::kFloat;
    for (const auto &g : grads) {
      if (g.scalar_type() == at::kDouble) acc = at::kDouble;
    }
    for (auto &x : norms) x = x.to(dev, acc);
    auto total = at::linalg_vector_norm(at::stack(norms), 2);
    if (max_norm > 0) {
      auto coef = at::clamp_max(max_norm / (total + 1e-6), 1.0);
      for (auto &g : grads) g.mul_(coef.to(g.device(), g.scalar_type()));
    }
    *norm = total.item<double>();
  });
}

}  // extern "C"
