// Round-to-nearest quantization, group-wise, with an optional search for the
// clipping ratio that minimises each group's squared error (MSE clipping).
#pragma once

#include "format/qspec.h"

namespace lieq {

struct RtnOptions {
  bool mse_clip = false;   // search clip ratios per group
  int clip_grid = 100;     // ratios 1, 1 - 1/grid, ... down to min_clip
  float min_clip = 0.2f;   // smallest ratio tried
  float norm = 2.4f;       // error norm of the search (|err|^norm, as GPTQ's search)
};

// Quantizes w [rows, cols] (row-major).
QuantizedTensor quantize_rtn(const float* w, int64_t rows, int64_t cols, const QuantSpec& spec,
                             const RtnOptions& opt = {});

// Best clipped parameters for one group of values (used by RTN and GPTQ).
GroupParams search_group_params(const float* x, int64_t n, const QuantSpec& spec,
                                const RtnOptions& opt);

}  // namespace lieq
