// kernels/cpu/fused.cpp - when the fused CPU kernels run, and their ATen-level wrappers.

#include "kernels/cpu/fused.h"

#include "internal.h"
#include "kernels/cpu/cpu_kernels.h"

#include <ATen/ops/empty_like.h>
#include <ATen/ops/scalar_tensor.h>
#include <c10/core/GradMode.h>

#include <atomic>
#include <initializer_list>
#include <vector>

namespace {

// Off until the runtime (gt_runtime_init) or gt_set_fused turns them on: a program that never
// asks gets ATen's composite formulas, as with libtorch alone.
std::atomic<bool> g_fused{false};

// Whether the fused kernels may run on these tensors (undefined ones are ignored).
bool fused_ok(std::initializer_list<const at::Tensor *> ts) {
  if (!g_fused.load(std::memory_order_relaxed) || gt::cpu::level(-1) < 1) return false;
  const bool grad = at::GradMode::is_enabled();
  for (const at::Tensor *t : ts) {
    if (!t->defined()) continue;
    if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || t->is_sparse()) return false;
    if (grad && t->requires_grad()) return false;
  }
  return true;
}

}  // namespace

namespace gt::cpu {

bool try_cross_entropy(const at::Tensor &x, const at::Tensor &t, int64_t ignore_index,
                       int reduction, double label_smoothing, at::Tensor *out) {
  // One pass per row (log-sum-exp minus the target's logit) instead of log_softmax, which
  // writes a copy of all the logits; an out-of-range target goes to ATen for its error.
  if (reduction == GT_REDUCTION_NONE || label_smoothing != 0 || x.dim() != 2 || t.dim() != 1 ||
      t.scalar_type() != at::kLong || !t.device().is_cpu() || t.size(0) != x.size(0) ||
      x.size(1) == 0 || !fused_ok({&x})) {
    return false;
  }
  auto xc = x.contiguous();
  auto tc = t.contiguous();
  int64_t counted = 0, bad = -1;
  double sum = nll_sum(xc.data_ptr<float>(), tc.data_ptr<int64_t>(), xc.size(0), xc.size(1),
                       ignore_index, &counted, &bad);
  if (bad >= 0) return false;
  double v = reduction == GT_REDUCTION_SUM ? sum : sum / static_cast<double>(counted);
  *out = at::scalar_tensor(v, x.options());
  return true;
}

bool try_rms_norm(const at::Tensor &a, const at::Tensor &w, double eps, at::Tensor *out) {
  const int64_t d = a.size(-1);
  if (!fused_ok({&a, &w}) || d == 0 || (w.defined() && (w.dim() != 1 || w.size(0) != d))) {
    return false;
  }
  auto xc = a.contiguous();
  auto wc = w.defined() ? w.contiguous() : w;
  auto y = at::empty_like(xc);
  rms_norm(xc.data_ptr<float>(), wc.defined() ? wc.data_ptr<float>() : nullptr,
           y.data_ptr<float>(), xc.numel() / d, d, static_cast<float>(eps));
  *out = std::move(y);
  return true;
}

bool try_rope(const at::Tensor &a, const at::Tensor &c, const at::Tensor &s, at::Tensor *out) {
  const int64_t d = a.size(-1), t = a.size(-2);
  if (!fused_ok({&a, &c, &s}) || a.stride(-1) != 1 || !a.is_non_overlapping_and_dense() ||
      c.numel() != t * d || s.numel() != t * d || c.size(-1) != d || s.size(-1) != d ||
      !c.is_contiguous() || !s.is_contiguous() || a.numel() == 0) {
    return false;
  }
  // The input is usually a transposed view ([B, T, H, D] read as [B, H, T, D]); the output
  // gets the same strides (empty_like keeps a dense layout), so rows share their offsets.
  auto y = at::empty_like(a);
  const int64_t rows = a.numel() / d, nd = a.dim() - 1;
  std::vector<int64_t> offs(rows), pos(rows), idx(nd, 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t off = 0;
    for (int64_t k = 0; k < nd; ++k) off += idx[k] * a.stride(k);
    offs[r] = off;
    pos[r] = idx[nd - 1];
    for (int64_t k = nd - 1; k >= 0; --k) {
      if (++idx[k] < a.size(k)) break;
      idx[k] = 0;
    }
  }
  rope(a.data_ptr<float>(), offs.data(), pos.data(), rows, c.data_ptr<float>(),
       s.data_ptr<float>(), y.data_ptr<float>(), d);
  *out = std::move(y);
  return true;
}

}  // namespace gt::cpu

extern "C" {

void gt_set_fused(int on) { g_fused.store(on != 0); }
int gt_fused(void) { return g_fused.load() ? 1 : 0; }
int gt_fused_level(int cap) { return gt::cpu::level(cap); }

}  // extern "C"
