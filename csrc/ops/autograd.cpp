// ops/autograd.cpp - gradients: which tensors record them, backward, reading and clearing
// them, and the per-thread grad mode.

#include "internal.h"

#include <c10/core/GradMode.h>

using gt::get;
using gt::guard;
using gt::wrap;

extern "C" {

// ---- autograd --------------------------------------------------------------------------------

gt_error gt_set_requires_grad(gt_tensor t, int on) {
  return guard([&] { get(t, "requires_grad").set_requires_grad(on != 0); });
}

gt_error gt_requires_grad(gt_tensor t, int *out) {
  return guard([&] { *out = get(t, "requires_grad").requires_grad() ? 1 : 0; });
}

gt_error gt_is_leaf(gt_tensor t, int *out) {
  return guard([&] { *out = get(t, "is_leaf").is_leaf() ? 1 : 0; });
}

gt_error gt_backward(gt_tensor t, gt_tensor grad, int retain_graph) {
  return guard([&] {
    at::Tensor g;
    if (grad != 0) g = get(grad, "backward gradient");
    get(t, "backward").backward(g, retain_graph != 0, /*create_graph=*/false);
  });
}

gt_error gt_grad(gt_tensor t, gt_tensor *out) {
  return guard([&] { *out = wrap(get(t, "grad").grad()); });
}

gt_error gt_grad_set_none(gt_tensor t) {
  return guard([&] {
    auto x = get(t, "grad");
    x.mutable_grad().reset();
  });
}

gt_error gt_grad_zero(gt_tensor t) {
  return guard([&] {
    auto x = get(t, "grad");
    if (x.grad().defined()) x.mutable_grad().zero_();
  });
}

int gt_set_grad_enabled(int on) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(on != 0);
  return prev ? 1 : 0;
}

int gt_is_grad_enabled(void) { return c10::GradMode::is_enabled() ? 1 : 0; }

}  // extern "C"
