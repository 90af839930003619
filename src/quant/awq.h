// AWQ (Lin et al. 2023, "Activation-aware Weight Quantization") as two small
// searches that see only weights and calibration inputs; the driver owns the
// layer, the fold of the scales into the preceding op, and the order.
//
// 1. Scale search, per group of projections sharing one input X [rows, n_in]:
//    s = mean|x|^alpha per input channel, normalised by sqrt(max s * min s)
//    (as the reference implementation), alpha on the grid {0, 1/n, ..., (n-1)/n}
//    minimising the group's output error summed over its projections,
//      sum_W ||W X^T - Q(W diag(s)) diag(s)^-1 X^T||^2.
//    alpha = 0 is s = 1 (plain quantization), so the search never does worse
//    than plain quantization on its rows.
// 2. Clip search (the reference's auto_clip), per group of weights of the
//    scaled matrix: the group's range shrunk by 1, 1 - 1/grid, ... down to
//    1 - max_shrink, keeping the ratio whose output error d^T G d is least
//    (d the group's rounding error, G the Gram matrix of its input columns),
//    then round to nearest on lieq's integer grid.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "format/qspec.h"

namespace lieq {

struct AwqOptions {
  int n_grid = 20;  // alpha in {0, 1/n_grid, ..., (n_grid - 1)/n_grid}
  // Calibration rows for the scale search, taken at an even stride over all
  // samples (its cost: 2 * n_grid * search_rows flops per weight of the layer).
  int64_t search_rows = 256;
  bool clip = true;         // clip search on the integer grids (auto_clip)
  int clip_grid = 20;       // ratios 1 - i / clip_grid ...
  float max_shrink = 0.5f;  // ... for i < max_shrink * clip_grid (1.0 down to 0.55)
};

// A quantizer as the scale search sees it: the dequantized values [rows, cols]
// of w [rows, cols]; importance [cols] is the mean x^2 of the (scaled) input
// per column, for quantizers that weigh their rounding (may be ignored).
using FakeQuantizer = std::function<std::vector<float>(const float* w, int64_t rows, int64_t cols,
                                                       const float* importance)>;

// One projection of a group: w [rows, n_in] row-major, and its quantizer.
struct AwqWeight {
  const float* w = nullptr;
  int64_t rows = 0;
  FakeQuantizer quantize;
};

// Mean |x| per column of x [rows, n] (double accumulation).
std::vector<float> mean_abs_columns(const float* x, int64_t rows, int64_t n);

// s [n] = max(mean_abs^alpha, 1e-4) / sqrt(max s * min s): the reference's
// scales (0^0 = 1, so alpha = 0 gives s = 1).
std::vector<float> awq_scales(const std::vector<float>& mean_abs, double alpha);

// The group's output error sum_W ||W X^T - Q(W diag(s)) diag(s)^-1 X^T||^2
// over x [rows, n_in], Q each projection's quantizer (given importance =
// mean (x / s)^2 per column).
double awq_group_error(const std::vector<AwqWeight>& ws, int64_t n_in, const float* x, int64_t rows,
                       const std::vector<float>& scales);

struct AwqScaleSearch {
  std::vector<float> scales;  // [n_in], the best alpha's
  double alpha = 0;
  double error = 0;        // awq_group_error at the best alpha, on the search rows
  double error_plain = 0;  // the same at alpha = 0 (s = 1)
};

// Grid search of alpha for the projections ws sharing the input x [rows, n_in]
// (the search rows); mean_abs [n_in] is mean |x| over all calibration rows.
// The smallest alpha wins ties.
AwqScaleSearch awq_search_scales(const std::vector<AwqWeight>& ws, int64_t n_in, const float* x,
                                 int64_t rows, const std::vector<float>& mean_abs,
                                 const AwqOptions& opt = {});

// Round to nearest on spec's grid with each group's clip ratio searched for
// the least output error: w [rows, cols], gram [cols, cols] proportional to
// X^T X of the input (e.g. GPTQ's Hessian 2 X^T X / n; only its diagonal
// blocks of group_cols x group_cols are read). opt.clip false: plain RTN.
QuantizedTensor awq_quantize_clipped(const float* w, int64_t rows, int64_t cols,
                                     const QuantSpec& spec, const float* gram,
                                     const AwqOptions& opt = {});

}  // namespace lieq
