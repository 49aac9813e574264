// cpu_kernels.cpp - fused float32 CPU kernels for the model's inference path.
//
// A LLaMA forward pass spends most of its time in matrix products, which libtorch does well.
// Around them are short chains of elementwise operations (RMSNorm: square, mean, add, rsqrt,
// two multiplies; rotary embeddings: slice, negate, concatenate, two multiplies, an add), each
// ATen op one pass over memory plus a dispatch, and the loss over the logits, where
// log_softmax writes a second copy of a window's 100 MB of logits before one value per row is
// read back. Here each chain is one pass, and the loss reads the logits without writing any.
// A fused SwiGLU (silu times up) was tried and dropped: on the AVX-512 machine it was measured
// on it was no faster than ATen's two vectorised passes.
//
// These kernels have no backward: fused.cpp offers them only when no gradient is needed,
// and the composite ATen formula runs otherwise. Numerics:
//  - rotary: the same operations in the same order as HF's `q*cos + rotate_half(q)*sin`, so the
//    result is bit-identical (this file is compiled with -ffp-contract=off, which keeps the
//    compiler from fusing a multiply and an add into one rounding);
//  - RMSNorm: the same formula; the sum of squares is accumulated in another order than ATen's
//    reduction, so results differ from the composite by a few units in the last place;
//  - log-sum-exp uses the exponential below (range reduction to 2^n * e^r and a polynomial on
//    |r| <= ln2/2, within 2 ulp) and sums each row in float lanes, the rows in double.
// Vector paths: AVX-512 or AVX2 + FMA, chosen once at run time. A CPU with neither (or another
// architecture) keeps ATen's own kernels: a portable scalar version measured 7x slower than
// ATen on the loss, so there is none.

#include "cpu_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GT_X86 1
#endif

namespace gt::cpu {
namespace {

#if GT_X86
bool has_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

#define GT_AVX2 __attribute__((target("avx2,fma")))

// e^x = 2^n * e^r with n = round(x / ln2), r = x - n*ln2 (ln2 in a high part exact in float and a
// low correction) and e^r = 1 + r + r^2 * P(r), P of degree 5: the coefficients of the classic
// Cephes expf polynomial (public domain), shared by both vector widths below.
constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kExpP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

// e^x for 8 floats, with 2^n built in the exponent field. Inputs are clamped to where 2^n is a
// normal float; NaN passes through.
GT_AVX2 inline __m256 exp8(__m256 x) {
  // hi keeps n <= 127 (e^88 = 1.65e38); lo keeps n >= -126 (the smallest normal float).
  const __m256 hi = _mm256_set1_ps(88.0f), lo = _mm256_set1_ps(-87.3365478515625f);
  x = _mm256_max_ps(lo, _mm256_min_ps(hi, x));  // operand order keeps a NaN in x
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kExpP[0]);
  for (int k = 1; k < 6; ++k) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP[k]));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

GT_AVX2 inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

GT_AVX2 inline float hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

GT_AVX2 void rms_norm_avx2(const float *x, const float *w, float *y, int64_t d, float eps) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    acc0 = _mm256_add_ps(acc0, _mm256_mul_ps(a, a));
    acc1 = _mm256_add_ps(acc1, _mm256_mul_ps(b, b));
  }
  float ss = hsum8(_mm256_add_ps(acc0, acc1));
  for (; i < d; ++i) ss += x[i] * x[i];
  float inv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
  __m256 vi = _mm256_set1_ps(inv);
  i = 0;
  for (; i + 8 <= d; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vi);
    if (w != nullptr) v = _mm256_mul_ps(_mm256_loadu_ps(w + i), v);
    _mm256_storeu_ps(y + i, v);
  }
  for (; i < d; ++i) y[i] = w != nullptr ? w[i] * (x[i] * inv) : x[i] * inv;
}

GT_AVX2 void rope_avx2(const float *x, const float *c, const float *s, float *y, int64_t half) {
  int64_t i = 0;
  for (; i + 8 <= half; i += 8) {
    __m256 x1 = _mm256_loadu_ps(x + i), x2 = _mm256_loadu_ps(x + half + i);
    __m256 c1 = _mm256_loadu_ps(c + i), c2 = _mm256_loadu_ps(c + half + i);
    __m256 s1 = _mm256_loadu_ps(s + i), s2 = _mm256_loadu_ps(s + half + i);
    __m256 nx2 = _mm256_sub_ps(_mm256_setzero_ps(), x2);
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_mul_ps(x1, c1), _mm256_mul_ps(nx2, s1)));
    _mm256_storeu_ps(y + half + i, _mm256_add_ps(_mm256_mul_ps(x2, c2), _mm256_mul_ps(x1, s2)));
  }
  for (; i < half; ++i) {
    y[i] = x[i] * c[i] + (-x[half + i]) * s[i];
    y[half + i] = x[half + i] * c[half + i] + x[i] * s[half + i];
  }
}

// log(sum(exp(x))) of one row: its maximum, then the sum of exp(x - max) (the row is read twice;
// a vocabulary-sized row stays in the L2 cache between the passes).
GT_AVX2 double logsumexp_avx2(const float *x, int64_t v) {
  __m256 m8 = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + 8 <= v; i += 8) m8 = _mm256_max_ps(m8, _mm256_loadu_ps(x + i));
  float m = hmax8(m8);
  for (; i < v; ++i) m = std::fmax(m, x[i]);
  if (std::isinf(m)) return m;  // all -inf (or a +inf): as log_softmax, no finite answer
  __m256 vm = _mm256_set1_ps(m), acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  i = 0;
  for (; i + 16 <= v; i += 16) {
    acc0 = _mm256_add_ps(acc0, exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm)));
    acc1 = _mm256_add_ps(acc1, exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm)));
  }
  double sum = hsum8(_mm256_add_ps(acc0, acc1));
  for (; i < v; ++i) sum += std::exp(x[i] - m);
  return m + std::log(sum);
}

// GCC 12 warns about the deliberately undefined pass-through operand of some AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// The AVX-512 version of the exponential-heavy kernel: e^x as above, with the scaling by 2^n done
// by vscalefps, which gives 0 and inf at the ends of the range.
bool has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
}

#define GT_AVX512 __attribute__((target("avx512f")))

GT_AVX512 inline __m512 exp16(__m512 x) {
  // Far enough out that 2^n is 0 or inf anyway, so n and r stay small; a NaN in x survives.
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kExpP[0]);
  for (int k = 1; k < 6; ++k) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpP[k]));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

GT_AVX512 double logsumexp_avx512(const float *x, int64_t v) {
  __m512 m16 = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + 16 <= v; i += 16) m16 = _mm512_max_ps(m16, _mm512_loadu_ps(x + i));
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, m16);
  float m = lanes[0];
  for (int k = 1; k < 16; ++k) m = std::fmax(m, lanes[k]);
  for (; i < v; ++i) m = std::fmax(m, x[i]);
  if (std::isinf(m)) return m;
  __m512 vm = _mm512_set1_ps(m), acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  i = 0;
  for (; i + 32 <= v; i += 32) {
    acc0 = _mm512_add_ps(acc0, exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm)));
    acc1 = _mm512_add_ps(acc1, exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm)));
  }
  _mm512_store_ps(lanes, _mm512_add_ps(acc0, acc1));
  double sum = 0;
  for (int k = 0; k < 16; ++k) sum += lanes[k];
  for (; i < v; ++i) sum += std::exp(x[i] - m);
  return m + std::log(sum);
}
#endif  // GT_X86

// The most capable path this CPU runs: 2 (AVX-512), 1 (AVX2 + FMA) or 0 (none).
int cpu_level() {
#if GT_X86
  return has_avx512() ? 2 : has_avx2() ? 1 : 0;
#else
  return 0;
#endif
}

std::atomic<int> g_cap{2};  // level() lowers it, so tests can run every path on one machine

int current_level() { return std::min(cpu_level(), g_cap.load(std::memory_order_relaxed)); }

// Rows per parallel task: enough work to amortise a task (~16k elements).
int64_t grain(int64_t row) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(row, 1)); }

[[noreturn]] void no_vector_path() {
  throw std::logic_error("growthtorch: fused CPU kernel called without a vector path");
}

}  // namespace

int level(int cap) {
  if (cap >= 0) g_cap.store(std::min(cap, 2));
  return current_level();
}

void rms_norm(const float *x, const float *w, float *y, int64_t rows, int64_t d, float eps) {
  if (current_level() < 1) no_vector_path();
#if GT_X86
  at::parallel_for(0, rows, grain(d), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) rms_norm_avx2(x + r * d, w, y + r * d, d, eps);
  });
#endif
}

void rope(const float *x, const int64_t *row_offsets, const int64_t *row_pos, int64_t rows,
          const float *cos, const float *sin, float *y, int64_t d) {
  if (current_level() < 1) no_vector_path();
#if GT_X86
  at::parallel_for(0, rows, grain(d), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      rope_avx2(x + row_offsets[r], cos + row_pos[r] * d, sin + row_pos[r] * d,
                y + row_offsets[r], d / 2);
    }
  });
#endif
}

double nll_sum(const float *logits, const int64_t *target, int64_t rows, int64_t v,
               int64_t ignore_index, int64_t *counted, int64_t *bad_target) {
  const int lv = current_level();
  if (lv < 1) no_vector_path();
  *bad_target = -1;
  *counted = 0;
  double sum = 0;
#if GT_X86
  // Each task sums its rows in double; tasks are combined in a fixed order afterwards, so the
  // result does not depend on the thread schedule.
  const int64_t g = grain(v);
  const int64_t tasks = (rows + g - 1) / g;
  std::vector<double> part(tasks, 0.0);
  std::vector<int64_t> cnt(tasks, 0), bad(tasks, -1);
  at::parallel_for(0, tasks, 1, [&](int64_t tb, int64_t te) {
    for (int64_t t = tb; t < te; ++t) {
      for (int64_t r = t * g; r < std::min(rows, (t + 1) * g); ++r) {
        int64_t k = target[r];
        if (k == ignore_index) continue;
        if (k < 0 || k >= v) {
          if (bad[t] < 0) bad[t] = r;
          continue;
        }
        const float *row = logits + r * v;
        double lse = lv == 2 ? logsumexp_avx512(row, v) : logsumexp_avx2(row, v);
        part[t] += lse - static_cast<double>(row[k]);
        ++cnt[t];
      }
    }
  });
  for (int64_t t = 0; t < tasks; ++t) {
    sum += part[t];
    *counted += cnt[t];
    if (bad[t] >= 0 && *bad_target < 0) *bad_target = bad[t];
  }
#endif
  return sum;
}

}  // namespace gt::cpu
