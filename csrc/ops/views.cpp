// ops/views.cpp - views (shape changes that share storage) and indexing.

#include "internal.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/gather.h>
#include <ATen/ops/index_select.h>
#include <ATen/ops/stack.h>
#include <c10/core/WrapDimMinimal.h>

#include <string>

using gt::get;
using gt::guard;
using gt::wrap;

extern "C" {

// ---- views and indexing ----------------------------------------------------------------------

gt_error gt_shape_op(int op, gt_tensor a, const int64_t *dp, int64_t nd, gt_tensor *out) {
  return guard([&] {
    const auto &x = get(a, "shape op");
    auto d = gt::dims(dp, nd);
    switch (op) {
      case GT_SHAPE_VIEW: *out = wrap(x.view(d)); return;
      case GT_SHAPE_RESHAPE: *out = wrap(x.reshape(d)); return;
      case GT_SHAPE_PERMUTE: *out = wrap(x.permute(d)); return;
      case GT_SHAPE_EXPAND: *out = wrap(x.expand(d)); return;
    }
    throw gt::ArgumentError("unknown shape op code " + std::to_string(op));
  });
}

gt_error gt_transpose(gt_tensor a, int64_t d0, int64_t d1, gt_tensor *out) {
  return guard([&] { *out = wrap(get(a, "transpose").transpose(d0, d1)); });
}

gt_error gt_unsqueeze(gt_tensor a, int64_t dim, gt_tensor *out) {
  return guard([&] { *out = wrap(get(a, "unsqueeze").unsqueeze(dim)); });
}

gt_error gt_squeeze(gt_tensor a, int64_t dim, gt_tensor *out) {
  return guard([&] { *out = wrap(get(a, "squeeze").squeeze(dim)); });
}

gt_error gt_flatten(gt_tensor a, int64_t start, int64_t end, gt_tensor *out) {
  return guard([&] { *out = wrap(get(a, "flatten").flatten(start, end)); });
}

gt_error gt_slice(gt_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step,
                  gt_tensor *out) {
  return guard([&] { *out = wrap(get(a, "slice").slice(dim, start, end, step)); });
}

gt_error gt_index_select(gt_tensor a, int64_t dim, gt_tensor index, gt_tensor *out) {
  return guard([&] {
    *out = wrap(at::index_select(get(a, "index_select"), dim, get(index, "index_select index")));
  });
}

gt_error gt_gather(gt_tensor a, int64_t dim, gt_tensor index, gt_tensor *out) {
  return guard([&] { *out = wrap(at::gather(get(a, "gather"), dim, get(index, "gather index"))); });
}

gt_error gt_cat(const gt_tensor *ts, int64_t n, int64_t dim, int stack, gt_tensor *out) {
  return guard([&] {
    auto v = gt::tensors(ts, n, stack ? "stack" : "cat");
    *out = wrap(stack ? at::stack(v, dim) : at::cat(v, dim));
  });
}

gt_error gt_chunk(gt_tensor a, int64_t n, int64_t dim, gt_tensor *outs) {
  return guard([&] {
    const auto &x = get(a, "chunk");
    if (n <= 0) throw gt::ArgumentError("chunk: number of chunks must be positive");
    int64_t d = c10::maybe_wrap_dim(dim, x.dim());
    if (x.size(d) % n != 0) {
      throw gt::ArgumentError("chunk: size " + std::to_string(x.size(d)) + " of dimension " +
                              std::to_string(dim) + " does not divide into " + std::to_string(n) +
                              " equal chunks");
    }
    auto parts = x.chunk(n, d);
    for (int64_t i = 0; i < n; i++) outs[i] = wrap(std::move(parts[i]));
  });
}

}  // extern "C"
