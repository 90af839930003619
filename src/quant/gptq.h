// GPTQ (Frantar et al. 2022) as a small class that sees only W and H:
//   add_batch(X) accumulates H = 2 X^T X / n over calibration rows of the
//   layer's input; quantize(W) then quantizes W column by column, compensating
//   each column's rounding error on the columns not yet quantized, using the
//   Cholesky factor of H^-1. The driver decides which layers and in which order.
//   quantize() targets lieq's integer group grids (QuantSpec); quantize_ggml()
//   targets ggml's block formats (Q4_K, Q6_K, IQ4_XS ...), so that a GGUF file
//   carries GPTQ's error compensation and llama.cpp's kernels read it unchanged.
#pragma once

#include <cstdint>
#include <vector>

#include "format/ggml_formats.h"
#include "format/qspec.h"
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

// A tensor in one of ggml's block formats.
struct GgmlQuantized {
  GgmlType type = GgmlType::F32;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> data;   // rows * ggml_row_size(type, cols) bytes, ggml's layout
  std::vector<float> dequant;  // [rows, cols]: exactly ggml_dequantize_row of data
  double loss = 0;             // GPTQ's proxy loss, as GptqResult::loss (0 for RTN)
  double damp = 0;             // damping used (0 for RTN)
};

class Gptq {
 public:
  explicit Gptq(int64_t n_in);
  // x: [rows, n_in] inputs of the layer (one row per token).
  void add_batch(const float* x, int64_t rows);
  int64_t n_samples() const { return n_samples_; }
  // [n_in, n_in], 2 X^T X / n; an error after factor().
  const std::vector<float>& hessian() const;
  // [n_in]: diag(H) / 2 = mean x^2 per input column, what llama.cpp's imatrix
  // holds for this layer (zero for dead inputs). Available after factor() too.
  std::vector<float> importance() const;
  // Turns the accumulated Hessian into GPTQ's factor U in place, for the sweep
  // order and damping of opt (act_order, damp): no second n_in x n_in matrix,
  // and the projections sharing this input (q/k/v, gate/up) factor it once.
  // Later quantize / quantize_ggml calls with the same act_order and damp use
  // it; others, and hessian() and add_batch(), are then errors. Idempotent.
  void factor(const GptqOptions& opt);
  bool factored() const { return factored_; }
  // Quantizes w [n_out, n_in]. Does not modify the accumulated Hessian.
  GptqResult quantize(const float* w, int64_t n_out, const QuantSpec& spec,
                      const GptqOptions& opt = {}) const;
  // The same, with w (in: the float weights) as the sweep's working matrix:
  // out, w holds the dequantized result (exactly q.dequantize()). No copy of
  // W without act_order.
  GptqResult quantize_in_place(float* w, int64_t n_out, const QuantSpec& spec,
                               const GptqOptions& opt = {}) const;
  // Quantizes w [n_out, n_in] into ggml's `type` (n_in a multiple of its block
  // size; act_order is rejected, opt.rtn is unused). The sweep runs left to
  // right; at the first column of each block of a row, the block's scales are
  // fitted as ggml's quantizer fits them (GgmlBlockGrid::fit) on the block's
  // current weights, every earlier column's error applied, with importance()
  // as the imatrix; then each column takes the nearest code under those
  // scales and its error is propagated as in quantize(). The legacy formats'
  // importance weights use the mean square of the row as given (as
  // ggml_quantize_row does). Dead inputs are zeroed in W but, unlike
  // quantize(), their codes need not decode to 0 (a K-quant grid with a min
  // may not hold 0): the output does not see it, the loss does.
  GgmlQuantized quantize_ggml(const float* w, int64_t n_out, GgmlType type,
                              const GptqOptions& opt = {}) const;
  // The same in place: w becomes the dequantized result, which then is not
  // also returned (dequant stays empty). No copy of W.
  GgmlQuantized quantize_ggml_in_place(float* w, int64_t n_out, GgmlType type,
                                       const GptqOptions& opt = {}) const;

 private:
  std::vector<float> raw_diag() const;  // [n_in] diag(H)
  // out: null, or w itself (the in-place variants).
  GptqResult quantize_impl(const float* w, float* out, int64_t n_out, const QuantSpec& spec,
                           const GptqOptions& opt) const;
  GgmlQuantized quantize_ggml_impl(const float* w, float* out, int64_t n_out, GgmlType type,
                                   const GptqOptions& opt) const;
  void check_quantize_args(int64_t n_out, const GptqOptions& opt, const char* what) const;

  struct Factor;  // the sweep order, the damping used, and U (in h_ after factor())
  Factor factor_for(const GptqOptions& opt, std::vector<float>& u_copy) const;

  int64_t n_in_;
  int64_t n_samples_ = 0;
  std::vector<float> h_;  // running mean, accumulated with SYRK; U after factor()
  std::vector<float> diag_;  // diag(H), kept when h_ becomes U
  bool factored_ = false;
  bool factored_act_order_ = false;
  double factored_damp_ = 0;  // damp asked for
  double damp_used_ = 0;      // after retries
};

// U, the upper Cholesky factor of H^-1 (H^-1 = U^T U, the matrix GPTQ sweeps
// with), for a symmetric positive definite h [n, n] (damping already added);
// u: [n, n] row-major, its strict lower triangle zero. Returns false when the
// Cholesky factorisation of h fails (not positive definite).
bool gptq_inverse_cholesky(const float* h, int64_t n, float* u);

// llama.cpp's round-to-nearest quantization (ggml_quantize_rows), for
// comparison with quantize_ggml: w [rows, cols] (cols a multiple of the
// type's block size), importance nullable [cols] (an imatrix, e.g.
// Gptq::importance()). Rows run in parallel on the global pool.
GgmlQuantized quantize_ggml_rtn(const float* w, int64_t rows, int64_t cols, GgmlType type,
                                const float* importance);

// ||W X^T - Q X^T||^2 summed over rows of x: the layer objective, for tests
// and reports. w, q: [n_out, n_in]; x: [rows, n_in].
double layer_output_error(const float* w, const float* q, int64_t n_out, int64_t n_in,
                          const float* x, int64_t rows);

}  // namespace lieq
