// Row-wise operations of the decoder: RMSNorm, rotary embedding, SwiGLU,
// softmax. RMSNorm, SwiGLU and softmax run on the active instruction-set path
// of kernels/vec.h, whose scalar reference the tests check the fast paths against.
#pragma once

#include <cstdint>
#include <vector>

namespace lieq {

// y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w   for r in [0, rows); y may alias x.
void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps);

// out[i] = silu(gate[i]) * up[i] for n elements; out may alias gate.
void silu_mul(const float* gate, const float* up, float* out, int64_t n);

// In-place softmax of x[0, n).
void softmax(float* x, int64_t n);

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n);

// Rotary embedding in the Hugging Face layout (rotate_half: dimension i pairs
// with i + head_dim/2). Holds cos/sin for positions [0, n_positions).
class RopeTable {
 public:
  RopeTable() = default;
  // inv_freq: [head_dim / 2] angular frequencies (after any rope scaling).
  RopeTable(std::vector<double> inv_freq, int64_t n_positions);
  // Rotates x: rows of n_heads * head_dim values; row r has position pos[r].
  void apply(float* x, int64_t rows, int64_t n_heads, const int32_t* pos) const;
  int64_t n_positions() const { return n_positions_; }
  // Grows the table when needed (not thread-safe; call before parallel use).
  void ensure(int64_t n_positions);

 private:
  int64_t half_ = 0, n_positions_ = 0;
  std::vector<double> inv_freq_;
  std::vector<float> cos_, sin_;  // [n_positions, half]
};

}  // namespace lieq
