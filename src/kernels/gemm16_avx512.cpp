// AVX-512 direct kernels of matmul_nt_16 (kernels/gemm16_kernels.h):
//   avx512      16-bit W rows converted 16 at a time, FMA into float
//               accumulators; blocks of up to 4 x rows by 4 W rows.
//   avx512bf16  BF16 W times x split into bf16 hi + lo (prepared once per
//               product), 32 products per vdpbf16ps; blocks of 1-2 x rows by
//               4 W rows or 3-4 by 2, hi and lo in separate accumulators (at
//               most 16 of 32 zmm registers); bound in kernels/gemm16.h.
// Target attributes as in kernels/vec_avx512.cpp; no standard templates here.
#include "kernels/gemm16_kernels.h"

// GCC 12's AVX-512 headers trip -Wuninitialized (GCC bug 105593), as in vec_avx512.cpp.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#define LIEQ_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")))
#define LIEQ_AVX512BF16 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c")))

namespace lieq {
namespace {

// ------------------------------------------------------- convert and FMA

template <Dtype16 DT>
LIEQ_AVX512 inline __m512 to_f32(__m256i h) {
  if constexpr (DT == Dtype16::kBf16)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  else
    return _mm512_cvtph_ps(h);
}

// y[i, r] (+)= x[i, :] . w[r, :] for i < MR, r < NR. x: [MR, k], w: [NR, k].
template <int MR, int NR, Dtype16 DT>
LIEQ_AVX512 void block(const float* x, const uint16_t* w, int64_t k, float* y, int64_t ldy,
                       bool accumulate) {
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int r = 0; r < NR; ++r) acc[i][r] = _mm512_setzero_ps();
  int64_t l = 0;
  for (; l + 16 <= k; l += 16) {
    __m512 wv[NR];
    for (int r = 0; r < NR; ++r)
      wv[r] = to_f32<DT>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * k + l)));
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_loadu_ps(x + i * k + l);
      for (int r = 0; r < NR; ++r) acc[i][r] = _mm512_fmadd_ps(xv, wv[r], acc[i][r]);
    }
  }
  if (l < k) {
    const __mmask16 mask = __mmask16((uint32_t(1) << uint32_t(k - l)) - 1u);
    __m512 wv[NR];
    for (int r = 0; r < NR; ++r) wv[r] = to_f32<DT>(_mm256_maskz_loadu_epi16(mask, w + r * k + l));
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + i * k + l);
      for (int r = 0; r < NR; ++r) acc[i][r] = _mm512_fmadd_ps(xv, wv[r], acc[i][r]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    for (int r = 0; r < NR; ++r) {
      const float s = _mm512_reduce_add_ps(acc[i][r]);
      float* o = y + i * ldy + r;
      *o = accumulate ? *o + s : s;
    }
  }
}

template <int MR, Dtype16 DT>
LIEQ_AVX512 void rows_of_w(const float* x, const uint16_t* w, int64_t n, int64_t k, float* y,
                           int64_t ldy, bool accumulate) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) block<MR, 4, DT>(x, w + j * k, k, y + j, ldy, accumulate);
  for (; j < n; ++j) block<MR, 1, DT>(x, w + j * k, k, y + j, ldy, accumulate);
}

// rows_of_w as dot_rows_grouped's register blocking.
struct RowsOfW {
  template <int MR, Dtype16 DT>
  static void run(const float* x, const uint16_t* w, int64_t n, int64_t k, float* y, int64_t ldy,
                  bool accumulate) {
    rows_of_w<MR, DT>(x, w, n, k, y, ldy, accumulate);
  }
};

int64_t no_prepared_floats(int64_t, int64_t) { return 0; }
void no_prepare(const float*, int64_t, int64_t, float*) {}

void dot_rows(const float* x, const float*, int64_t m, const uint16_t* w, Dtype16 dt, int64_t n,
              int64_t k, float* y, int64_t ldy, bool accumulate) {
  dot_rows_by_dtype<RowsOfW>(x, m, w, dt, n, k, y, ldy, accumulate);
}

// ------------------------------------------------------------- vdpbf16ps

// A prepared row of x: kp = k rounded up to 32 bf16 values of hi, then kp of
// lo (zero past k), i.e. kp floats of storage per row.
int64_t padded_k(int64_t k) { return (k + 31) / 32 * 32; }
int64_t bf16_prepared_floats(int64_t m, int64_t k) { return m * padded_k(k); }

LIEQ_AVX512BF16 void bf16_prepare(const float* x, int64_t m, int64_t k, float* xp) {
  const int64_t kp = padded_k(k);
  for (int64_t i = 0; i < m; ++i) {
    uint16_t* hi = reinterpret_cast<uint16_t*>(xp + i * kp);
    uint16_t* lo = hi + kp;
    for (int64_t l = 0; l < kp; l += 16) {
      const int64_t left = k - l;
      const __mmask16 mask =
          left >= 16 ? __mmask16(0xffff) : __mmask16(left <= 0 ? 0u : (1u << uint32_t(left)) - 1u);
      const __m512 v = _mm512_maskz_loadu_ps(mask, x + i * k + l);
      const __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
      const __m512 hf = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
      const __m256i r = (__m256i)_mm512_cvtneps_pbh(_mm512_sub_ps(v, hf));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi + l), h);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + l), r);
    }
  }
}

LIEQ_AVX512BF16 inline __m512 dp(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}

// acc (+)= w . xh and acc_lo (+)= w . xl for MR prepared rows and NR W rows
// at bf16 offset l (xp row stride kp floats = 2 kp bf16).
template <int MR, int NR>
LIEQ_AVX512BF16 inline void bf16_step(const float* xp, int64_t kp, const __m512i* wv, int64_t l,
                                      __m512 (&acc)[MR][NR], __m512 (&acc_lo)[MR][NR]) {
  for (int i = 0; i < MR; ++i) {
    const uint16_t* hi = reinterpret_cast<const uint16_t*>(xp + i * kp);
    const __m512i xh = _mm512_loadu_si512(hi + l);
    const __m512i xl = _mm512_loadu_si512(hi + kp + l);
    for (int r = 0; r < NR; ++r) {
      acc[i][r] = dp(acc[i][r], wv[r], xh);
      acc_lo[i][r] = dp(acc_lo[i][r], wv[r], xl);
    }
  }
}

// y[i, r] (+)= x[i, :] . w[r, :] for i < MR, r < NR; xp: MR prepared rows.
// Products with hi and with lo go to separate accumulators (independent
// chains: vdpbf16ps has a 6-cycle latency on Zen 4).
template <int MR, int NR>
LIEQ_AVX512BF16 void bf16_block(const float* xp, const uint16_t* w, int64_t k, float* y,
                                int64_t ldy, bool accumulate) {
  const int64_t kp = padded_k(k);
  __m512 acc[MR][NR], acc_lo[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int r = 0; r < NR; ++r) acc[i][r] = acc_lo[i][r] = _mm512_setzero_ps();
  int64_t l = 0;
  __m512i wv[NR];
  for (; l + 32 <= k; l += 32) {
    for (int r = 0; r < NR; ++r) wv[r] = _mm512_loadu_si512(w + r * k + l);
    bf16_step<MR, NR>(xp, kp, wv, l, acc, acc_lo);
  }
  if (l < k) {
    const __mmask32 mask = __mmask32((1u << uint32_t(k - l)) - 1u);
    for (int r = 0; r < NR; ++r) wv[r] = _mm512_maskz_loadu_epi16(mask, w + r * k + l);
    bf16_step<MR, NR>(xp, kp, wv, l, acc, acc_lo);
  }
  for (int i = 0; i < MR; ++i) {
    for (int r = 0; r < NR; ++r) {
      const float s = _mm512_reduce_add_ps(_mm512_add_ps(acc[i][r], acc_lo[i][r]));
      float* o = y + i * ldy + r;
      *o = accumulate ? *o + s : s;
    }
  }
}

// 4 W rows at a time for 1-2 x rows, 2 for 3-4 (at most 16 accumulators).
template <int MR>
LIEQ_AVX512BF16 void bf16_rows_of_w(const float* xp, const uint16_t* w, int64_t n, int64_t k,
                                    float* y, int64_t ldy, bool accumulate) {
  constexpr int kNr = MR <= 2 ? 4 : 2;
  int64_t j = 0;
  for (; j + kNr <= n; j += kNr) bf16_block<MR, kNr>(xp, w + j * k, k, y + j, ldy, accumulate);
  for (; j < n; ++j) bf16_block<MR, 1>(xp, w + j * k, k, y + j, ldy, accumulate);
}

// bf16_rows_of_w as dot_rows_grouped's register blocking (BF16 W only).
struct Bf16RowsOfW {
  template <int MR, Dtype16>
  static void run(const float* xp, const uint16_t* w, int64_t n, int64_t k, float* y,
                  int64_t ldy, bool accumulate) {
    bf16_rows_of_w<MR>(xp, w, n, k, y, ldy, accumulate);
  }
};

void bf16_dot_rows(const float* x, const float* xp, int64_t m, const uint16_t* w, Dtype16 dt,
                   int64_t n, int64_t k, float* y, int64_t ldy, bool accumulate) {
  if (dt == Dtype16::kF16) {  // vdpbf16ps has no F16 form
    dot_rows_by_dtype<RowsOfW>(x, m, w, dt, n, k, y, ldy, accumulate);
    return;
  }
  // xp: the prepared x, rows of padded_k(k) floats.
  dot_rows_grouped<Bf16RowsOfW, Dtype16::kBf16>(xp, padded_k(k), m, w, n, k, y, ldy, accumulate);
}

}  // namespace

const Gemm16Kernels& gemm16_kernels_avx512() {
  static const Gemm16Kernels k{Gemm16Path::kAvx512, Isa::kAvx512, no_prepared_floats, no_prepare,
                               dot_rows};
  return k;
}

const Gemm16Kernels& gemm16_kernels_avx512bf16() {
  static const Gemm16Kernels k{Gemm16Path::kAvx512Bf16, Isa::kAvx512, bf16_prepared_floats,
                               bf16_prepare, bf16_dot_rows};
  return k;
}

}  // namespace lieq
