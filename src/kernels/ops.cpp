#include "kernels/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/vec.h"

namespace lieq {

void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps) {
  vec().rms_norm(x, w, y, rows, dim, eps);
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  vec().silu_mul(gate, up, out, n);
}

void softmax(float* x, int64_t n) {
  vec().softmax(x, n);
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

RopeTable::RopeTable(std::vector<double> inv_freq, int64_t n_positions)
    : half_(int64_t(inv_freq.size())), inv_freq_(std::move(inv_freq)) {
  ensure(n_positions);
}

void RopeTable::ensure(int64_t n_positions) {
  if (n_positions <= n_positions_) return;
  cos_.resize(size_t(n_positions * half_));
  sin_.resize(size_t(n_positions * half_));
  for (int64_t p = n_positions_; p < n_positions; ++p) {
    for (int64_t i = 0; i < half_; ++i) {
      const double a = double(p) * inv_freq_[size_t(i)];
      cos_[size_t(p * half_ + i)] = float(std::cos(a));
      sin_[size_t(p * half_ + i)] = float(std::sin(a));
    }
  }
  n_positions_ = n_positions;
}

void RopeTable::apply(float* x, int64_t rows, int64_t n_heads, const int32_t* pos) const {
  const int64_t hd = 2 * half_;
  for (int64_t r = 0; r < rows; ++r) {
    const float* c = cos_.data() + int64_t(pos[r]) * half_;
    const float* s = sin_.data() + int64_t(pos[r]) * half_;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + (r * n_heads + h) * hd;
      for (int64_t i = 0; i < half_; ++i) {
        const float x0 = v[i], x1 = v[i + half_];
        v[i] = x0 * c[i] - x1 * s[i];
        v[i + half_] = x1 * c[i] + x0 * s[i];
      }
    }
  }
}

}  // namespace lieq
