#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "kernels/vec.h"

namespace lieq {

float dot_f32(const float* a, const float* b, int64_t n) {
  return vec().dot(a, b, n);
}

void axpy_f32(float alpha, const float* x, float* y, int64_t n) {
  vec().axpy(alpha, x, y, n);
}

void attention_rows(const float* q, const float* k, const float* v, float* out,
                    const AttentionShape& s, int64_t pos0, int64_t head, int64_t i_begin,
                    int64_t i_end, float* scratch) {
  if (i_end <= i_begin) return;
  const int64_t hd = s.head_dim;
  const int64_t q_stride = s.n_heads * hd, kv_stride = s.n_kv_heads * hd;
  const int64_t kv_head = head / (s.n_heads / s.n_kv_heads);
  const int64_t rows = i_end - i_begin;
  // Keys visible to some row of the block: [j_lo, j_hi).
  const int64_t j_hi = pos0 + i_end;
  const int64_t j_lo = s.window > 0 ? std::max<int64_t>(0, pos0 + i_begin - s.window + 1) : 0;
  const int64_t nk = j_hi - j_lo;
  const float scale = 1.0f / std::sqrt(float(hd));
  // scores[rows, nk] = scale * Q_block K^T
  sgemm(false, true, rows, nk, hd, scale, q + i_begin * q_stride + head * hd, q_stride,
        k + j_lo * kv_stride + kv_head * hd, kv_stride, 0.0f, scratch, nk);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = pos0 + i_begin + r;  // this row's position
    const int64_t lo = s.window > 0 ? std::max<int64_t>(0, p - s.window + 1) - j_lo : 0;
    const int64_t hi = p + 1 - j_lo;  // exclusive
    float* sr = scratch + r * nk;
    for (int64_t j = 0; j < lo; ++j) sr[j] = 0.0f;
    softmax(sr + lo, hi - lo);
    for (int64_t j = hi; j < nk; ++j) sr[j] = 0.0f;
  }
  // out[rows, hd] = P V
  sgemm(false, false, rows, hd, nk, 1.0f, scratch, nk, v + j_lo * kv_stride + kv_head * hd,
        kv_stride, 0.0f, out + i_begin * q_stride + head * hd, q_stride);
}

void attention_ref(const float* q, const float* k, const float* v, float* out,
                   const AttentionShape& s, int64_t pos0, int64_t n_q) {
  const int64_t hd = s.head_dim;
  const int64_t q_stride = s.n_heads * hd, kv_stride = s.n_kv_heads * hd;
  const int64_t group = s.n_heads / s.n_kv_heads;
  std::vector<double> w(size_t(pos0 + n_q));
  for (int64_t h = 0; h < s.n_heads; ++h) {
    const int64_t kh = h / group;
    for (int64_t i = 0; i < n_q; ++i) {
      const int64_t p = pos0 + i;
      const int64_t j0 = s.window > 0 ? std::max<int64_t>(0, p - s.window + 1) : 0;
      double mx = -INFINITY;
      for (int64_t j = j0; j <= p; ++j) {
        double d = 0;
        for (int64_t c = 0; c < hd; ++c)
          d += double(q[i * q_stride + h * hd + c]) * double(k[j * kv_stride + kh * hd + c]);
        w[size_t(j)] = d / std::sqrt(double(hd));
        mx = std::max(mx, w[size_t(j)]);
      }
      double sum = 0;
      for (int64_t j = j0; j <= p; ++j) sum += (w[size_t(j)] = std::exp(w[size_t(j)] - mx));
      for (int64_t c = 0; c < hd; ++c) {
        double o = 0;
        for (int64_t j = j0; j <= p; ++j) o += w[size_t(j)] * double(v[j * kv_stride + kh * hd + c]);
        out[i * q_stride + h * hd + c] = float(o / sum);
      }
    }
  }
}

}  // namespace lieq
