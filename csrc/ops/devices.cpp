// ops/devices.cpp - CUDA queries, synchronisation and the CUDA caching allocator's figures.
// Nothing here needs a CUDA header: libtorch's hooks answer for whatever build is loaded.

#include "internal.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#if GT_HAS_DEVICE_ALLOCATOR
#include <c10/core/CachingDeviceAllocator.h>
#endif

#include <string>

using gt::guard;

extern "C" {

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

gt_error gt_cuda_mem_info(int index, int64_t *free_bytes, int64_t *total_bytes) {
  return guard([&] {
    require_cuda(index);
#if GT_HAS_DEVICE_ALLOCATOR
    auto [free, total] =
        c10::getDeviceAllocator(at::kCUDA)->getMemoryInfo(static_cast<c10::DeviceIndex>(index));
    *free_bytes = static_cast<int64_t>(free);
    *total_bytes = static_cast<int64_t>(total);
#else
    throw gt::ArgumentError("CUDA memory information needs libtorch >= 2.9");
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
