// Internals of the i-quant formats (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S,
// IQ3_XXS, IQ3_S): lattice code books of 4 or 8 values per index, shared by
// the block, not one code per element. So they do not follow ggml_impl.h's
// fit / code / pack scheme; each format gives
//   encode_row: ggml's quantize_iq*() for one row (quantize_row_iq*_impl with
//               its imatrix weighting and neighbour-table codebook search),
//               byte for byte;
//   decode:     ggml's dequantize_row_iq*() for one block, bit for bit;
//   requantize_group: GPTQ's per-group step. For one group of 8 elements of a
//               block already holding its scales (written by encode_row on the
//               block's values), choose the codebook entry / signs / shift
//               that minimise sum_i w[i] (x[i] - decoded[i])^2 under the
//               block's stored scales (the same search encode_row uses for a
//               fixed scale), and write only that group's code bits.
// The search follows ggml-quants.c operation for operation (same float
// expressions in the same order, no fused multiply-adds).
#pragma once

#include <cstdint>

#include "format/ggml_formats.h"

namespace lieq::ggml_detail {

struct LatticeImpl {
  // n % 256 == 0. importance: null or [n]; types that ggml quantizes only
  // with an imatrix (IQ2_XXS, IQ2_XS, IQ1_S) throw Error on null.
  void (*encode_row)(const float* x, uint8_t* dst, int64_t n, const float* importance);
  void (*decode)(const uint8_t* block, float* y);  // y: [256]
  // group: 0..31 (elements 8 group .. 8 group + 7); x, w: [8] (w > 0 or
  // null: weights x^2 as encode_row without importance).
  void (*requantize_group)(uint8_t* block, int group, const float* x, const float* w);
};

extern const LatticeImpl kIQ2_XXS, kIQ2_XS, kIQ2_S;  // ggml_iq2.cpp
extern const LatticeImpl kIQ3_XXS, kIQ3_S;           // ggml_iq3.cpp
extern const LatticeImpl kIQ1_S, kIQ1_M;             // ggml_iq1.cpp

// nullptr for the other types.
const LatticeImpl* lattice_impl(GgmlType type);

}  // namespace lieq::ggml_detail
