// runtime.cpp - the library as a whole: versions, threads, seeds.

#include "internal.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

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

}  // extern "C"
