#include "quant/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/gemm.h"
#include "util/error.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace lieq {

namespace {

void check_options(const AwqOptions& opt) {
  check(opt.n_grid >= 1, "AWQ options: alpha grid ", opt.n_grid, " must be at least 1");
  check(opt.search_rows >= 1, "AWQ options: search rows ", opt.search_rows, " must be at least 1");
  check(opt.clip_grid >= 1, "AWQ options: clip grid ", opt.clip_grid, " must be at least 1");
  check(opt.max_shrink >= 0.0f && opt.max_shrink < 1.0f, "AWQ options: max shrink ", opt.max_shrink,
        " must be in [0, 1)");
}

// d^T G d for d [n], G [n, n] with row stride ld. Float accumulation in 16
// lanes (n <= 1024), so the dot products vectorise (the clip search's cost).
__attribute__((target_clones("avx512f", "avx2", "default"))) float quadratic_form(const float* g,
                                                                                  int64_t ld,
                                                                                  const float* d,
                                                                                  int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float* gi = g + i * ld;
    float lane[16] = {};
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
      for (int k = 0; k < 16; ++k) lane[k] += gi[j + k] * d[j + k];
    float dot = 0.0f;
    for (; j < n; ++j) dot += gi[j] * d[j];
    for (int k = 0; k < 16; ++k) dot += lane[k];
    acc += d[i] * dot;
  }
  return acc;
}

}  // namespace

std::vector<float> mean_abs_columns(const float* x, int64_t rows, int64_t n) {
  std::vector<double> acc(size_t(n), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) acc[size_t(j)] += std::fabs(double(x[r * n + j]));
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j)
    out[size_t(j)] = float(acc[size_t(j)] / double(std::max<int64_t>(rows, 1)));
  return out;
}

std::vector<float> awq_scales(const std::vector<float>& mean_abs, double alpha) {
  std::vector<float> s(mean_abs.size());
  if (s.empty()) return s;
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (size_t j = 0; j < s.size(); ++j) {
    // pow(0, 0) = 1, as torch's.
    const double v = std::max(std::pow(double(mean_abs[j]), alpha), 1e-4);
    s[j] = float(v);
    lo = std::min(lo, double(s[j]));
    hi = std::max(hi, double(s[j]));
  }
  const double norm = std::sqrt(lo * hi);
  for (float& v : s) v = float(double(v) / norm);
  return s;
}

double awq_group_error(const std::vector<AwqWeight>& ws, int64_t n_in, const float* x, int64_t rows,
                       const std::vector<float>& scales) {
  check(int64_t(scales.size()) == n_in, "awq_group_error: ", scales.size(), " scales for ", n_in,
        " inputs");
  // Importance of the scaled input: mean (x / s)^2 per column.
  std::vector<double> imp_acc(size_t(n_in), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n_in; ++j) {
      const double v = double(x[r * n_in + j]) / double(scales[size_t(j)]);
      imp_acc[size_t(j)] += v * v;
    }
  std::vector<float> importance(static_cast<size_t>(n_in));
  for (int64_t j = 0; j < n_in; ++j)
    importance[size_t(j)] = float(imp_acc[size_t(j)] / double(std::max<int64_t>(rows, 1)));

  double err = 0;
  std::vector<float> scaled, d, y;
  for (const AwqWeight& aw : ws) {
    const int64_t n_out = aw.rows;
    const size_t n = size_t(n_out * n_in);
    scaled.resize(n);
    d.resize(n);
    for (int64_t r = 0; r < n_out; ++r)
      for (int64_t j = 0; j < n_in; ++j)
        scaled[size_t(r * n_in + j)] = aw.w[r * n_in + j] * scales[size_t(j)];
    const std::vector<float> q = aw.quantize(scaled.data(), n_out, n_in, importance.data());
    check(q.size() == n, "awq_group_error: quantizer returned ", q.size(), " values, not ", n);
    // D = W - Q(W diag(s)) diag(s)^-1, [n_out, n_in].
    for (int64_t r = 0; r < n_out; ++r)
      for (int64_t j = 0; j < n_in; ++j) {
        const size_t i = size_t(r * n_in + j);
        d[i] = aw.w[i] - q[i] / scales[size_t(j)];
      }
    y.resize(size_t(rows * n_out));
    matmul_nt(x, d.data(), y.data(), rows, n_out, n_in);  // [rows, n_out] = X D^T
    double e = 0;
    for (float v : y) e += double(v) * v;
    err += e;
  }
  return err;
}

AwqScaleSearch awq_search_scales(const std::vector<AwqWeight>& ws, int64_t n_in, const float* x,
                                 int64_t rows, const std::vector<float>& mean_abs,
                                 const AwqOptions& opt) {
  check_options(opt);
  check(int64_t(mean_abs.size()) == n_in, "awq_search_scales: ", mean_abs.size(),
        " statistics for ", n_in, " inputs");
  check(rows > 0, "awq_search_scales: no calibration rows");
  AwqScaleSearch best;
  for (int i = 0; i < opt.n_grid; ++i) {
    const double alpha = double(i) / opt.n_grid;
    std::vector<float> s = awq_scales(mean_abs, alpha);
    const double err = awq_group_error(ws, n_in, x, rows, s);
    if (i == 0) best.error_plain = err;
    if (i == 0 || err < best.error) {
      best.error = err;
      best.alpha = alpha;
      best.scales = std::move(s);
    }
  }
  return best;
}

QuantizedTensor awq_quantize_clipped(const float* w, int64_t rows, int64_t cols,
                                     const QuantSpec& spec, const float* gram,
                                     const AwqOptions& opt) {
  validate_spec(spec, "awq_quantize_clipped");
  check_options(opt);
  check(rows >= 0 && cols > 0, "awq_quantize_clipped: bad shape [", rows, ", ", cols, "]");
  QuantizedTensor qt = QuantizedTensor::empty(spec, rows, cols);
  const int64_t ng = qt.n_groups(), gc = spec.group_cols(cols), rb = qt.row_bytes();
  const int maxq = spec.maxq();
  const float fq = float(maxq);
  // Ratios 1 - i / clip_grid for i < max_shrink * clip_grid (the reference's range).
  const int n_cand =
      opt.clip ? std::max(1, int(std::ceil(double(opt.max_shrink) * opt.clip_grid - 1e-9))) : 1;
  const int64_t grain = std::max<int64_t>(1, 65536 / (cols * int64_t(n_cand) * 8));
  ThreadPool::global().parallel_for(0, rows, grain, [&](int64_t b, int64_t e, int) {
    std::vector<uint8_t> q(static_cast<size_t>(cols));
    std::vector<float> d(static_cast<size_t>(gc));
    for (int64_t r = b; r < e; ++r) {
      const float* wr = w + r * cols;
      for (int64_t c = 0; c < cols; ++c)
        check(std::isfinite(wr[c]), "awq_quantize_clipped: weight [", r, ", ", c, "] is ", wr[c]);
      for (int64_t g = 0; g < ng; ++g) {
        const int64_t c0 = g * gc, len = std::min(gc, cols - c0);
        const float* x = wr + c0;
        float lo = 0.0f, hi = 0.0f;
        for (int64_t k = 0; k < len; ++k) lo = std::min(lo, x[k]), hi = std::max(hi, x[k]);
        GroupParams best = params_from_range(lo, hi, spec, 1.0f);
        if (n_cand > 1 && hi - lo > 0.0f) {
          const float* gg = gram + c0 * cols + c0;  // the group's block of the Gram matrix
          float best_err = std::numeric_limits<float>::infinity();
          GroupParams prev{-1.0f, -1.0f};
          for (int i = 0; i < n_cand; ++i) {
            const float clip = float(1.0 - double(i) / opt.clip_grid);
            const GroupParams p = params_from_range(lo, hi, spec, clip);
            if (p.scale == prev.scale && p.zero == prev.zero) continue;
            prev = p;
            for (int64_t k = 0; k < len; ++k) {
              float v = std::nearbyint(x[k] / p.scale) + p.zero;
              v = v < 0.0f ? 0.0f : (v > fq ? fq : v);
              d[size_t(k)] = x[k] - p.scale * (v - p.zero);
            }
            const float err = quadratic_form(gg, cols, d.data(), len);
            if (err < best_err) {  // the largest ratio wins ties
              best_err = err;
              best = p;
            }
          }
        }
        quantize_values(x, len, best, maxq, q.data() + c0);
        qt.scales[size_t(r * ng + g)] = f32_to_f16(best.scale);
        if (!spec.symmetric) qt.zeros[size_t(r * ng + g)] = f32_to_f16(best.zero);
      }
      pack_codes(q.data(), cols, spec.bits, qt.codes.data() + r * rb);
    }
  });
  return qt;
}

}  // namespace lieq
