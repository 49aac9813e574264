/*
 * gtbench.h - libgrowthtorch_bench, the C++ side of cmd/bench-ops.
 *
 * Not part of libgrowthtorch or its ABI: this library is built by the same CMake project
 * (build/libgrowthtorch_bench.so, over the same libtorch), never installed, and linked only by
 * cmd/bench-ops of the same checkout, so it may change without a GT_ABI_VERSION bump.
 */
#ifndef GTBENCH_H
#define GTBENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(GTBENCH_BUILDING) && defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* Runs reference sequence kind (0: a forward chain of six small ops with grad mode off; 1: a
   two-layer MLP training step) iters times on size x size float32 CPU matrices and writes the
   elapsed seconds to *seconds. Returns 0 on success; otherwise a GT_ERR_* code of growthtorch.h,
   with the message in msg (at most cap-1 bytes plus NUL). Nothing is thrown across it. */
int gtbench_reference(int kind, int64_t iters, int64_t size, double *seconds, char *msg,
                      int64_t cap);

#if defined(GTBENCH_BUILDING) && defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif /* GTBENCH_H */
