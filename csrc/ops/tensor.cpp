// ops/tensor.cpp - tensors as values: metadata, factories, data in and out, random generators,
// conversion between dtypes and devices.

#include "internal.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Formatting.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>
#include <c10/util/StringUtil.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>

using gt::get;
using gt::guard;
using gt::wrap;

extern "C" {

// ---- metadata --------------------------------------------------------------------------------

gt_error gt_tensor_ndim(gt_tensor t, int64_t *out) {
  return guard([&] { *out = get(t, "ndim").dim(); });
}

gt_error gt_tensor_shape(gt_tensor t, int64_t *out, int64_t cap) {
  return guard([&] {
    const auto &x = get(t, "shape");
    if (cap < x.dim()) throw gt::ArgumentError("shape: output too small");
    for (int64_t i = 0; i < x.dim(); i++) out[i] = x.size(i);
  });
}

gt_error gt_tensor_dtype(gt_tensor t, int *out) {
  return guard([&] { *out = gt::dtype_code(get(t, "dtype").scalar_type()); });
}

gt_error gt_tensor_device(gt_tensor t, int *type, int *index) {
  return guard([&] {
    auto d = get(t, "device").device();
    if (d.is_cpu()) {
      *type = GT_CPU;
      *index = 0;
    } else if (d.is_cuda()) {
      *type = GT_CUDA;
      *index = d.index();
    } else {
      throw gt::ArgumentError("device " + d.str() + " has no growthtorch code");
    }
  });
}

gt_error gt_tensor_numel(gt_tensor t, int64_t *out) {
  return guard([&] { *out = get(t, "numel").numel(); });
}

gt_error gt_tensor_is_contiguous(gt_tensor t, int *out) {
  return guard([&] { *out = get(t, "is_contiguous").is_contiguous() ? 1 : 0; });
}

gt_error gt_tensor_defined(gt_tensor t, int *out) {
  return guard([&] { *out = get(t, "defined").defined() ? 1 : 0; });
}

gt_error gt_tensor_format(gt_tensor t, char *buf, int64_t cap) {
  return guard([&] {
    if (cap <= 0) throw gt::ArgumentError("format: empty buffer");
    std::ostringstream os;
    os << get(t, "format");
    std::string s = os.str();
    size_t n = std::min<size_t>(s.size(), static_cast<size_t>(cap - 1));
    std::memcpy(buf, s.data(), n);
    buf[n] = '\0';
  });
}

// ---- factories -------------------------------------------------------------------------------

gt_error gt_full(const int64_t *shape, int64_t ndim, int fill, double value, int dtype,
                 int dev_type, int dev_index, gt_tensor *out) {
  return guard([&] {
    auto opts = gt::options(dtype, dev_type, dev_index);
    auto sh = gt::dims(shape, ndim);
    switch (fill) {
      case GT_FILL_EMPTY: *out = wrap(at::empty(sh, opts)); return;
      case GT_FILL_ZEROS: *out = wrap(at::zeros(sh, opts)); return;
      case GT_FILL_ONES: *out = wrap(at::ones(sh, opts)); return;
      case GT_FILL_VALUE: *out = wrap(at::full(sh, gt::scalar(value, opts.dtype().toScalarType()), opts)); return;
    }
    throw gt::ArgumentError("full: unknown fill code");
  });
}

gt_error gt_arange(double start, double end, double step, int dtype, int dev_type, int dev_index,
                   gt_tensor *out) {
  return guard([&] {
    auto opts = gt::options(dtype, dev_type, dev_index);
    auto st = opts.dtype().toScalarType();
    *out = wrap(at::arange(gt::scalar(start, st), gt::scalar(end, st), gt::scalar(step, st), opts));
  });
}

gt_error gt_rand(int kind, const int64_t *shape, int64_t ndim, gt_generator gen, int dtype,
                 int dev_type, int dev_index, gt_tensor *out) {
  return guard([&] {
    auto opts = gt::options(dtype, dev_type, dev_index);
    auto sh = gt::dims(shape, ndim);
    switch (kind) {
      case GT_RAND_NORMAL: *out = wrap(at::randn(sh, gt::generator(gen), opts)); return;
      case GT_RAND_UNIFORM: *out = wrap(at::rand(sh, gt::generator(gen), opts)); return;
    }
    throw gt::ArgumentError("rand: unknown distribution code");
  });
}

gt_error gt_randint(int64_t low, int64_t high, const int64_t *shape, int64_t ndim,
                    gt_generator gen, int dtype, int dev_type, int dev_index, gt_tensor *out) {
  return guard([&] {
    auto opts = gt::options(dtype, dev_type, dev_index);
    *out = wrap(at::randint(low, high, gt::dims(shape, ndim), gt::generator(gen), opts));
  });
}

gt_error gt_from_data(const void *data, int64_t nbytes, const int64_t *shape, int64_t ndim,
                      int dtype, gt_tensor *out) {
  return guard([&] {
    auto t = at::empty(gt::dims(shape, ndim), at::TensorOptions().dtype(gt::scalar_type(dtype)));
    if (nbytes != static_cast<int64_t>(t.nbytes())) {
      throw gt::ArgumentError("from data: " + std::to_string(nbytes) + " bytes given, shape " +
                              c10::str(t.sizes()) + " of " + c10::toString(t.scalar_type()) +
                              " needs " + std::to_string(t.nbytes()));
    }
    if (nbytes > 0) std::memcpy(t.data_ptr(), data, nbytes);
    *out = wrap(std::move(t));
  });
}

gt_error gt_to_data(gt_tensor h, int dtype, void *dst, int64_t nbytes) {
  return guard([&] {
    auto t = get(h, "to data").detach().to(at::kCPU, gt::scalar_type(dtype)).contiguous();
    if (nbytes != static_cast<int64_t>(t.nbytes())) {
      throw gt::ArgumentError("to data: buffer of " + std::to_string(nbytes) +
                              " bytes, tensor needs " + std::to_string(t.nbytes()));
    }
    if (nbytes > 0) std::memcpy(dst, t.data_ptr(), nbytes);
  });
}

gt_error gt_item(gt_tensor t, double *out) {
  return guard([&] { *out = get(t, "item").item<double>(); });
}

// ---- generators ------------------------------------------------------------------------------

gt_error gt_generator_new(uint64_t seed, int dev_type, int dev_index, gt_generator *out) {
  return guard([&] {
    auto dev = gt::device(dev_type, dev_index);
    at::Generator g;
    if (dev.is_cpu()) {
      g = at::make_generator<at::CPUGeneratorImpl>(seed);
    } else {
      g = at::detail::getCUDAHooks().getNewGenerator(dev.index());
      g.set_current_seed(seed);
    }
    *out = new gt_generator_s{std::move(g)};
  });
}

void gt_generator_free(gt_generator g) { delete g; }

gt_error gt_generator_get_state(gt_generator g, gt_tensor *out) {
  return guard([&] {
    if (g == nullptr) throw gt::ArgumentError("generator state: NULL generator");
    std::lock_guard<std::mutex> lock(g->g.mutex());
    *out = wrap(g->g.get_state());
  });
}

gt_error gt_generator_set_state(gt_generator g, gt_tensor state) {
  return guard([&] {
    if (g == nullptr) throw gt::ArgumentError("generator state: NULL generator");
    const auto &s = get(state, "generator state");
    std::lock_guard<std::mutex> lock(g->g.mutex());
    g->g.set_state(s);
  });
}

// ---- conversion ------------------------------------------------------------------------------

gt_error gt_to(gt_tensor a, int dtype, int dev_type, int dev_index, int copy, gt_tensor *out) {
  return guard([&] {
    const auto &x = get(a, "to");
    auto st = dtype < 0 ? x.scalar_type() : gt::scalar_type(dtype);
    auto dev = dev_type < 0 ? x.device() : gt::device(dev_type, dev_index);
    *out = wrap(x.to(dev, st, /*non_blocking=*/false, copy != 0));
  });
}

}  // extern "C"
