// runtime.cpp - the library as a whole: versions, threads, seeds, and the runtime a program
// chooses with gt_runtime_init (fused CPU kernels, the caching CPU allocator, pacing hints).
//
// Loading the library changes nothing in the process and reads no environment variable: until
// gt_runtime_init, libtorch's defaults hold. gt_runtime_init succeeds once per process. Once,
// because installing the allocator cannot be undone while tensors hold its blocks, and because
// two parts of a program configuring the process differently is a mistake worth an error
// rather than a silent last-one-wins; the fine-grained calls (gt_set_fused, gt_set_pace,
// gt_cpu_cache_set_limit) remain for deliberate changes later.

#include "internal.h"
#include "kernels/cpu/caching_allocator.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstring>
#include <mutex>

namespace gt {

std::atomic<int64_t> g_pace_ns{0};
std::atomic<uint32_t> g_pace_epoch{0};

// Called on every kPaceEvery-th handle of a thread while pacing is on.
bool pace_clock_due(PaceState &s, int64_t interval_ns) {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  if (s.last_ns != 0 && now - s.last_ns < interval_ns) return false;
  s.last_ns = now;  // a long gap gives one hint, not one per interval missed
  return true;
}

}  // namespace gt

namespace {

std::mutex g_init_mu;
bool g_initialized = false;  // guarded by g_init_mu

// The caller's options, with the fields it does not know (a smaller size) left at 0.
gt_runtime_options read_options(const gt_runtime_options *in) {
  if (in == nullptr) throw gt::ArgumentError("runtime init: NULL options");
  if (in->size < static_cast<int64_t>(sizeof(in->size)) ||
      in->size > static_cast<int64_t>(sizeof(gt_runtime_options))) {
    throw gt::ArgumentError("runtime init: options of " + std::to_string(in->size) +
                            " bytes; this library knows " +
                            std::to_string(sizeof(gt_runtime_options)) +
                            " (a header from another growthtrain version?)");
  }
  gt_runtime_options o;
  std::memset(&o, 0, sizeof o);
  std::memcpy(&o, in, static_cast<size_t>(in->size));
  o.size = sizeof o;
  return o;
}

}  // namespace

using gt::guard;

extern "C" {

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

gt_error gt_runtime_init(const gt_runtime_options *opts) {
  return guard([&] {
    const gt_runtime_options o = read_options(opts);
    if (o.cpu_cache_limit < 0) throw gt::ArgumentError("runtime init: negative cpu_cache_limit");
    if (o.cpu_cache == 0 && o.cpu_cache_limit != 0) {
      throw gt::ArgumentError("runtime init: cpu_cache_limit given without cpu_cache");
    }
    if (o.pace_interval_ns < 0) throw gt::ArgumentError("runtime init: negative pace_interval_ns");
    std::lock_guard<std::mutex> lock(g_init_mu);
    if (g_initialized) {
      throw gt::ArgumentError(
          "runtime init: the runtime is already initialised (gt_runtime_init succeeds once per "
          "process; gt_set_fused, gt_set_pace and gt_cpu_cache_set_limit change settings later)");
    }
    if (o.cpu_cache != 0) {
      gt::cpu::install_caching_allocator(o.cpu_cache_limit > 0
                                             ? static_cast<size_t>(o.cpu_cache_limit)
                                             : gt::cpu::default_cache_limit());
    }
    gt_set_fused(o.fused_kernels != 0);
    gt_set_pace(o.pace_interval_ns);
    g_initialized = true;
  });
}

gt_error gt_runtime_current(gt_runtime_options *out, int *initialized) {
  return guard([&] {
    if (out == nullptr || initialized == nullptr) {
      throw gt::ArgumentError("runtime current: NULL output");
    }
    if (out->size < static_cast<int64_t>(sizeof(out->size)) ||
        out->size > static_cast<int64_t>(sizeof(gt_runtime_options))) {
      throw gt::ArgumentError("runtime current: options of " + std::to_string(out->size) +
                              " bytes; this library knows " +
                              std::to_string(sizeof(gt_runtime_options)));
    }
    gt_runtime_options o;
    std::memset(&o, 0, sizeof o);
    int64_t cache[5];
    o.cpu_cache = gt_cpu_cache_stats(cache);
    o.cpu_cache_limit = cache[0];
    o.fused_kernels = gt_fused();
    o.pace_interval_ns = gt_pace();
    o.size = out->size;
    std::memcpy(out, &o, static_cast<size_t>(out->size));
    std::lock_guard<std::mutex> lock(g_init_mu);
    *initialized = g_initialized ? 1 : 0;
  });
}

void gt_set_pace(int64_t interval_ns) {
  gt::g_pace_ns.store(interval_ns > 0 ? interval_ns : 0, std::memory_order_relaxed);
  gt::g_pace_epoch.fetch_add(1, std::memory_order_relaxed);
}

int64_t gt_pace(void) { return gt::g_pace_ns.load(std::memory_order_relaxed); }

}  // extern "C"
