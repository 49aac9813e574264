// growthtorch.cpp - the C interface of growthtorch.h over ATen.
//
// Every entry point runs its body inside guard(), which turns any C++ exception into a gt_error,
// so nothing thrown by libtorch can unwind into Go (which would abort the process).
// Only ATen/c10 headers are used: <torch/torch.h> costs ~30 s per translation unit and pulls in
// nothing we need.

#include "growthtorch.h"
#include "internal.h"
#include "cpu_kernels.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/GradMode.h>
#if GT_HAS_DEVICE_ALLOCATOR
#include <c10/core/CachingDeviceAllocator.h>
#endif

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

// ---- handles ---------------------------------------------------------------------------------
//
// Tensors live in slots of a slab that only ever grows; a handle names a slot and the slot's
// generation when the handle was made. Releasing a slot bumps its generation, so every stale
// handle is detected by one comparison (GT_ERR_FREED) and the slot can be reused at once.
// Slots never move (blocks are allocated once and never freed), so an operation may read a
// slot without taking the lock. This lets a scope release its tensors outright: the caller's
// copy of a handle needs no finaliser, which is what makes Go-side scopes cheap.

struct gt_generator_s {
  at::Generator g;
};

struct gt_error_s {
  int code;
  std::string message;
};

namespace {

constexpr uint32_t kBlockBits = 12;
constexpr uint32_t kBlockSize = 1u << kBlockBits;
constexpr uint32_t kMaxBlocks = 1u << 16;  // 2^28 live tensors at most
constexpr uint64_t kIndexMask = 0xffffffffull;
constexpr uint32_t kGenMask = 0x7fffffffu;

struct Slot {
  at::Tensor t;
  std::atomic<uint32_t> gen{1};  // never 0, so no live handle is 0
  uint64_t scope = 0;            // id of the scope that will release it; 0 for none
};

std::mutex g_slab_mu;
std::atomic<Slot *> g_blocks[kMaxBlocks];
uint32_t g_next = 0;             // slots ever handed out (guarded by g_slab_mu)
std::vector<uint32_t> g_free;    // released slots (guarded by g_slab_mu)
std::atomic<int64_t> g_live{0};
std::atomic<uint64_t> g_scope_ids{0};

struct Scope {
  uint64_t id;
  std::vector<gt_tensor> handles;
};

// Scopes are per thread, like grad mode: the Go side pins its goroutine while a scope is open.
thread_local std::vector<Scope> tl_scopes;

Slot &slot(uint32_t index) {
  return g_blocks[index >> kBlockBits].load(std::memory_order_acquire)[index & (kBlockSize - 1)];
}

uint32_t handle_gen(gt_tensor h) { return static_cast<uint32_t>(h >> 32) & kGenMask; }
uint32_t handle_index(gt_tensor h) { return static_cast<uint32_t>(h & kIndexMask); }

// Returns the slot of a live handle, or nullptr. Caller holds g_slab_mu.
Slot *live_slot_locked(gt_tensor h) {
  uint32_t i = handle_index(h);
  if (h == 0 || i >= g_next) return nullptr;
  Slot &s = slot(i);
  return s.gen.load(std::memory_order_relaxed) == handle_gen(h) ? &s : nullptr;
}

// Releases a live slot: takes its tensor out, bumps the generation, recycles the slot. The
// tensor is destroyed by the caller after unlocking (freeing storage can take a while).
at::Tensor release_locked(Slot &s, uint32_t index) {
  at::Tensor t = std::move(s.t);
  uint32_t g = (s.gen.load(std::memory_order_relaxed) + 1) & kGenMask;
  s.gen.store(g == 0 ? 1 : g, std::memory_order_release);
  s.scope = 0;
  g_free.push_back(index);
  g_live.fetch_sub(1, std::memory_order_relaxed);
  return t;
}

}  // namespace

namespace gt {

gt_tensor wrap(at::Tensor t) {
  if (!t.defined()) return 0;
  uint64_t scope = tl_scopes.empty() ? 0 : tl_scopes.back().id;
  uint32_t index;
  Slot *s;
  {
    std::lock_guard<std::mutex> lock(g_slab_mu);
    if (!g_free.empty()) {
      index = g_free.back();
      g_free.pop_back();
    } else {
      if (g_next == kMaxBlocks * kBlockSize) {
        throw std::bad_alloc();  // 2^28 live tensors: reported as out of memory
      }
      index = g_next;
      if ((index & (kBlockSize - 1)) == 0) {
        g_blocks[index >> kBlockBits].store(new Slot[kBlockSize], std::memory_order_release);
      }
      g_next++;
    }
    s = &slot(index);
    s->t = std::move(t);
    s->scope = scope;
  }
  g_live.fetch_add(1, std::memory_order_relaxed);
  gt_tensor h = (static_cast<uint64_t>(s->gen.load(std::memory_order_relaxed)) << 32) | index;
  if (scope != 0) {
    tl_scopes.back().handles.push_back(h);
    h |= GT_HANDLE_SCOPED;
  }
  return h;
}

const at::Tensor &get(gt_tensor h, const char *what) {
  h &= ~GT_HANDLE_SCOPED;
  if (h == 0) throw ArgumentError(std::string(what) + ": no tensor (null handle)");
  uint32_t i = handle_index(h);
  // g_next only grows and blocks are published before it: a racy read can only be too small.
  if (i >= kMaxBlocks * kBlockSize || g_blocks[i >> kBlockBits].load(std::memory_order_acquire) == nullptr) {
    throw ArgumentError(std::string(what) + ": invalid tensor handle");
  }
  Slot &s = slot(i);
  if (s.gen.load(std::memory_order_acquire) != handle_gen(h)) {
    throw FreedError(std::string(what) +
                     ": tensor was already released (closed, or freed by its scope)");
  }
  return s.t;
}

gt_error make_error(int code, std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  return new gt_error_s{code, std::move(message)};
}

// Classifies the exception being handled. Called only from a catch block.
gt_error current_error() {
  try {
    throw;
  } catch (const c10::OutOfMemoryError &e) {
    return make_error(GT_ERR_OOM, e.what_without_backtrace());
  } catch (const c10::Error &e) {
    // libtorch's CPU allocator reports failure through a plain enforce, not OutOfMemoryError.
    std::string msg = e.what_without_backtrace();
    bool oom = msg.find("can't allocate memory") != std::string::npos ||
               msg.find("not enough memory") != std::string::npos ||
               msg.find("out of memory") != std::string::npos;
    return make_error(oom ? GT_ERR_OOM : GT_ERR_TORCH, std::move(msg));
  } catch (const ArgumentError &e) {
    return make_error(GT_ERR_ARGUMENT, e.what());
  } catch (const FreedError &e) {
    return make_error(GT_ERR_FREED, e.what());
  } catch (const std::bad_alloc &) {
    return make_error(GT_ERR_OOM, "out of memory (std::bad_alloc)");
  } catch (const std::exception &e) {
    return make_error(GT_ERR_INTERNAL, e.what());
  } catch (...) {
    return make_error(GT_ERR_INTERNAL, "unknown C++ exception");
  }
}

at::ScalarType scalar_type(int dtype) {
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

int dtype_code(at::ScalarType st) {
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

at::Device device(int type, int index) {
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

std::vector<int64_t> dims(const int64_t *p, int64_t n) {
  if (n < 0 || (n > 0 && p == nullptr)) throw ArgumentError("bad dimension list");
  return std::vector<int64_t>(p, p + n);
}

std::vector<at::Tensor> tensors(const gt_tensor *ts, int64_t n, const char *what) {
  if (n < 0 || (n > 0 && ts == nullptr)) throw ArgumentError(std::string(what) + ": bad list");
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int64_t i = 0; i < n; i++) v.push_back(get(ts[i], what));
  return v;
}

}  // namespace gt

using gt::get;
using gt::guard;
using gt::wrap;

// ---- errors and library ----------------------------------------------------------------------

extern "C" {

int gt_error_code(gt_error e) { return e ? e->code : 0; }
const char *gt_error_message(gt_error e) { return e ? e->message.c_str() : ""; }
void gt_error_free(gt_error e) { delete e; }

int gt_abi_version(void) { return GT_ABI_VERSION; }

const char *gt_torch_version(void) {
#define GT_STR2(x) #x
#define GT_STR(x) GT_STR2(x)
  return GT_STR(TORCH_VERSION_MAJOR) "." GT_STR(TORCH_VERSION_MINOR) "." GT_STR(
      TORCH_VERSION_PATCH);
}

int gt_cuda_compiled(void) {
#ifdef GT_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

int64_t gt_live_tensors(void) { return g_live.load(); }
void gt_set_num_threads(int n) {
  if (n > 0) at::set_num_threads(n);
}
int gt_get_num_threads(void) { return at::get_num_threads(); }
void gt_manual_seed(uint64_t seed) {
  try {
    at::manual_seed(seed);
  } catch (...) {
    // Seeding an accelerator that fails to initialise must not abort; the CPU seed is set
    // before any accelerator is touched.
  }
}

// ---- lifetime and scopes ---------------------------------------------------------------------

void gt_tensor_free(gt_tensor h) {
  h &= ~GT_HANDLE_SCOPED;
  at::Tensor dead;
  {
    std::lock_guard<std::mutex> lock(g_slab_mu);
    Slot *s = live_slot_locked(h);
    if (s == nullptr) return;
    dead = release_locked(*s, handle_index(h));
  }
}

void gt_tensor_free_n(const gt_tensor *ts, int64_t n) {
  if (ts == nullptr || n <= 0) return;
  std::vector<at::Tensor> dead;
  dead.reserve(static_cast<size_t>(n));
  std::lock_guard<std::mutex> lock(g_slab_mu);
  for (int64_t i = 0; i < n; i++) {
    gt_tensor h = ts[i] & ~GT_HANDLE_SCOPED;
    if (Slot *s = live_slot_locked(h)) dead.push_back(release_locked(*s, handle_index(h)));
  }
}

uint64_t gt_scope_push(void) {
  uint64_t id = ++g_scope_ids;
  tl_scopes.push_back(Scope{id, {}});
  return id;
}

gt_error gt_scope_pop(uint64_t id) {
  return guard([&] {
    if (tl_scopes.empty()) {
      throw gt::ArgumentError("scope close: no scope is open on this thread");
    }
    if (tl_scopes.back().id != id) {
      throw gt::ArgumentError("scope close: scope " + std::to_string(id) +
                              " is not the innermost open scope on this thread (closed out of "
                              "order, or on another goroutine/thread)");
    }
    std::vector<at::Tensor> dead;
    {
      std::lock_guard<std::mutex> lock(g_slab_mu);
      for (gt_tensor h : tl_scopes.back().handles) {
        Slot *s = live_slot_locked(h);
        // Skip handles already closed, and those kept (they now belong to another scope).
        if (s != nullptr && s->scope == id) dead.push_back(release_locked(*s, handle_index(h)));
      }
    }
    tl_scopes.pop_back();
  });
}

gt_error gt_tensor_persist(gt_tensor h) {
  return guard([&] {
    h &= ~GT_HANDLE_SCOPED;
    std::lock_guard<std::mutex> lock(g_slab_mu);
    Slot *s = live_slot_locked(h);
    if (s == nullptr) throw gt::FreedError("persist: tensor was already released");
    s->scope = 0;  // its scope skips it on close (the scope checks ownership)
  });
}

gt_error gt_scope_keep(uint64_t id, gt_tensor h, int *unscoped) {
  return guard([&] {
    h &= ~GT_HANDLE_SCOPED;
    get(h, "keep");
    if (tl_scopes.empty() || tl_scopes.back().id != id) {
      throw gt::ArgumentError("keep: scope " + std::to_string(id) +
                              " is not the innermost open scope on this thread");
    }
    Scope *parent = tl_scopes.size() > 1 ? &tl_scopes[tl_scopes.size() - 2] : nullptr;
    std::lock_guard<std::mutex> lock(g_slab_mu);
    Slot *s = live_slot_locked(h);
    if (s == nullptr) throw gt::FreedError("keep: tensor was already released");
    if (s->scope == id) {  // otherwise it was not created in this scope: nothing to do
      s->scope = parent ? parent->id : 0;
      if (parent) parent->handles.push_back(h);
    }
    *unscoped = s->scope == 0 ? 1 : 0;
  });
}

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
    auto opts = at::TensorOptions().dtype(gt::scalar_type(dtype)).device(
        gt::device(dev_type, dev_index));
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
    auto opts = at::TensorOptions().dtype(gt::scalar_type(dtype)).device(
        gt::device(dev_type, dev_index));
    auto st = opts.dtype().toScalarType();
    *out = wrap(at::arange(gt::scalar(start, st), gt::scalar(end, st), gt::scalar(step, st), opts));
  });
}

static std::optional<at::Generator> generator(gt_generator g) {
  if (g == nullptr) return std::nullopt;
  return g->g;
}

gt_error gt_rand(int kind, const int64_t *shape, int64_t ndim, gt_generator gen, int dtype,
                 int dev_type, int dev_index, gt_tensor *out) {
  return guard([&] {
    auto opts = at::TensorOptions().dtype(gt::scalar_type(dtype)).device(
        gt::device(dev_type, dev_index));
    auto sh = gt::dims(shape, ndim);
    switch (kind) {
      case GT_RAND_NORMAL: *out = wrap(at::randn(sh, generator(gen), opts)); return;
      case GT_RAND_UNIFORM: *out = wrap(at::rand(sh, generator(gen), opts)); return;
    }
    throw gt::ArgumentError("rand: unknown distribution code");
  });
}

gt_error gt_randint(int64_t low, int64_t high, const int64_t *shape, int64_t ndim,
                    gt_generator gen, int dtype, int dev_type, int dev_index, gt_tensor *out) {
  return guard([&] {
    auto opts = at::TensorOptions().dtype(gt::scalar_type(dtype)).device(
        gt::device(dev_type, dev_index));
    *out = wrap(at::randint(low, high, gt::dims(shape, ndim), generator(gen), opts));
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
    *out = wrap(at::multinomial(get(probs, "multinomial"), n, replacement != 0, generator(gen)));
  });
}

// ---- neural-network functions ----------------------------------------------------------------

gt_error gt_softmax(gt_tensor a, int64_t dim, int log, gt_tensor *out) {
  return guard([&] {
    const auto &x = get(a, log ? "log_softmax" : "softmax");
    *out = wrap(log ? at::log_softmax(x, dim) : at::softmax(x, dim));
  });
}

gt_error gt_embedding(gt_tensor weight, gt_tensor ids, gt_tensor *out) {
  return guard([&] {
    *out = wrap(at::embedding(get(weight, "embedding weight"), get(ids, "embedding ids")));
  });
}

// ---- fused CPU kernels (cpu_kernels.cpp) -----------------------------------------------------
//
// Used for float32 CPU tensors when no gradient is needed (they have no backward); everything
// else takes the composite ATen formula, which is also the reference the tests compare with.

namespace {

std::atomic<bool> g_fused{[] {
  const char *env = std::getenv("GROWTHTORCH_FUSED");
  return env == nullptr || std::strcmp(env, "0") != 0;
}()};

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

void gt_set_fused(int on) { g_fused.store(on != 0); }
int gt_fused(void) { return g_fused.load() ? 1 : 0; }
int gt_fused_level(int cap) { return gt::cpu::level(cap); }

gt_error gt_cross_entropy(gt_tensor logits, gt_tensor target, int64_t ignore_index,
                          int reduction, double label_smoothing, gt_tensor *out) {
  return guard([&] {
    if (reduction < GT_REDUCTION_NONE || reduction > GT_REDUCTION_SUM) {
      throw gt::ArgumentError("cross entropy: unknown reduction code");
    }
    const auto &x = get(logits, "cross entropy logits");
    const auto &t = get(target, "cross entropy target");
    // One pass per row (log-sum-exp minus the target's logit) instead of log_softmax, which
    // writes a copy of all the logits; an out-of-range target goes to ATen for its error.
    if (reduction != GT_REDUCTION_NONE && label_smoothing == 0 && x.dim() == 2 && t.dim() == 1 &&
        t.scalar_type() == at::kLong && t.device().is_cpu() && t.size(0) == x.size(0) &&
        x.size(1) > 0 && fused_ok({&x})) {
      auto xc = x.contiguous();
      auto tc = t.contiguous();
      int64_t counted = 0, bad = -1;
      double sum = gt::cpu::nll_sum(xc.data_ptr<float>(), tc.data_ptr<int64_t>(), xc.size(0),
                                    xc.size(1), ignore_index, &counted, &bad);
      if (bad < 0) {
        double v = reduction == GT_REDUCTION_SUM ? sum : sum / static_cast<double>(counted);
        *out = wrap(at::scalar_tensor(v, x.options()));
        return;
      }
    }
    // Our reduction codes are chosen to equal at::Reduction's.
    *out = wrap(at::cross_entropy_loss(x, t, std::nullopt, reduction, ignore_index,
                                       label_smoothing));
  });
}

gt_error gt_sdpa(gt_tensor q, gt_tensor k, gt_tensor v, gt_tensor mask, double dropout,
                 int causal, double scale, int enable_gqa, gt_tensor *out) {
  return guard([&] {
    std::optional<at::Tensor> m;
    if (mask != 0) m = get(mask, "attention mask");
    std::optional<double> sc;
    if (scale >= 0) sc = scale;
    *out = wrap(at::scaled_dot_product_attention(get(q, "attention query"),
                                                 get(k, "attention key"), get(v, "attention value"),
                                                 m, dropout, causal != 0, sc, enable_gqa != 0));
  });
}

gt_error gt_rms_norm(gt_tensor x, gt_tensor weight, double eps, gt_tensor *out) {
  return guard([&] {
    const auto &a = get(x, "rms_norm");
    if (a.dim() == 0) throw gt::ArgumentError("rms_norm: input must have at least one dimension");
    at::Tensor w;
    if (weight != 0) w = get(weight, "rms_norm weight");
    const int64_t d = a.size(-1);
    if (fused_ok({&a, &w}) && d > 0 && (!w.defined() || (w.dim() == 1 && w.size(0) == d))) {
      auto xc = a.contiguous();
      auto wc = w.defined() ? w.contiguous() : w;
      auto y = at::empty_like(xc);
      gt::cpu::rms_norm(xc.data_ptr<float>(), wc.defined() ? wc.data_ptr<float>() : nullptr,
                        y.data_ptr<float>(), xc.numel() / d, d, static_cast<float>(eps));
      *out = wrap(std::move(y));
      return;
    }
    // HF's LlamaRMSNorm, op for op (x * rsqrt(mean(x^2) + eps), then the weight): the same
    // numerics as the reference, and on CPU faster than at::rms_norm in a model's forward.
    auto y = a * at::rsqrt(a.pow(2).mean(-1, /*keepdim=*/true) + eps);
    if (w.defined()) y = w * y;
    *out = wrap(std::move(y));
  });
}

gt_error gt_swiglu(gt_tensor gate, gt_tensor up, gt_tensor *out) {
  return guard([&] {
    // One call for the pair; on CPU ATen's two vectorised passes were as fast as a fused one.
    *out = wrap(at::silu(get(gate, "swiglu gate")) * get(up, "swiglu up"));
  });
}

gt_error gt_rope(gt_tensor x, gt_tensor cos, gt_tensor sin, gt_tensor *out) {
  return guard([&] {
    const auto &a = get(x, "rope input");
    const auto &c = get(cos, "rope cos");
    const auto &s = get(sin, "rope sin");
    if (a.dim() < 2 || a.size(-1) % 2 != 0) {
      throw gt::ArgumentError("rope: input must be [..., T, D] with D even, got shape " +
                              c10::str(a.sizes()));
    }
    const int64_t d = a.size(-1), t = a.size(-2);
    if (fused_ok({&a, &c, &s}) && a.stride(-1) == 1 && a.is_non_overlapping_and_dense() &&
        c.numel() == t * d && s.numel() == t * d && c.size(-1) == d && s.size(-1) == d &&
        c.is_contiguous() && s.is_contiguous() && a.numel() > 0) {
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
      gt::cpu::rope(a.data_ptr<float>(), offs.data(), pos.data(), rows, c.data_ptr<float>(),
                    s.data_ptr<float>(), y.data_ptr<float>(), d);
      *out = wrap(std::move(y));
      return;
    }
    // HF's formula: x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x[..., d/2:], x[..., :d/2]).
    auto rot = at::cat({a.slice(-1, d / 2, d).neg(), a.slice(-1, 0, d / 2)}, -1);
    *out = wrap(a * c + rot * s);
  });
}

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

// ---- conversion ------------------------------------------------------------------------------

gt_error gt_to(gt_tensor a, int dtype, int dev_type, int dev_index, int copy, gt_tensor *out) {
  return guard([&] {
    const auto &x = get(a, "to");
    auto st = dtype < 0 ? x.scalar_type() : gt::scalar_type(dtype);
    auto dev = dev_type < 0 ? x.device() : gt::device(dev_type, dev_index);
    *out = wrap(x.to(dev, st, /*non_blocking=*/false, copy != 0));
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

// ---- devices ---------------------------------------------------------------------------------

int gt_cuda_is_available(void) {
  try {
    return at::detail::getCUDAHooks().hasCUDA() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int gt_cuda_device_count(void) {
  try {
    if (!at::detail::getCUDAHooks().hasCUDA()) return 0;
    return at::detail::getCUDAHooks().deviceCount();
  } catch (...) {
    return 0;
  }
}

static void require_cuda(int index) {
  if (!gt_cuda_is_available()) {
    throw gt::ArgumentError("CUDA is not available (no CUDA libtorch, driver or device)");
  }
  int n = gt_cuda_device_count();
  if (index < 0 || index >= n) {
    throw gt::ArgumentError("CUDA device " + std::to_string(index) + " out of range (" +
                            std::to_string(n) + " devices)");
  }
  at::globalContext().lazyInitDevice(at::kCUDA);
}

gt_error gt_cuda_synchronize(int index) {
  return guard([&] {
    require_cuda(index);
    at::detail::getCUDAHooks().deviceSynchronize(static_cast<c10::DeviceIndex>(index));
  });
}

gt_error gt_cuda_memory(int index, int64_t *allocated, int64_t *peak, int64_t *reserved) {
  return guard([&] {
    require_cuda(index);
#if GT_HAS_DEVICE_ALLOCATOR
    auto stats = c10::getDeviceAllocator(at::kCUDA)->getDeviceStats(
        static_cast<c10::DeviceIndex>(index));
    constexpr auto agg = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    *allocated = stats.allocated_bytes[agg].current;
    *peak = stats.allocated_bytes[agg].peak;
    *reserved = stats.reserved_bytes[agg].current;
#else
    throw gt::ArgumentError("CUDA memory statistics need libtorch >= 2.9");
#endif
  });
}

gt_error gt_cuda_reset_peak(int index) {
  return guard([&] {
    require_cuda(index);
#if GT_HAS_DEVICE_ALLOCATOR
    c10::getDeviceAllocator(at::kCUDA)->resetPeakStats(static_cast<c10::DeviceIndex>(index));
#else
    throw gt::ArgumentError("CUDA memory statistics need libtorch >= 2.9");
#endif
  });
}

gt_error gt_cuda_empty_cache(void) {
  return guard([&] {
    require_cuda(0);
#if GT_HAS_DEVICE_ALLOCATOR
    c10::getDeviceAllocator(at::kCUDA)->emptyCache();
#else
    throw gt::ArgumentError("CUDA cache control needs libtorch >= 2.9");
#endif
  });
}

}  // extern "C"
