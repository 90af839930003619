// Internals of quant/ggml_formats.h. Every block format is implemented as
//   fit:    ggml's choice of the block's scales, written into the block, plus
//           each sub-block's grid and code rule (GgmlSubGrid);
//   codes:  GgmlSubGrid::code_for per element (fitted codes for fixed sub-blocks);
//   pack:   the codes' bits into the block;
// so the row encoder and GgmlBlockGrid share one code path. The scale searches
// follow ggml-quants.c operation for operation (same float expressions in the
// same order, no fused multiply-adds), which is what makes the bytes equal.
#pragma once

#include <cstdint>
#include <cstring>

#include "format/ggml_formats.h"

namespace lieq::ggml_detail {

// Blocks are read and written through memcpy: rows need not be aligned.
template <typename Block>
Block load(const uint8_t* p) {
  Block b;
  std::memcpy(&b, p, sizeof(Block));
  return b;
}
template <typename Block>
void store(const Block& b, uint8_t* p) {
  std::memcpy(p, &b, sizeof(Block));
}

// ggml's GROUP_MAX_EPS: blocks with max |x| below it are all-zero.
inline constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even, for |v| <= 2^22: adding 1.5 * 2^23 leaves
// the integer in the low mantissa bits (ggml's nearest_int). Defined for any
// float; beyond 2^22 (and for NaN) the result is meaningless but the same as
// ggml's in builds without asserts, which keeps degenerate cases bit-exact.
inline int nearest_int(float v) {
  const float t = v + 12582912.0f;
  uint32_t u;
  std::memcpy(&u, &t, 4);
  return static_cast<int>(u & 0x007fffffu) - 0x00400000;
}

// Clamps t into [-2^22, 2^22] (NaN to 0) before a float-to-int conversion.
inline float clamp_for_rounding(float t) {
  if (!(t == t)) return 0.0f;
  if (t > 4194303.0f) return 4194303.0f;
  if (t < -4194303.0f) return -4194303.0f;
  return t;
}

struct FitInput {
  const float* x;           // [block size]
  const float* importance;  // nullable [block size]
  float row_mean_square;    // legacy formats' importance weights: mean x^2 of the row
};

struct FormatImpl {
  int sub_size;  // elements per sub-block
  // Writes the block's scale fields into `block` (zeroed by the caller), the
  // grids of its sub-blocks, and, for fixed sub-blocks, their codes.
  void (*fit)(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t* codes);
  // Writes the code bits (scale fields are left alone).
  void (*pack)(const int32_t* codes, uint8_t* block);
  // Decodes one block as ggml's dequantize_row_*.
  void (*decode)(const uint8_t* block, float* y);
};

extern const FormatImpl kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0;
extern const FormatImpl kQ2_K, kQ3_K, kQ4_K, kQ5_K, kQ6_K;
extern const FormatImpl kIQ4_NL, kIQ4_XS;
extern const FormatImpl kTQ1_0, kTQ2_0;  // ggml_ternary.cpp

// nullptr for F32, F16, BF16.
const FormatImpl* format_impl(GgmlType type);

// True when w is null or all zero over [0, n): such importance is ignored.
bool importance_is_void(const float* w, int n);

// ---------------------------------------------------------------- searches
// (ggml-quants.c's helpers; same arguments, same arithmetic)

// make_qx_quants with rmse_type 1: symmetric codes L = nmax + l, l in
// [-nmax, nmax - 1], weights w (null: x^2). Returns the least-squares scale and
// the inverse scale the codes were rounded with (code = nmax + nearest(iscale *
// x)); zero = all |x| below kGroupMaxEps (scale 0, codes 0).
struct SymFit {
  float scale = 0.0f;
  float iscale = 0.0f;
  bool zero = true;
};
SymFit search_symmetric(int n, int nmax, const float* x, const float* w, int8_t* L);

// make_q3_quants with do_rmse: weights x^2, codes L in [0, 2 nmax - 1] refined
// one by one. Returns the scale (0 for an all-zero group).
float search_symmetric_refine(int n, int nmax, const float* x, int8_t* L);

// make_qkx2_quants / make_qkx3_quants (weights required): codes L in [0, nmax],
// x ~ scale * L - neg_min. code = nearest(iscale * (x - offset)) for the codes
// returned; degenerate = max == min (codes 0, scale 0).
struct AsymFit {
  float scale = 0.0f;
  float neg_min = 0.0f;  // ggml's the_min: the min is -neg_min
  float iscale = 0.0f;
  float offset = 0.0f;
  bool degenerate = true;
};
AsymFit search_asymmetric(int n, int nmax, const float* x, const float* w, uint8_t* L,
                          float rmin, float rdelta, int nstep, bool use_mad);

// make_qp_quants: non-negative values x (sub-block scales or mins) on a grid
// scale * L, L in [0, nmax], weights w. Returns the scale.
float search_positive(int n, int nmax, const float* x, uint8_t* L, const float* w);

// Index of the kIq4NlValues entry nearest to x (ties to the larger value).
int iq4_index(float x);

// ---------------------------------------------------------------- helpers

// Q4_K / Q5_K 6-bit scales and mins of sub-block j (ggml's get_scale_min_k4).
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace lieq::ggml_detail
