// ops/math.cpp - elementwise arithmetic, comparisons, in-place updates, linear algebra,
// reductions and sampling.

#include "internal.h"

#include <ATen/ops/abs.h>
#include <ATen/ops/add.h>
#include <ATen/ops/amax.h>
#include <ATen/ops/amin.h>
#include <ATen/ops/argmax.h>
#include <ATen/ops/clamp.h>
#include <ATen/ops/clamp_max.h>
#include <ATen/ops/clamp_min.h>
#include <ATen/ops/cos.h>
#include <ATen/ops/cumsum.h>
#include <ATen/ops/div.h>
#include <ATen/ops/eq.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/floor.h>
#include <ATen/ops/ge.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/gt.h>
#include <ATen/ops/isfinite.h>
#include <ATen/ops/le.h>
#include <ATen/ops/linalg_vector_norm.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/log.h>
#include <ATen/ops/logical_and.h>
#include <ATen/ops/logical_not.h>
#include <ATen/ops/logical_or.h>
#include <ATen/ops/logsumexp.h>
#include <ATen/ops/lt.h>
#include <ATen/ops/masked_fill.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/maximum.h>
#include <ATen/ops/mean.h>
#include <ATen/ops/minimum.h>
#include <ATen/ops/mul.h>
#include <ATen/ops/multinomial.h>
#include <ATen/ops/ne.h>
#include <ATen/ops/neg.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/reciprocal.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/rsqrt.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/sign.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/sin.h>
#include <ATen/ops/sort.h>
#include <ATen/ops/sqrt.h>
#include <ATen/ops/square.h>
#include <ATen/ops/std.h>
#include <ATen/ops/sub.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/tanh.h>
#include <ATen/ops/topk.h>
#include <ATen/ops/tril.h>
#include <ATen/ops/triu.h>
#include <ATen/ops/var.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>

#include <optional>
#include <string>
#include <vector>

using gt::get;
using gt::guard;
using gt::wrap;

extern "C" {

// ---- elementwise -----------------------------------------------------------------------------

gt_error gt_unary(int op, gt_tensor h, gt_tensor *out) {
  return guard([&] {
    const auto &a = get(h, "unary op");
    at::Tensor r;
    switch (op) {
      case GT_U_NEG: r = at::neg(a); break;
      case GT_U_EXP: r = at::exp(a); break;
      case GT_U_LOG: r = at::log(a); break;
      case GT_U_SQRT: r = at::sqrt(a); break;
      case GT_U_RSQRT: r = at::rsqrt(a); break;
      case GT_U_ABS: r = at::abs(a); break;
      case GT_U_SIGMOID: r = at::sigmoid(a); break;
      case GT_U_TANH: r = at::tanh(a); break;
      case GT_U_SILU: r = at::silu(a); break;
      case GT_U_RELU: r = at::relu(a); break;
      case GT_U_GELU: r = at::gelu(a); break;
      case GT_U_SQUARE: r = at::square(a); break;
      case GT_U_RECIPROCAL: r = at::reciprocal(a); break;
      case GT_U_SIN: r = at::sin(a); break;
      case GT_U_COS: r = at::cos(a); break;
      case GT_U_CONTIGUOUS: r = a.contiguous(); break;
      case GT_U_CLONE: r = a.clone(); break;
      case GT_U_DETACH: r = a.detach(); break;
      case GT_U_LOGICAL_NOT: r = at::logical_not(a); break;
      case GT_U_ZEROS_LIKE: r = at::zeros_like(a); break;
      case GT_U_ONES_LIKE: r = at::ones_like(a); break;
      case GT_U_ISFINITE: r = at::isfinite(a); break;
      case GT_U_SIGN: r = at::sign(a); break;
      case GT_U_FLOOR: r = at::floor(a); break;
      default: throw gt::ArgumentError("unknown unary op code " + std::to_string(op));
    }
    *out = wrap(std::move(r));
  });
}

gt_error gt_binary(int op, gt_tensor ha, gt_tensor hb, gt_tensor *out) {
  return guard([&] {
    const auto &a = get(ha, "binary op");
    const auto &b = get(hb, "binary op");
    at::Tensor r;
    switch (op) {
      case GT_B_ADD: r = at::add(a, b); break;
      case GT_B_SUB: r = at::sub(a, b); break;
      case GT_B_MUL: r = at::mul(a, b); break;
      case GT_B_DIV: r = at::div(a, b); break;
      case GT_B_MATMUL: r = at::matmul(a, b); break;
      case GT_B_POW: r = at::pow(a, b); break;
      case GT_B_MAXIMUM: r = at::maximum(a, b); break;
      case GT_B_MINIMUM: r = at::minimum(a, b); break;
      case GT_B_EQ: r = at::eq(a, b); break;
      case GT_B_NE: r = at::ne(a, b); break;
      case GT_B_LT: r = at::lt(a, b); break;
      case GT_B_LE: r = at::le(a, b); break;
      case GT_B_GT: r = at::gt(a, b); break;
      case GT_B_GE: r = at::ge(a, b); break;
      case GT_B_LOGICAL_AND: r = at::logical_and(a, b); break;
      case GT_B_LOGICAL_OR: r = at::logical_or(a, b); break;
      default: throw gt::ArgumentError("unknown binary op code " + std::to_string(op));
    }
    *out = wrap(std::move(r));
  });
}

gt_error gt_binary_scalar(int op, gt_tensor ha, double v, gt_tensor *out) {
  return guard([&] {
    const auto &a = get(ha, "binary op");
    at::Scalar b = gt::scalar(v, a.scalar_type());
    at::Tensor r;
    switch (op) {
      case GT_B_ADD: r = at::add(a, b); break;
      case GT_B_SUB: r = at::sub(a, b); break;
      case GT_B_MUL: r = at::mul(a, b); break;
      case GT_B_DIV: r = at::div(a, b); break;
      case GT_B_POW: r = at::pow(a, b); break;
      case GT_B_MAXIMUM: r = at::clamp_min(a, b); break;
      case GT_B_MINIMUM: r = at::clamp_max(a, b); break;
      case GT_B_EQ: r = at::eq(a, b); break;
      case GT_B_NE: r = at::ne(a, b); break;
      case GT_B_LT: r = at::lt(a, b); break;
      case GT_B_LE: r = at::le(a, b); break;
      case GT_B_GT: r = at::gt(a, b); break;
      case GT_B_GE: r = at::ge(a, b); break;
      case GT_B_RPOW: r = at::pow(b, a); break;
      default: throw gt::ArgumentError("op code " + std::to_string(op) + " has no scalar form");
    }
    *out = wrap(std::move(r));
  });
}

gt_error gt_inplace(int op, gt_tensor hs, gt_tensor ho, double alpha) {
  return guard([&] {
    auto self = get(hs, "in-place op");
    const auto &o = get(ho, "in-place op");
    at::Scalar a = gt::scalar(alpha, self.scalar_type());  // integral alpha on integral tensors
    switch (op) {
      case GT_I_ADD: self.add_(o, a); return;
      case GT_I_SUB: self.sub_(o, a); return;
      case GT_I_MUL: self.mul_(o); return;
      case GT_I_DIV: self.div_(o); return;
      case GT_I_COPY: self.copy_(o); return;
    }
    throw gt::ArgumentError("unknown in-place op code " + std::to_string(op));
  });
}

gt_error gt_inplace_scalar(int op, gt_tensor hs, double v) {
  return guard([&] {
    auto self = get(hs, "in-place op");
    at::Scalar s = gt::scalar(v, self.scalar_type());
    switch (op) {
      case GT_I_ADD: self.add_(s); return;
      case GT_I_SUB: self.sub_(s); return;
      case GT_I_MUL: self.mul_(s); return;
      case GT_I_DIV: self.div_(s); return;
      case GT_I_COPY: self.fill_(s); return;
    }
    throw gt::ArgumentError("unknown in-place op code " + std::to_string(op));
  });
}

gt_error gt_zero_(gt_tensor hs) {
  return guard([&] {
    auto self = get(hs, "zero_");
    self.zero_();
  });
}

gt_error gt_linear(gt_tensor x, gt_tensor w, gt_tensor b, gt_tensor *out) {
  return guard([&] {
    std::optional<at::Tensor> bias;
    if (b != 0) bias = get(b, "linear bias");
    *out = wrap(at::linear(get(x, "linear input"), get(w, "linear weight"), bias));
  });
}

gt_error gt_clamp(gt_tensor a, int has_min, double min, int has_max, double max, gt_tensor *out) {
  return guard([&] {
    const auto &x = get(a, "clamp");
    std::optional<at::Scalar> lo, hi;
    if (has_min) lo = gt::scalar(min, x.scalar_type());
    if (has_max) hi = gt::scalar(max, x.scalar_type());
    // Both sides open: nothing to clamp (at::clamp rejects two absent bounds).
    *out = wrap(lo || hi ? at::clamp(x, lo, hi) : x.clone());
  });
}

gt_error gt_where(gt_tensor c, gt_tensor a, gt_tensor b, gt_tensor *out) {
  return guard([&] {
    *out = wrap(at::where(get(c, "where condition"), get(a, "where"), get(b, "where")));
  });
}

gt_error gt_masked_fill(gt_tensor a, gt_tensor mask, double value, gt_tensor *out) {
  return guard([&] {
    const auto &x = get(a, "masked_fill");
    *out = wrap(at::masked_fill(x, get(mask, "masked_fill mask"), gt::scalar(value, x.scalar_type())));
  });
}

gt_error gt_triangle(gt_tensor a, int upper, int64_t diagonal, gt_tensor *out) {
  return guard([&] {
    const auto &x = get(a, upper ? "triu" : "tril");
    *out = wrap(upper ? at::triu(x, diagonal) : at::tril(x, diagonal));
  });
}

// ---- reductions ------------------------------------------------------------------------------

gt_error gt_reduce(int op, gt_tensor h, const int64_t *dp, int64_t nd, int keepdim,
                   gt_tensor *out) {
  return guard([&] {
    const auto &a = get(h, "reduction");
    auto d = gt::dims(dp, nd);
    if (d.empty()) {  // every dimension
      for (int64_t i = 0; i < a.dim(); i++) d.push_back(i);
    }
    at::OptionalIntArrayRef od(d);
    at::Tensor r;
    switch (op) {
      case GT_R_SUM: r = at::sum(a, od, keepdim); break;
      case GT_R_MEAN: r = at::mean(a, od, keepdim); break;
      case GT_R_AMAX: r = at::amax(a, d, keepdim); break;
      case GT_R_AMIN: r = at::amin(a, d, keepdim); break;
      case GT_R_LOGSUMEXP: r = at::logsumexp(a, d, keepdim); break;
      case GT_R_VAR: r = at::var(a, od, /*correction=*/at::Scalar(1), keepdim); break;
      case GT_R_STD: r = at::std(a, od, /*correction=*/at::Scalar(1), keepdim); break;
      default: throw gt::ArgumentError("unknown reduction code " + std::to_string(op));
    }
    *out = wrap(std::move(r));
  });
}

gt_error gt_argmax(gt_tensor a, int64_t dim, int keepdim, gt_tensor *out) {
  return guard([&] { *out = wrap(at::argmax(get(a, "argmax"), dim, keepdim)); });
}

gt_error gt_norm(gt_tensor a, double p, const int64_t *dp, int64_t nd, int keepdim,
                 gt_tensor *out) {
  return guard([&] {
    auto d = gt::dims(dp, nd);
    at::OptionalIntArrayRef od = std::nullopt;
    if (!d.empty()) od = d;
    *out = wrap(at::linalg_vector_norm(get(a, "norm"), p, od, keepdim));
  });
}

gt_error gt_cumsum(gt_tensor a, int64_t dim, gt_tensor *out) {
  return guard([&] { *out = wrap(at::cumsum(get(a, "cumsum"), dim)); });
}

gt_error gt_topk(gt_tensor a, int64_t k, int64_t dim, int largest, gt_tensor *values,
                 gt_tensor *indices) {
  return guard([&] {
    auto [v, i] = at::topk(get(a, "topk"), k, dim, largest != 0, /*sorted=*/true);
    *values = wrap(std::move(v));
    *indices = wrap(std::move(i));
  });
}

gt_error gt_sort(gt_tensor a, int64_t dim, int descending, gt_tensor *values, gt_tensor *indices) {
  return guard([&] {
    auto [v, i] = at::sort(get(a, "sort"), dim, descending != 0);
    *values = wrap(std::move(v));
    *indices = wrap(std::move(i));
  });
}

gt_error gt_multinomial(gt_tensor probs, int64_t n, int replacement, gt_generator gen,
                        gt_tensor *out) {
  return guard([&] {
    *out = wrap(at::multinomial(get(probs, "multinomial"), n, replacement != 0, gt::generator(gen)));
  });
}

}  // extern "C"
