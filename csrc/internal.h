// internal.h - helpers shared by growthtorch's translation units (never installed).
#pragma once

#include "compat.h"
#include "growthtorch.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace gt {

// Raised by this library (not libtorch) for an argument it rejects.
struct ArgumentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Raised when a handle's tensor was already released.
struct FreedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

gt_tensor wrap(at::Tensor t);
const at::Tensor &get(gt_tensor h, const char *what);
gt_error make_error(int code, std::string message);
gt_error current_error();
at::ScalarType scalar_type(int dtype);
int dtype_code(at::ScalarType st);
at::Device device(int type, int index);
std::vector<int64_t> dims(const int64_t *p, int64_t n);
std::vector<at::Tensor> tensors(const gt_tensor *ts, int64_t n, const char *what);

// Runs f, converting whatever it throws into a gt_error. This is the one place the C boundary
// is enforced: every extern "C" entry point that can fail returns guard(...).
template <class F>
gt_error guard(F &&f) noexcept {
  try {
    f();
    return nullptr;
  } catch (...) {
    return current_error();
  }
}

// A scalar for an operation on a tensor of type st: integral values stay integral on integral
// tensors (as `x + 1` does in Python), so integer arithmetic does not silently become float.
inline at::Scalar scalar(double v, at::ScalarType st) {
  if (at::isIntegralType(st, /*includeBool=*/true) && std::isfinite(v) && v == std::floor(v) &&
      std::fabs(v) < 9.2e18) {
    if (st == at::kBool) return at::Scalar(v != 0);
    return at::Scalar(static_cast<int64_t>(v));
  }
  return at::Scalar(v);
}

}  // namespace gt
