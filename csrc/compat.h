// compat.h - every libtorch version difference growthtorch cares about, in one place.
//
// Supported: libtorch 2.5 and newer (sdpa's enable_gqa, rms_norm, CPU fused AdamW and
// c10::OutOfMemoryError on CPU allocation failure all exist from 2.5). The generic device
// allocator used for CUDA memory statistics appeared in 2.9; older versions report those
// statistics as unsupported instead of pulling CUDA headers into this library.
#pragma once

// The version header moved in 2.9 (torch/headeronly); before that it lived in the C++ API tree.
#if __has_include(<torch/headeronly/version.h>)
#include <torch/headeronly/version.h>
#else
#include <torch/version.h>
#endif

#if !defined(TORCH_VERSION_MAJOR)
#error "growthtorch: cannot determine the libtorch version"
#endif

#define GT_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||     \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

#if !GT_TORCH_AT_LEAST(2, 5)
#error "growthtorch needs libtorch 2.5 or newer"
#endif

#define GT_HAS_DEVICE_ALLOCATOR GT_TORCH_AT_LEAST(2, 9)
