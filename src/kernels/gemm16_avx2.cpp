// AVX2 (+FMA, F16C) direct kernels of matmul_nt_16 (kernels/gemm16_kernels.h):
// 16-bit W rows converted 8 at a time and multiplied into float accumulators,
// blocks of up to 4 x rows by 2 W rows (8 accumulators of 16 ymm registers).
// Target attributes as in kernels/vec_avx2.cpp; no standard templates here.
#include "kernels/gemm16_kernels.h"

#include <immintrin.h>

#define LIEQ_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace lieq {
namespace {

LIEQ_AVX2 inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

template <Dtype16 DT>
LIEQ_AVX2 inline __m256 load8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (DT == Dtype16::kBf16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  else
    return _mm256_cvtph_ps(h);
}

template <Dtype16 DT>
LIEQ_AVX2 inline float load1(uint16_t h) {
  if constexpr (DT == Dtype16::kBf16) {
    const __m128i v = _mm_cvtsi32_si128(int(uint32_t(h) << 16));
    return _mm_cvtss_f32(_mm_castsi128_ps(v));
  } else {
    return _cvtsh_ss(h);
  }
}

// y[i, r] (+)= x[i, :] . w[r, :] for i < MR, r < NR. x: [MR, k], w: [NR, k].
template <int MR, int NR, Dtype16 DT>
LIEQ_AVX2 void block(const float* x, const uint16_t* w, int64_t k, float* y, int64_t ldy,
                     bool accumulate) {
  __m256 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int r = 0; r < NR; ++r) acc[i][r] = _mm256_setzero_ps();
  int64_t l = 0;
  for (; l + 8 <= k; l += 8) {
    __m256 wv[NR];
    for (int r = 0; r < NR; ++r) wv[r] = load8<DT>(w + r * k + l);
    for (int i = 0; i < MR; ++i) {
      const __m256 xv = _mm256_loadu_ps(x + i * k + l);
      for (int r = 0; r < NR; ++r) acc[i][r] = _mm256_fmadd_ps(xv, wv[r], acc[i][r]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    for (int r = 0; r < NR; ++r) {
      float s = hsum(acc[i][r]);
      for (int64_t t = l; t < k; ++t) s += x[i * k + t] * load1<DT>(w[r * k + t]);
      float* o = y + i * ldy + r;
      *o = accumulate ? *o + s : s;
    }
  }
}

template <int MR, Dtype16 DT>
LIEQ_AVX2 void rows_of_w(const float* x, const uint16_t* w, int64_t n, int64_t k, float* y,
                         int64_t ldy, bool accumulate) {
  int64_t j = 0;
  for (; j + 2 <= n; j += 2) block<MR, 2, DT>(x, w + j * k, k, y + j, ldy, accumulate);
  if (j < n) block<MR, 1, DT>(x, w + j * k, k, y + j, ldy, accumulate);
}

// rows_of_w as dot_rows_grouped's register blocking.
struct RowsOfW {
  template <int MR, Dtype16 DT>
  static void run(const float* x, const uint16_t* w, int64_t n, int64_t k, float* y, int64_t ldy,
                  bool accumulate) {
    rows_of_w<MR, DT>(x, w, n, k, y, ldy, accumulate);
  }
};

int64_t prepared_floats(int64_t, int64_t) { return 0; }
void prepare(const float*, int64_t, int64_t, float*) {}

void dot_rows(const float* x, const float*, int64_t m, const uint16_t* w, Dtype16 dt, int64_t n,
              int64_t k, float* y, int64_t ldy, bool accumulate) {
  dot_rows_by_dtype<RowsOfW>(x, m, w, dt, n, k, y, ldy, accumulate);
}

}  // namespace

const Gemm16Kernels& gemm16_kernels_avx2() {
  static const Gemm16Kernels k{Gemm16Path::kAvx2, Isa::kAvx2, prepared_floats, prepare, dot_rows};
  return k;
}

}  // namespace lieq
