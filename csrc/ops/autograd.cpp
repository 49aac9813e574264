// ops/autograd.cpp - gradients: which tensors record them, backward, reading and clearing
// them, and the per-thread grad mode.

#include "internal.h"

#include <ATen/autocast_mode.h>
#include <c10/core/GradMode.h>

#include <vector>

using gt::get;
using gt::guard;
using gt::wrap;

namespace {

// What gt_autocast_enter replaced, per thread and device type, so exit can restore it.
struct AutocastSaved {
  at::DeviceType type;
  bool enabled;
  at::ScalarType dtype;
};
thread_local std::vector<AutocastSaved> t_autocast;

at::DeviceType autocast_device(int dev_type) {
  switch (dev_type) {
    case GT_CPU: return at::kCPU;
    case GT_CUDA: return at::kCUDA;
  }
  throw gt::ArgumentError("autocast: unknown device type " + std::to_string(dev_type));
}

}  // namespace

extern "C" {

// ---- autocast --------------------------------------------------------------------------------

gt_error gt_autocast_enter(int dev_type, int dtype) {
  return guard([&] {
    auto type = autocast_device(dev_type);
    auto st = gt::scalar_type(dtype);
    if (st != at::kBFloat16 && st != at::kHalf) {
      throw gt::ArgumentError("autocast: the compute dtype must be bfloat16 or float16, got " +
                              std::string(c10::toString(st)));
    }
    t_autocast.push_back({type, at::autocast::is_autocast_enabled(type),
                          at::autocast::get_autocast_dtype(type)});
    at::autocast::set_autocast_dtype(type, st);
    at::autocast::set_autocast_enabled(type, true);
    at::autocast::increment_nesting();
  });
}

gt_error gt_autocast_exit(int dev_type) {
  return guard([&] {
    auto type = autocast_device(dev_type);
    if (t_autocast.empty() || t_autocast.back().type != type) {
      throw gt::ArgumentError("autocast: exit without a matching enter on this thread");
    }
    auto saved = t_autocast.back();
    t_autocast.pop_back();
    at::autocast::set_autocast_enabled(type, saved.enabled);
    at::autocast::set_autocast_dtype(type, saved.dtype);
    // The cast weights are cached while any region is open; free them with the last one.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  });
}

gt_error gt_autocast_state(int dev_type, int *enabled, int *dtype) {
  return guard([&] {
    auto type = autocast_device(dev_type);
    *enabled = at::autocast::is_autocast_enabled(type) ? 1 : 0;
    *dtype = gt::dtype_code(at::autocast::get_autocast_dtype(type));
  });
}

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
