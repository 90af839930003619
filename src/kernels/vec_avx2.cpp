// AVX2 + FMA + F16C kernels (kernels/vec.h), the same algorithms as the
// AVX-512 ones on 8 lanes. Every function carries the target attribute (see
// vec_avx512.cpp). Tails of fewer than 8 elements go through an 8-float buffer.
#include <immintrin.h>

#include <cstring>

#include "kernels/vec.h"

#define LIEQ_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace lieq {
namespace {

// See exp16 in vec_avx512.cpp.
LIEQ_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 xc = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(89.0f)), _mm256_set1_ps(-104.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  const __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

LIEQ_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

LIEQ_AVX2 inline double hsum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

LIEQ_AVX2 inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Loads r < 8 floats into the low lanes, the rest set to fill.
LIEQ_AVX2 inline __m256 load_tail(const float* p, int64_t r, float fill) {
  float buf[8] = {fill, fill, fill, fill, fill, fill, fill, fill};
  std::memcpy(buf, p, size_t(r) * sizeof(float));
  return _mm256_loadu_ps(buf);
}
LIEQ_AVX2 inline void store_tail(float* p, int64_t r, __m256 v) {
  float buf[8];
  _mm256_storeu_ps(buf, v);
  std::memcpy(p, buf, size_t(r) * sizeof(float));
}
LIEQ_AVX2 inline __m128i load_tail_u16(const uint16_t* p, int64_t r) {
  uint16_t buf[8] = {};
  std::memcpy(buf, p, size_t(r) * sizeof(uint16_t));
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf));
}

LIEQ_AVX2 inline __m256 bf16x8(__m128i h) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

LIEQ_AVX2 void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, bf16x8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  if (i < n) store_tail(y + i, n - i, bf16x8(load_tail_u16(x + i, n - i)));
}

LIEQ_AVX2 void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  if (i < n) store_tail(y + i, n - i, _mm256_cvtph_ps(load_tail_u16(x + i, n - i)));
}

LIEQ_AVX2 inline void add_squares(__m256 v, __m256d& acc0, __m256d& acc1) {
  const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
  const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
  acc0 = _mm256_fmadd_pd(lo, lo, acc0);
  acc1 = _mm256_fmadd_pd(hi, hi, acc1);
}

LIEQ_AVX2 void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t dim,
                        float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= dim; i += 8) add_squares(_mm256_loadu_ps(xr + i), acc0, acc1);
    if (i < dim) add_squares(load_tail(xr + i, dim - i, 0.0f), acc0, acc1);
    const double ss = hsum(_mm256_add_pd(acc0, acc1));
    const float scale = float(1.0 / __builtin_sqrt(ss / double(dim) + double(eps)));
    const __m256 vs = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= dim; i += 8)
      _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vs),
                                             _mm256_loadu_ps(w + i)));
    if (i < dim)
      store_tail(yr + i, dim - i,
                 _mm256_mul_ps(_mm256_mul_ps(load_tail(xr + i, dim - i, 0.0f), vs),
                               load_tail(w + i, dim - i, 0.0f)));
  }
}

LIEQ_AVX2 inline __m256 silu_mul8(__m256 g, __m256 u) {
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

LIEQ_AVX2 void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, silu_mul8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  if (i < n)
    store_tail(out + i, n - i,
               silu_mul8(load_tail(gate + i, n - i, 0.0f), load_tail(up + i, n - i, 0.0f)));
}

// s0 += e[0:4], s1 += e[4:8] in double.
LIEQ_AVX2 inline void add_pd(__m256 e, __m256d& s0, __m256d& s1) {
  s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
  s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
}

// max_i x[i] over n >= 1 values.
LIEQ_AVX2 float row_max(const float* x, int64_t n) {
  __m256 vmax = _mm256_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  if (i < n) vmax = _mm256_max_ps(vmax, load_tail(x + i, n - i, -__builtin_inff()));
  return hmax(vmax);
}

LIEQ_AVX2 void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  const float neg_inf = -__builtin_inff();
  int64_t i = 0;
  const int64_t rt = n % 8;  // tail after the full vectors
  const float mxf = row_max(x, n);
  const __m256 mx = _mm256_set1_ps(mxf);
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mx));
    _mm256_storeu_ps(x + i, e);
    add_pd(e, s0, s1);
  }
  if (rt > 0) {
    // Lanes past the end hold -inf, whose exp is 0.
    const __m256 e = exp8(_mm256_sub_ps(load_tail(x + i, rt, neg_inf), mx));
    store_tail(x + i, rt, e);
    add_pd(e, s0, s1);
  }
  const __m256 inv = _mm256_set1_ps(float(1.0 / hsum(_mm256_add_pd(s0, s1))));
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  if (rt > 0) store_tail(x + i, rt, _mm256_mul_ps(load_tail(x + i, rt, 0.0f), inv));
}

LIEQ_AVX2 float dot(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  if (i < n)
    acc1 = _mm256_fmadd_ps(load_tail(a + i, n - i, 0.0f), load_tail(b + i, n - i, 0.0f), acc1);
  return hsum(_mm256_add_ps(acc0, acc1));
}

LIEQ_AVX2 void axpy(float alpha, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  if (i < n)
    store_tail(y + i, n - i,
               _mm256_fmadd_ps(va, load_tail(x + i, n - i, 0.0f), load_tail(y + i, n - i, 0.0f)));
}

LIEQ_AVX2 void exp_row(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
  if (i < n) store_tail(y + i, n - i, exp8(load_tail(x + i, n - i, 0.0f)));
}

LIEQ_AVX2 double log_sum_exp(const float* x, int64_t n) {
  const float neg_inf = -__builtin_inff();
  int64_t i = 0;
  const int64_t rt = n % 8;  // tail after the full vectors
  const float mxf = row_max(x, n);
  const __m256 mx = _mm256_set1_ps(mxf);
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  for (i = 0; i + 8 <= n; i += 8) add_pd(exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mx)), s0, s1);
  if (rt > 0) add_pd(exp8(_mm256_sub_ps(load_tail(x + i, rt, neg_inf), mx)), s0, s1);
  return double(mxf) + __builtin_log(hsum(_mm256_add_pd(s0, s1)));
}

}  // namespace

const VecKernels& vec_kernels_avx2() {
  static const VecKernels k{Isa::kAvx2, bf16_to_f32, f16_to_f32, rms_norm, silu_mul,
                            softmax,    dot,         axpy,       exp_row,  log_sum_exp};
  return k;
}

}  // namespace lieq
