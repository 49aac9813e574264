// internal.h - what growthtorch's translation units share (never installed).
//
// Only <ATen/core/Tensor.h> comes in here: each source file includes the per-operator headers
// (<ATen/ops/NAME.h>) of the operations it calls, which costs a fraction of <ATen/ATen.h> per
// translation unit (see csrc/README.md).
#pragma once

#include "compat.h"
#include "growthtorch.h"

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct gt_generator_s {
  at::Generator g;
};

namespace gt {

// Raised by this library (not libtorch) for an argument it rejects.
struct ArgumentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Raised when a handle's tensor was already released.
struct FreedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Raised by the process-group code (distributed/c10d.cpp) for a failed or timed-out
// communication whose own exception is not a c10::DistError (gloo's, for instance).
struct CommError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- handles (handles.cpp) ----
gt_tensor wrap(at::Tensor t);
const at::Tensor &get(gt_tensor h, const char *what);

// ---- pacing (runtime.cpp) ----
// Per-thread state of the GT_HANDLE_YIELD hints; wrap() keeps one per thread.
struct PaceState {
  uint32_t epoch = 0;    // g_pace_epoch this state belongs to
  uint32_t handles = 0;  // handles returned to this thread while pacing was on
  int64_t last_ns = 0;   // monotonic time of its last hint; 0: none yet
};
constexpr uint32_t kPaceEvery = 4;        // the clock is read on every 4th handle only
extern std::atomic<int64_t> g_pace_ns;    // the interval; 0: no hints
extern std::atomic<uint32_t> g_pace_epoch;  // bumped by gt_set_pace: every thread starts afresh
bool pace_clock_due(PaceState &s, int64_t interval_ns);
// Whether the handle being returned carries a hint. Costs a relaxed load when pacing is off;
// when it is on, another load, a counter and every 4th time a clock read (~20 ns).
inline bool pace_due(PaceState &s) {
  const int64_t interval = g_pace_ns.load(std::memory_order_relaxed);
  if (interval <= 0) return false;
  const uint32_t epoch = g_pace_epoch.load(std::memory_order_relaxed);
  if (s.epoch != epoch) s = PaceState{epoch, 0, 0};
  return ++s.handles % kPaceEvery == 0 && pace_clock_due(s, interval);
}

// ---- errors (errors.cpp) ----
// Classifies the exception being handled; called only from a catch block.
gt_error current_error();

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

// ---- the codes of growthtorch.h and their ATen counterparts ----

inline at::ScalarType scalar_type(int dtype) {
  switch (dtype) {
    case GT_FLOAT32: return at::kFloat;
    case GT_FLOAT64: return at::kDouble;
    case GT_FLOAT16: return at::kHalf;
    case GT_BFLOAT16: return at::kBFloat16;
    case GT_INT64: return at::kLong;
    case GT_INT32: return at::kInt;
    case GT_BOOL: return at::kBool;
    case GT_UINT8: return at::kByte;
    case GT_INT8: return at::kChar;
  }
  throw ArgumentError("unknown dtype code " + std::to_string(dtype));
}

inline int dtype_code(at::ScalarType st) {
  switch (st) {
    case at::kFloat: return GT_FLOAT32;
    case at::kDouble: return GT_FLOAT64;
    case at::kHalf: return GT_FLOAT16;
    case at::kBFloat16: return GT_BFLOAT16;
    case at::kLong: return GT_INT64;
    case at::kInt: return GT_INT32;
    case at::kBool: return GT_BOOL;
    case at::kByte: return GT_UINT8;
    case at::kChar: return GT_INT8;
    default: break;
  }
  throw ArgumentError(std::string("dtype ") + c10::toString(st) + " has no growthtorch code");
}

inline at::Device device(int type, int index) {
  switch (type) {
    case GT_CPU: return at::Device(at::kCPU);
    case GT_CUDA:
      if (index < 0 || index > std::numeric_limits<c10::DeviceIndex>::max()) {
        throw ArgumentError("bad CUDA device index " + std::to_string(index));
      }
      return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw ArgumentError("unknown device type code " + std::to_string(type));
}

inline at::TensorOptions options(int dtype, int dev_type, int dev_index) {
  return at::TensorOptions().dtype(scalar_type(dtype)).device(device(dev_type, dev_index));
}

inline std::vector<int64_t> dims(const int64_t *p, int64_t n) {
  if (n < 0 || (n > 0 && p == nullptr)) throw ArgumentError("bad dimension list");
  return std::vector<int64_t>(p, p + n);
}

inline std::vector<at::Tensor> tensors(const gt_tensor *ts, int64_t n, const char *what) {
  if (n < 0 || (n > 0 && ts == nullptr)) throw ArgumentError(std::string(what) + ": bad list");
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int64_t i = 0; i < n; i++) v.push_back(get(ts[i], what));
  return v;
}

inline std::optional<at::Generator> generator(gt_generator g) {
  if (g == nullptr) return std::nullopt;
  return g->g;
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

// ---- differentiable fused operations (ops/fused_train.cpp) ----
// Rotary embedding and SwiGLU as autograd functions, used when gradients are recorded: the
// forward may take the CPU backend's kernel, the backward is written out (and, for SwiGLU,
// recomputes silu(gate) instead of keeping it), with the composite formulas' numerics.
at::Tensor rope_autograd(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin);
at::Tensor swiglu_autograd(const at::Tensor &gate, const at::Tensor &up);
// HF's rotary formula, x*cos + rotate_half(x)*sin (ops/nn.cpp).
at::Tensor rope_composite(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin);

}  // namespace gt
