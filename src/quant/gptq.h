// GPTQ (Frantar et al. 2022) as a small class that sees only W and H:
//   add_batch(X) accumulates H = 2 X^T X / n over calibration rows of the
//   layer's input; quantize(W) then quantizes W column by column, compensating
//   each column's rounding error on the columns not yet quantized, using the
//   Cholesky factor of H^-1. The driver decides which layers and in which order.
#pragma once

#include <cstdint>
#include <vector>

#include "quant/qspec.h"
#include "quant/rtn.h"

namespace lieq {

struct GptqOptions {
  double damp = 0.01;       // added to the diagonal: damp * mean(diag(H))
  int64_t block_size = 128; // columns per lazy-update block
  bool act_order = false;   // quantize columns in order of decreasing diag(H);
                            // group parameters are then fixed up front from W
                            // (static groups) so groups stay contiguous
  RtnOptions rtn;           // group parameter search (mse_clip)
};

struct GptqResult {
  QuantizedTensor q;
  double loss = 0;  // sum over rows of (w - q)^2 / d^2 terms, GPTQ's proxy
                    // (halved, as the reference's Losses)
  double damp = 0;  // damping used: opt.damp, or 10x, 100x ... after a failed Cholesky
};

class Gptq {
 public:
  explicit Gptq(int64_t n_in);
  // x: [rows, n_in] inputs of the layer (one row per token).
  void add_batch(const float* x, int64_t rows);
  int64_t n_samples() const { return n_samples_; }
  const std::vector<float>& hessian() const { return h_; }  // [n_in, n_in], 2 X^T X / n
  // Quantizes w [n_out, n_in]. Does not modify the accumulated Hessian.
  GptqResult quantize(const float* w, int64_t n_out, const QuantSpec& spec,
                      const GptqOptions& opt = {}) const;

 private:
  int64_t n_in_;
  int64_t n_samples_ = 0;
  std::vector<float> h_;  // running mean, accumulated with SYRK
};

// U, the upper Cholesky factor of H^-1 (H^-1 = U^T U, the matrix GPTQ sweeps
// with), for a symmetric positive definite h [n, n] (damping already added);
// u: [n, n] row-major, its strict lower triangle zero. Returns false when the
// Cholesky factorisation of h fails (not positive definite).
bool gptq_inverse_cholesky(const float* h, int64_t n, float* u);

// ||W X^T - Q X^T||^2 summed over rows of x: the layer objective, for tests
// and reports. w, q: [n_out, n_in]; x: [rows, n_in].
double layer_output_error(const float* w, const float* q, int64_t n_out, int64_t n_in,
                          const float* x, int64_t rows);

}  // namespace lieq
