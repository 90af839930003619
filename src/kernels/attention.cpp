#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace lieq {

// 16 independent partial sums let the compiler vectorise without -ffast-math.
__attribute__((target_clones("avx512f", "avx2", "default")))
float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void axpy_f32(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void attention_rows(const float* q, const float* k, const float* v, float* out,
                    const AttentionShape& s, int64_t pos0, int64_t head, int64_t i_begin,
                    int64_t i_end, float* scratch) {
  const int64_t hd = s.head_dim;
  const int64_t q_stride = s.n_heads * hd, kv_stride = s.n_kv_heads * hd;
  const int64_t kv_head = head / (s.n_heads / s.n_kv_heads);
  const float scale = 1.0f / std::sqrt(float(hd));
  for (int64_t i = i_begin; i < i_end; ++i) {
    const int64_t p = pos0 + i;
    const int64_t j0 = s.window > 0 ? std::max<int64_t>(0, p - s.window + 1) : 0;
    const float* qi = q + i * q_stride + head * hd;
    float mx = -INFINITY;
    for (int64_t j = j0; j <= p; ++j) {
      const float sc = dot_f32(qi, k + j * kv_stride + kv_head * hd, hd) * scale;
      scratch[j] = sc;
      mx = std::max(mx, sc);
    }
    float sum = 0;
    for (int64_t j = j0; j <= p; ++j) {
      scratch[j] = std::exp(scratch[j] - mx);
      sum += scratch[j];
    }
    const float inv = 1.0f / sum;
    float* oi = out + i * q_stride + head * hd;
    std::fill(oi, oi + hd, 0.0f);
    for (int64_t j = j0; j <= p; ++j)
      axpy_f32(scratch[j] * inv, v + j * kv_stride + kv_head * hd, oi, hd);
  }
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
