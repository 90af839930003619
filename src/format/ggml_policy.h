// Choosing ggml block types the way llama.cpp's quantizer does: a map from a
// plan's bit widths to types, and the fallback for rows whose length is not a
// multiple of a type's block size.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "format/ggml_formats.h"

namespace lieq {

// Plan bits -> ggml type. The default: 2 Q2_K, 3 Q3_K, 4 Q4_K, 5 Q5_K, 6 Q6_K, 8 Q8_0.
using GgmlTypeMap = std::map<int, GgmlType>;
GgmlTypeMap default_ggml_type_map();
// "2=Q2_K,3=IQ4_XS" over the default; throws Error on a bad entry.
GgmlTypeMap parse_ggml_type_map(const std::string& s);

// The type llama.cpp's quantizer uses for `type` on rows of `cols` values
// (K-quants and i-quants need multiples of 256, the others of 32): the type
// itself when it fits, else IQ1_S ... IQ3_S/Q2_K/Q3_K/IQ4_XS -> IQ4_NL (as
// the February 2025 llama.cpp; the 2026 one takes Q4_0 for Q2_K/Q3_K), Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0, TQ1_0/TQ2_0 -> Q4_0, and F16 when that does not
// fit either.
GgmlType ggml_row_type(GgmlType type, int64_t cols);

// Bits of a [rows, cols] weight stored as `type` (after the fallback).
int64_t ggml_storage_bits(GgmlType type, int64_t rows, int64_t cols);

}  // namespace lieq
