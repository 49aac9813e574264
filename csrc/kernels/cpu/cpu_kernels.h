// cpu_kernels.h - fused float32 CPU kernels (cpu_kernels.cpp) on raw, contiguous rows.
// Forward only: fused.cpp offers them to the operations when no gradient is needed.
#pragma once

#include <cstdint>

namespace gt::cpu {

// The vector path the kernels take: 2 (AVX-512), 1 (AVX2 + FMA), 0 (none: the kernels must not
// be called). cap >= 0 first limits it to at most cap (the CPU's own capability still bounds
// it); cap < 0 only reads.
int level(int cap);

// y[r] = w * (x[r] * rsqrt(mean(x[r]^2) + eps)) for rows of d floats; w may be null.
void rms_norm(const float *x, const float *w, float *y, int64_t rows, int64_t d, float eps);

// Rotary embedding in the rotate-half layout for rows of d floats: row r starts at
// x + row_offsets[r] (and y + row_offsets[r]) and is at position row_pos[r] of the [T, d] tables.
void rope(const float *x, const int64_t *row_offsets, const int64_t *row_pos, int64_t rows,
          const float *cos, const float *sin, float *y, int64_t d);

// Sum over rows of logsumexp(logits[r]) - logits[r][target[r]], skipping ignore_index;
// *counted is the number of rows summed, *bad_target the first row whose target is out of
// [0, v) (-1 if none).
double nll_sum(const float *logits, const int64_t *target, int64_t rows, int64_t v,
               int64_t ignore_index, int64_t *counted, int64_t *bad_target);

}  // namespace gt::cpu
