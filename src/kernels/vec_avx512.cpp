// AVX-512 kernels (kernels/vec.h). Every function carries the target
// attribute, so this file compiles for the baseline target and its code runs
// only after cpu_supports(Isa::kAvx512). No standard-library templates are
// instantiated under the attribute (they could be merged with baseline copies).
#include "kernels/vec.h"

// GCC 12's AVX-512 headers initialise their _mm512_undefined_* values from
// themselves, which -Wuninitialized reports at every inlined use (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#define LIEQ_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")))

namespace lieq {
namespace {

// Lanes [0, r) set, r in [0, 16].
LIEQ_AVX512 inline __mmask16 first_lanes(int64_t r) {
  return __mmask16((uint32_t(1) << uint32_t(r)) - 1u);
}

// exp of 16 floats: n = round(x log2 e), r = x - n ln 2 (two-part ln 2),
// exp(r) = 1 + r + r^2 P(r) with Cephes' expf polynomial on |r| <= ln2 / 2,
// times 2^n applied as 2^(n/2) * 2^(n - n/2) so that results near the
// overflow and underflow limits (n in [-150, 128]) round once. NaN stays NaN.
LIEQ_AVX512 inline __m512 exp16(__m512 x) {
  const __m512 xc = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(89.0f)), _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
  p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
  const __m512i ni = _mm512_cvtps_epi32(n);
  const __m512i n1 = _mm512_srai_epi32(ni, 1);
  const __m512i n2 = _mm512_sub_epi32(ni, n1);
  const __m512i bias = _mm512_set1_epi32(127);
  const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
  const __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
  const __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x);
}

LIEQ_AVX512 void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    _mm512_storeu_ps(y + i, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  }
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    const __m256i h = _mm256_maskz_loadu_epi16(m, x + i);
    _mm512_mask_storeu_ps(y + i, m,
                          _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  }
}

LIEQ_AVX512 void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i,
                     _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
  }
}

// Sum of squares in double, as the scalar reference.
LIEQ_AVX512 inline void add_squares(__m512 v, __m512d& acc0, __m512d& acc1) {
  const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
  const __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
  acc0 = _mm512_fmadd_pd(lo, lo, acc0);
  acc1 = _mm512_fmadd_pd(hi, hi, acc1);
}

LIEQ_AVX512 void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t dim,
                          float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= dim; i += 16) add_squares(_mm512_loadu_ps(xr + i), acc0, acc1);
    if (i < dim) add_squares(_mm512_maskz_loadu_ps(first_lanes(dim - i), xr + i), acc0, acc1);
    const double ss = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
    const float scale = float(1.0 / __builtin_sqrt(ss / double(dim) + double(eps)));
    const __m512 vs = _mm512_set1_ps(scale);
    for (i = 0; i + 16 <= dim; i += 16)
      _mm512_storeu_ps(yr + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(xr + i), vs),
                                             _mm512_loadu_ps(w + i)));
    if (i < dim) {
      const __mmask16 m = first_lanes(dim - i);
      _mm512_mask_storeu_ps(yr + i, m,
                            _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + i), vs),
                                          _mm512_maskz_loadu_ps(m, w + i)));
    }
  }
}

LIEQ_AVX512 inline __m512 silu_mul16(__m512 g, __m512 u) {
  const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
  return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

LIEQ_AVX512 void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, silu_mul16(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    _mm512_mask_storeu_ps(
        out + i, m,
        silu_mul16(_mm512_maskz_loadu_ps(m, gate + i), _mm512_maskz_loadu_ps(m, up + i)));
  }
}

// max_i x[i] over n >= 1 values.
LIEQ_AVX512 float row_max(const float* x, int64_t n) {
  const __m512 neg_inf = _mm512_set1_ps(-__builtin_inff());
  __m512 vmax = neg_inf;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + i));
  if (i < n) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(neg_inf, first_lanes(n - i), x + i));
  return _mm512_reduce_max_ps(vmax);
}

LIEQ_AVX512 void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  const __mmask16 mt = first_lanes(n % 16);  // the tail after the full vectors
  int64_t i = 0;
  const __m512 mx = _mm512_set1_ps(row_max(x, n));
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), mx));
    _mm512_storeu_ps(x + i, e);
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  if (i < n) {
    const __m512 e =
        _mm512_maskz_mov_ps(mt, exp16(_mm512_sub_ps(_mm512_mask_loadu_ps(mx, mt, x + i), mx)));
    _mm512_mask_storeu_ps(x + i, mt, e);
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  const __m512 inv = _mm512_set1_ps(float(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(s0, s1))));
  for (i = 0; i + 16 <= n; i += 16)
    _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
  if (i < n) _mm512_mask_storeu_ps(x + i, mt, _mm512_mul_ps(_mm512_maskz_loadu_ps(mt, x + i), inv));
}

LIEQ_AVX512 float dot(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i + 16 <= n; i += 16)
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

LIEQ_AVX512 void axpy(float alpha, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    _mm512_mask_storeu_ps(
        y + i, m,
        _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

LIEQ_AVX512 void exp_row(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    _mm512_mask_storeu_ps(y + i, m, exp16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

LIEQ_AVX512 double log_sum_exp(const float* x, int64_t n) {
  const __m512 neg_inf = _mm512_set1_ps(-__builtin_inff());
  const __mmask16 mt = first_lanes(n % 16);  // the tail after the full vectors
  int64_t i = 0;
  const float mxf = row_max(x, n);
  const __m512 mx = _mm512_set1_ps(mxf);
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), mx));
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  if (i < n) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_mask_loadu_ps(neg_inf, mt, x + i), mx));
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  return double(mxf) + __builtin_log(_mm512_reduce_add_pd(_mm512_add_pd(s0, s1)));
}

}  // namespace

const VecKernels& vec_kernels_avx512() {
  static const VecKernels k{Isa::kAvx512, bf16_to_f32, f16_to_f32, rms_norm, silu_mul,
                            softmax,      dot,         axpy,       exp_row,  log_sum_exp};
  return k;
}

}  // namespace lieq
