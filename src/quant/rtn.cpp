#include "quant/rtn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "util/error.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace lieq {

namespace {

constexpr float kRound = 12582912.0f;  // 1.5 * 2^23, see qspec.cpp


// a^p for a >= 0, p > 0, as exp2(p * log2(a)) with polynomials: relative
// error below 1e-6, plain arithmetic so the search loop vectorises (std::pow
// per element made the clipping search ~20x slower). Values below 1e-30
// count as 0.
inline float fast_pow(float a, float p) {
  const float x = a < 1e-30f ? 1e-30f : a;
  // x = 2^e * m with m in [sqrt(1/2), sqrt(2)).
  const uint32_t u = f32_to_bits(x);
  const int32_t e = int32_t(u - 0x3f3504f3u) >> 23;
  const float m = bits_to_f32(u - (uint32_t(e) << 23));
  // log2(m) = 2 / ln 2 * atanh(t), t = (m - 1) / (m + 1), |t| < 0.172.
  const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  const float atanh_t = t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7))));
  float y = p * (float(e) + 2.8853900817779268f * atanh_t);
  y = y < -126.0f ? -126.0f : (y > 126.0f ? 126.0f : y);
  // 2^y = 2^k * exp(f ln 2), k = round(y), |f| <= 1/2.
  const float kf = (y + kRound) - kRound;
  const float f = (y - kf) * 0.69314718055994531f;
  const float ef =
      1.0f + f * (1.0f + f * (0.5f + f * (1.0f / 6 + f * (1.0f / 24 + f * (1.0f / 120 + f * (1.0f / 720))))));
  const float two_k = bits_to_f32(uint32_t(int32_t(kf) + 127) << 23);
  return a < 1e-30f ? 0.0f : two_k * ef;
}

// Sum over x[0, n) of |x - x'|^norm (x' the dequantized value under (s, z)).
template <bool kSquare>
inline float err_term(float x, float s, float z, float fq, float norm) {
  float v = ((x / s + kRound) - kRound) + z;  // quantize_value, see qspec.cpp
  v = v > fq ? fq : v;
  v = v < 0.0f ? 0.0f : v;
  const float d = x - s * (v - z);
  if constexpr (kSquare) {
    return d * d;
  } else {
    return fast_pow(d < 0.0f ? -d : d, norm);
  }
}

template <bool kSquare>
inline float group_error_impl(const float* x, int64_t n, float s, float z, float fq, float norm) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += err_term<kSquare>(x[i + j], s, z, fq, norm);
  float r = 0.0f;
  for (; i < n; ++i) r += err_term<kSquare>(x[i], s, z, fq, norm);
  for (int j = 0; j < 16; ++j) r += acc[j];
  return r;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
float group_error(const float* x, int64_t n, float s, float z, float fq, float norm) {
  if (norm == 2.0f) return group_error_impl<true>(x, n, s, z, fq, norm);
  return group_error_impl<false>(x, n, s, z, fq, norm);
}

void check_options(const RtnOptions& opt) {
  check(opt.clip_grid >= 1, "RTN options: clip grid ", opt.clip_grid, " must be at least 1");
  check(opt.min_clip > 0.0f && opt.min_clip <= 1.0f, "RTN options: smallest clip ratio ",
        opt.min_clip, " must be in (0, 1]");
  check(opt.norm > 0.0f && std::isfinite(opt.norm), "RTN options: error norm ", opt.norm,
        " must be positive");
}

}  // namespace

GroupParams search_group_params(const float* x, int64_t n, const QuantSpec& spec,
                                const RtnOptions& opt) {
  check_options(opt);
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const GroupParams full = params_from_range(lo, hi, spec, 1.0f);
  if (!(hi - lo > 0.0f)) return full;  // all zero: nothing to clip
  const float fq = float(spec.maxq());
  // Ratios 1 - i / grid for i = 0 .. (1 - min_clip) * grid (min_clip included
  // when it is on the grid); the first (largest) ratio wins ties.
  const int n_cand = int(std::floor((1.0 - double(opt.min_clip)) * opt.clip_grid + 1e-6)) + 1;
  GroupParams best = full;
  float best_err = group_error(x, n, full.scale, full.zero, fq, opt.norm);
  for (int i = 1; i < n_cand; ++i) {
    const float clip = float(1.0 - double(i) / opt.clip_grid);
    const GroupParams p = params_from_range(lo, hi, spec, clip);
    if (p.scale == best.scale && p.zero == best.zero) continue;
    const float err = group_error(x, n, p.scale, p.zero, fq, opt.norm);
    if (err < best_err) {
      best_err = err;
      best = p;
    }
  }
  return best;
}

QuantizedTensor quantize_rtn(const float* w, int64_t rows, int64_t cols, const QuantSpec& spec,
                             const RtnOptions& opt) {
  validate_spec(spec, "quantize_rtn");
  check(rows >= 0 && cols > 0, "quantize_rtn: bad shape [", rows, ", ", cols, "]");
  if (opt.mse_clip) check_options(opt);
  QuantizedTensor qt = QuantizedTensor::empty(spec, rows, cols);
  const int64_t ng = qt.n_groups(), gc = spec.group_cols(cols), rb = qt.row_bytes();
  const int maxq = spec.maxq();
  const int64_t work_per_row = cols * (opt.mse_clip ? 40 : 1);
  const int64_t grain = std::max<int64_t>(1, 65536 / work_per_row);
  ThreadPool::global().parallel_for(0, rows, grain, [&](int64_t b, int64_t e, int) {
    std::vector<uint8_t> q(static_cast<size_t>(cols));
    for (int64_t r = b; r < e; ++r) {
      const float* wr = w + r * cols;
      for (int64_t c = 0; c < cols; ++c)
        check(std::isfinite(wr[c]), "quantize_rtn: weight [", r, ", ", c, "] is ", wr[c]);
      for (int64_t g = 0; g < ng; ++g) {
        const int64_t c0 = g * gc, len = std::min(gc, cols - c0);
        const GroupParams p = opt.mse_clip ? search_group_params(wr + c0, len, spec, opt)
                                           : group_params(wr + c0, len, spec);
        quantize_values(wr + c0, len, p, maxq, q.data() + c0);
        qt.scales[size_t(r * ng + g)] = f32_to_f16(p.scale);
        if (!spec.symmetric) qt.zeros[size_t(r * ng + g)] = f32_to_f16(p.zero);
      }
      pack_codes(q.data(), cols, spec.bits, qt.codes.data() + r * rb);
    }
  });
  return qt;
}

}  // namespace lieq
