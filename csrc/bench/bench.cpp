// bench.cpp - the C++ side of `make bench-ops`: the same fixed sequences of small CPU ops that
// cmd/bench-ops drives op by op from Go, run here in a plain C++ loop over libtorch, so the Go
// program can print the cost of the Go/cgo layer as a ratio measured in one process.
//
// Both sides run in that process over the same libtorch, so they share its process-wide state:
// the CPU allocator (libgrowthtorch's caching allocator when the program's runtime installed
// it), the intra-op thread pool and the default generator. Fused kernels play no part in these
// sequences; pacing is Go-side cost and belongs to what the ratio measures.
#include "gtbench.h"

#include "growthtorch.h"

#include <ATen/core/Tensor.h>

#include <ATen/ops/add.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mean.h>
#include <ATen/ops/mul.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/sub.h>
#include <ATen/ops/sum.h>

#include <c10/core/GradMode.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <new>

namespace {

// Kind 0: a forward chain of six small elementwise/matmul ops with grad mode off.
void forward_chain(int64_t iters, int64_t n) {
  c10::NoGradGuard no_grad;
  auto x = at::randn({n, n});
  auto y = at::randn({n, n});
  for (int64_t i = 0; i < iters; i++) {
    auto t1 = at::add(x, y);
    auto t2 = at::mul(t1, x);
    auto t3 = at::silu(t2);
    auto t4 = at::mul(t3, at::Scalar(0.5));
    auto t5 = at::matmul(t4, y);
    auto t6 = at::sum(t5);
  }
}

// Kind 1: one training step of a two-layer MLP: forward, MSE loss, backward, SGD update, and
// gradients set to none.
void train_step(int64_t iters, int64_t n) {
  auto x = at::randn({n, n});
  auto target = at::randn({n, n});
  auto w1 = at::randn({n, n}).mul_(0.1).set_requires_grad(true);
  auto w2 = at::randn({n, n}).mul_(0.1).set_requires_grad(true);
  for (int64_t i = 0; i < iters; i++) {
    auto h = at::matmul(x, w1);
    auto a = at::silu(h);
    auto o = at::matmul(a, w2);
    auto d = at::sub(o, target);
    auto sq = at::mul(d, d);
    auto loss = at::mean(sq);
    loss.backward();
    {
      c10::NoGradGuard no_grad;
      w1.add_(w1.grad(), -0.01);
      w2.add_(w2.grad(), -0.01);
    }
    w1.mutable_grad().reset();
    w2.mutable_grad().reset();
  }
}

}  // namespace

namespace {

int fail(int code, const char *what, char *msg, int64_t cap) {
  if (msg != nullptr && cap > 0) {
    size_t n = std::min<size_t>(std::strlen(what), static_cast<size_t>(cap - 1));
    std::memcpy(msg, what, n);
    msg[n] = '\0';
  }
  return code;
}

}  // namespace

extern "C" int gtbench_reference(int kind, int64_t iters, int64_t size, double *seconds,
                                 char *msg, int64_t cap) {
  try {
    if (kind != 0 && kind != 1) return fail(GT_ERR_ARGUMENT, "bench: unknown kind", msg, cap);
    auto start = std::chrono::steady_clock::now();
    if (kind == 0) {
      forward_chain(iters, size);
    } else {
      train_step(iters, size);
    }
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return 0;
  } catch (const c10::Error &e) {
    return fail(GT_ERR_TORCH, e.what_without_backtrace(), msg, cap);
  } catch (const std::bad_alloc &) {
    return fail(GT_ERR_OOM, "out of memory (std::bad_alloc)", msg, cap);
  } catch (const std::exception &e) {
    return fail(GT_ERR_INTERNAL, e.what(), msg, cap);
  } catch (...) {
    return fail(GT_ERR_INTERNAL, "unknown C++ exception", msg, cap);
  }
}
