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

namespace {

// First key row visible to position p.
int64_t first_visible(const AttentionShape& s, int64_t p) {
  return s.window > 0 ? std::max<int64_t>(0, p - s.window + 1) : 0;
}

void scale_row(float* x, float alpha, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= alpha;
}

// max(init, x[0], ..., x[n-1]); eight independent chains instead of one.
float max_of(const float* x, int64_t n, float init) {
  float m[8] = {init, init, init, init, init, init, init, init};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) m[l] = std::max(m[l], x[i + l]);
  for (; i < n; ++i) m[0] = std::max(m[0], x[i]);
  for (int l = 1; l < 8; ++l) m[0] = std::max(m[0], m[l]);
  return m[0];
}

// kAttnKeyBlock ones: row sums as dot products and "x - m" as an axpy on the vector kernels.
const float* ones() {
  static const std::vector<float> v(static_cast<size_t>(kAttnKeyBlock), 1.0f);
  return v.data();
}

}  // namespace

void attention_rows(const float* q, const float* k, const float* v, float* out,
                    const AttentionShape& s, int64_t pos0, int64_t head, int64_t i_begin,
                    int64_t i_end, float* scratch) {
  if (i_end <= i_begin) return;
  // Keys visible to some row of the block: [first_visible(first row), last row's position].
  const int64_t n_visible = pos0 + i_end - first_visible(s, pos0 + i_begin);
  if (n_visible > kAttnMaterializedMaxKeys)
    attention_rows_fused(q, k, v, out, s, pos0, head, i_begin, i_end, scratch);
  else
    attention_rows_materialized(q, k, v, out, s, pos0, head, i_begin, i_end, scratch);
}

void attention_rows_materialized(const float* q, const float* k, const float* v, float* out,
                                 const AttentionShape& s, int64_t pos0, int64_t head,
                                 int64_t i_begin, int64_t i_end, float* scratch) {
  if (i_end <= i_begin) return;
  const int64_t hd = s.head_dim;
  const int64_t q_stride = s.n_heads * hd, kv_stride = s.n_kv_heads * hd;
  const int64_t kv_head = head / (s.n_heads / s.n_kv_heads);
  const int64_t rows = i_end - i_begin;
  // Keys visible to some row of the block: [j_lo, j_hi).
  const int64_t j_hi = pos0 + i_end;
  const int64_t j_lo = first_visible(s, pos0 + i_begin);
  const int64_t nk = j_hi - j_lo;
  const float scale = 1.0f / std::sqrt(float(hd));
  // scores[rows, nk] = scale * Q_block K^T
  sgemm(false, true, rows, nk, hd, scale, q + i_begin * q_stride + head * hd, q_stride,
        k + j_lo * kv_stride + kv_head * hd, kv_stride, 0.0f, scratch, nk);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = pos0 + i_begin + r;  // this row's position
    const int64_t lo = first_visible(s, p) - j_lo;
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

void attention_rows_fused(const float* q, const float* k, const float* v, float* out,
                          const AttentionShape& s, int64_t pos0, int64_t head, int64_t i_begin,
                          int64_t i_end, float* scratch) {
  if (i_end <= i_begin) return;
  const int64_t hd = s.head_dim;
  const int64_t q_stride = s.n_heads * hd, kv_stride = s.n_kv_heads * hd;
  const int64_t kv_head = head / (s.n_heads / s.n_kv_heads);
  const int64_t rows = i_end - i_begin;
  const int64_t p0 = pos0 + i_begin;  // position of the block's first row
  const float scale = 1.0f / std::sqrt(float(hd));
  const VecKernels& kern = vec();
  const float* one = ones();
  const float* qh = q + i_begin * q_stride + head * hd;  // [rows, hd], row stride q_stride
  const float* kh = k + kv_head * hd;                     // [keys, hd], row stride kv_stride
  const float* vh = v + kv_head * hd;                     // [keys, hd], row stride kv_stride
  float* oh = out + i_begin * q_stride + head * hd;       // [rows, hd], row stride q_stride
  float* probs = scratch;                                 // [rows, kAttnKeyBlock]
  float* row_max = scratch + rows * kAttnKeyBlock;        // [rows] max scaled score so far
  float* row_sum = row_max + rows;                        // [rows] sum of exp(score - row_max)
  for (int64_t r = 0; r < rows; ++r) {
    row_max[r] = -INFINITY;
    row_sum[r] = 0.0f;
    std::fill(oh + r * q_stride, oh + r * q_stride + hd, 0.0f);
  }
  // Keys visible to some row of the block: [j_lo, j_hi), walked in key blocks.
  const int64_t j_lo = first_visible(s, p0), j_hi = pos0 + i_end;
  for (int64_t jb = j_lo; jb < j_hi; jb += kAttnKeyBlock) {
    const int64_t je = std::min(j_hi, jb + kAttnKeyBlock), nkb = je - jb;
    // Rows [r_a, r_b) see some key of [jb, je): position >= jb (causal) and
    // first visible key < je (window). Both bounds grow with the row.
    const int64_t r_a = std::max<int64_t>(0, jb - p0);
    const int64_t r_b = s.window > 0 ? std::min(rows, je + s.window - 1 - p0) : rows;
    if (r_a >= r_b) continue;
    const int64_t nr = r_b - r_a;
    // probs[nr, nkb] = scale * Q[r_a:r_b] K[jb:je]^T
    sgemm(false, true, nr, nkb, hd, scale, qh + r_a * q_stride, q_stride, kh + jb * kv_stride,
          kv_stride, 0.0f, probs, nkb);
    for (int64_t r = r_a; r < r_b; ++r) {
      const int64_t p = p0 + r;
      // Visible columns [a, b) of this key block.
      const int64_t a = std::max(first_visible(s, p), jb) - jb;
      const int64_t b = std::min(p + 1, je) - jb;
      float* pr = probs + (r - r_a) * nkb;
      const float m = max_of(pr + a, b - a, row_max[r]);
      if (m > row_max[r]) {
        // The max grew: earlier terms shrink by exp(old - new) (0 on the first block).
        const float alpha = std::exp(row_max[r] - m);
        row_sum[r] *= alpha;
        scale_row(oh + r * q_stride, alpha, hd);
        row_max[r] = m;
      }
      kern.axpy(-m, one, pr + a, b - a);  // pr - m (an fma with 1: one rounding)
      kern.exp(pr + a, pr + a, b - a);
      row_sum[r] += kern.dot(pr + a, one, b - a);
      std::fill(pr, pr + a, 0.0f);
      std::fill(pr + b, pr + nkb, 0.0f);
    }
    // out[r_a:r_b, hd] += probs V[jb:je]
    sgemm(false, false, nr, hd, nkb, 1.0f, probs, nkb, vh + jb * kv_stride, kv_stride, 1.0f,
          oh + r_a * q_stride, q_stride);
  }
  // Every row sees at least its own key, so row_sum >= 1.
  for (int64_t r = 0; r < rows; ++r) scale_row(oh + r * q_stride, 1.0f / row_sum[r], hd);
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
