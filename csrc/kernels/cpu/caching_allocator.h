// kernels/cpu/caching_allocator.h - the caching CPU allocator (caching_allocator.cpp), as the
// runtime (runtime.cpp) installs it.
#pragma once

#include <cstddef>

namespace gt::cpu {

// An eighth of physical memory, at most 2 GiB: the limit of idle bytes when none is given.
size_t default_cache_limit();

// Makes the cache libtorch's CPU allocator, keeping at most limit idle bytes. Called once per
// process (by gt_runtime_init, under its lock); a second call throws.
void install_caching_allocator(size_t limit);

}  // namespace gt::cpu
