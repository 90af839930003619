// ggml's tensor storage formats (the block layouts llama.cpp reads from GGUF
// files): type ids, block structs, per-type traits, row (de)quantization and a
// per-block grid for GPTQ-style quantizers.
//
// A row of n values (n a multiple of the type's block size) is stored as
// n / block_size consecutive blocks of type_size bytes. Layouts are byte-exact
// with ggml's ggml-common.h (little-endian hosts only); the decoders reproduce
// ggml's dequantize_row_* bit for bit. The encoders follow ggml's reference
// quantizers (ggml-quants.c as called by ggml_quantize_chunk, i.e. by
// llama.cpp's quantize tool):
//   - without importance: quantize_row_*_ref for Q4_0 ... Q6_K; for IQ4_NL and
//     IQ4_XS quantize_iq4_nl / quantize_iq4_xs with a null imatrix (these search
//     15 extra scales, unlike quantize_row_iq4_nl_ref);
//   - with importance (an imatrix row: per-column mean squared activation, or
//     any non-negative per-column weight): the imatrix variants
//     (quantize_row_*_impl, make_qkx3/make_qp searches). Q8_0, F16, BF16 and
//     F32 ignore it.
// Deviations, all in cases where ggml would write NaN or all-zero scales: an
// importance that is zero over a whole block (super-block for the K-quants and
// IQ4_XS) is ignored for that block, and an IQ4 sub-block of 32 whose
// importance is all zero is weighted as without importance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace lieq {

// ggml's numeric type ids (enum ggml_type in ggml.h), as stored in GGUF files.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
};

// The block structs, field for field as ggml's block_* (fp16 fields as raw
// uint16_t bits). Sizes and offsets are pinned by static_asserts in
// ggml_formats.cpp.
namespace ggml {

inline constexpr int kQK = 32;    // elements per block of the 32-element formats
inline constexpr int kQK_K = 256; // elements per K-quant / IQ4_XS super-block

struct BlockQ4_0 {
  uint16_t d;           // scale: x = d * (q - 8)
  uint8_t qs[kQK / 2];  // element j in the low nibble of qs[j], j + 16 in the high one
};
struct BlockQ4_1 {
  uint16_t d, m;  // x = d * q + m
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;          // x = d * (q - 16)
  uint8_t qh[4];       // bit j (little-endian uint32): the 5th bit of element j
  uint8_t qs[kQK / 2]; // low 4 bits, as Q4_0
};
struct BlockQ5_1 {
  uint16_t d, m;  // x = d * q + m
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {
  uint16_t d;  // x = d * q
  int8_t qs[kQK];
};
// 16 sub-blocks of 16; x = d * (sc & 15) * q - dmin * (sc >> 4).
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];  // 2-bit codes: element 128h + 32k + l at qs[32h + l] >> 2k
  uint16_t d, dmin;
};
// 16 sub-blocks of 16; x = d * (sc - 32) * (q - 4), sc 6 bits, q 3 bits.
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];  // 3rd bit of element e: hmask[e % 32] bit e / 32
  uint8_t qs[kQK_K / 4];     // low 2 bits, as Q2_K
  uint8_t scales[12];        // 16 6-bit scales
  uint16_t d;
};
// 8 sub-blocks of 32; x = d * sc * q - dmin * m, sc and m 6 bits, q 4 bits.
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];       // 8 6-bit scales and 8 6-bit mins
  uint8_t qs[kQK_K / 2];    // element 64c + l at qs[32c + l] & 15, 64c + 32 + l at >> 4
};
// As Q4_K with 5-bit q.
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];  // 5th bit: element 64c + l at qh[l] bit 2c, 64c + 32 + l at bit 2c + 1
  uint8_t qs[kQK_K / 2];
};
// 16 sub-blocks of 16; x = d * sc * (q - 32), sc int8, q 6 bits.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
// x = d * kIq4NlValues[q].
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK / 2];  // as Q4_0
};
// 8 sub-blocks of 32; x = d * (ls - 32) * kIq4NlValues[q], ls 6 bits.
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;             // high 2 bits of ls of sub-block i at bits 2i
  uint8_t scales_l[kQK_K / 64];  // low 4 bits: sub-block i in scales_l[i / 2] >> 4 (i % 2)
  uint8_t qs[kQK_K / 2];         // per sub-block 16 bytes, as Q4_0
};

// The i-quants: 8 (IQ3: 4) values per code-book index (ggml_iq_grids.h),
// sign bits per group of 8, scales per sub-block of 32 (IQ2_XS, IQ1_M: 16).
// x = d * (0.5 + s) * 0.25 * grid[q] * sign (IQ2_XXS, s 4 bits per 32).
struct BlockIQ2_XXS {
  uint16_t d;
  uint16_t qs[kQK_K / 8];  // per 32: 4 grid indices (8 bits) + 4x7 sign bits + 4-bit scale
};
// x = d * (0.5 + s) * 0.25 * grid[q] * sign, s 4 bits per 16, q 9 bits + 7 sign bits.
struct BlockIQ2_XS {
  uint16_t d;
  uint16_t qs[kQK_K / 8];
  uint8_t scales[kQK_K / 32];
};
// As IQ2_XS with 10-bit grid indices and 8 free sign bits per 8.
struct BlockIQ2_S {
  uint16_t d;
  uint8_t qs[kQK_K / 4];  // low 8 bits of the indices, then the sign bytes
  uint8_t qh[kQK_K / 32]; // high 2 bits of the indices
  uint8_t scales[kQK_K / 32];
};
// x = d * (0.5 + s) * 0.5 * grid[q] * sign; 4-value grid entries.
struct BlockIQ3_XXS {
  uint16_t d;
  uint8_t qs[3 * kQK_K / 8];  // 64 grid indices, then per 32: 4x7 sign bits + 4-bit scale
};
struct BlockIQ3_S {
  uint16_t d;
  uint8_t qs[kQK_K / 4];
  uint8_t qh[kQK_K / 32];
  uint8_t signs[kQK_K / 8];
  uint8_t scales[kQK_K / 64];
};
// x = d * (2 s + 1) * (grid[q] + shift), grid values -1/0/1, shift +-1/8.
struct BlockIQ1_S {
  uint16_t d;
  uint8_t qs[kQK_K / 8];
  uint16_t qh[kQK_K / 32];  // per 32: 3 high index bits x4, 3-bit scale, shift sign
};
// No d field: its fp16 bits sit in the top nibbles of the four scale words.
struct BlockIQ1_M {
  uint8_t qs[kQK_K / 8];
  uint8_t qh[kQK_K / 16];     // per 8: 3 high index bits + shift sign
  uint8_t scales[kQK_K / 32]; // 3-bit scales per 16
};

// Ternary (BitNet b1.58, TriLM): x = d * t, t in {-1, 0, 1}, d = max |x| of
// the 256. TQ1_0 packs 5 trits per byte (3^5 = 243): byte b holds t_0..t_4
// (t_0 most significant) as ceil(256 * sum 3^(4-n) (t_n + 1) / 243), trit n
// read back as ((uint8_t)(b * 3^n) * 3) >> 8. Elements: qs[m] (m < 32) holds
// m + 32n, qs[32 + m] (m < 16) 160 + m + 16n, qh[j] 240 + j + 4n (n < 4, the
// fifth trit 0).
struct BlockTQ1_0 {
  uint8_t qs[(kQK_K - 4 * kQK_K / 64) / 5];
  uint8_t qh[kQK_K / 64];
  uint16_t d;
};
// TQ2_0: 2 bits per element, t + 1; element 128h + 32n + m at qs[32h + m] >> 2n.
struct BlockTQ2_0 {
  uint8_t qs[kQK_K / 4];
  uint16_t d;
};

// The IQ4 non-linear code book (ggml's kvalues_iq4nl).
inline constexpr int8_t kIq4NlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

}  // namespace ggml

// Decodes n values (n % block_size == 0) from src.
using GgmlDecodeRowFn = void (*)(const void* src, float* dst, int64_t n);
// Encodes one row of n values; importance is null or [n] non-negative weights.
using GgmlEncodeRowFn = void (*)(const float* src, void* dst, int64_t n, const float* importance);

struct GgmlTypeTraits {
  GgmlType type;
  const char* name;    // "Q4_K" (llama.cpp's spelling; ggml's type_name is "q4_K")
  int64_t block_size;  // elements per block
  size_t type_size;    // bytes per block
  GgmlDecodeRowFn decode_row;
  GgmlEncodeRowFn encode_row;

  double bits_per_weight() const { return 8.0 * double(type_size) / double(block_size); }
};

// All supported types, in ggml id order.
std::span<const GgmlTypeTraits> ggml_supported_types();
// nullptr for an id this module does not support.
const GgmlTypeTraits* find_ggml_traits(uint32_t type_id);
// Throws Error for an unsupported type.
const GgmlTypeTraits& ggml_traits(GgmlType type);
const char* ggml_type_name(GgmlType type);
// Case-insensitive ("q4_k", "IQ4_XS", "bf16"); false (out untouched) when unknown.
bool parse_ggml_type(std::string_view name, GgmlType* out);
// Bytes of a row of n values; throws Error when n is negative or not a
// multiple of the block size.
size_t ggml_row_size(GgmlType type, int64_t n);
double ggml_bits_per_weight(GgmlType type);

void ggml_dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
// One row of n values into ggml_row_size(type, n) bytes. importance: nullable,
// [n], finite and >= 0 (throws Error otherwise). The legacy types with
// importance weight each value by importance * sqrt(mean square of the row +
// x^2), so splitting a row changes the result.
void ggml_quantize_row(GgmlType type, const float* src, void* dst, int64_t n,
                       const float* importance);
// rows x n_per_row values, row r at src + r * n_per_row, into rows *
// ggml_row_size bytes; importance (nullable, [n_per_row]) is shared by all
// rows, as llama.cpp's imatrix.
void ggml_quantize_rows(GgmlType type, const float* src, void* dst, int64_t rows,
                        int64_t n_per_row, const float* importance);

// The grid of one sub-block (the elements sharing one scale). A code q decodes
// to D * level(q), plus M when has_min, with level(q) = q - level_offset or
// kIq4NlValues[q] (table); the products are ggml's, so values match its
// decoder bit for bit. code_for() is ggml's encoder rule, with its arithmetic:
//   kTruncBias  q = trunc((x - s) * a + b)       Q4_0/Q4_1/Q5_0/Q5_1 reference
//   kRoundAway  q = round half away (x * a) + off   Q8_0, TQ1_0, TQ2_0
//   kScaleRound q = nearest(a * (x - s)) + off   codes of a scale search
//   kDivRound   q = nearest((x + s) / a) + off   the K-quants' final pass
//   kTable      q = index of the table value nearest to a * x   (IQ4)
// clamped to [lo, hi]; nearest() rounds half to even. ggml's rule is not
// always the nearest grid value: the legacy formats round with the unrounded
// (pre-fp16) scale and, with importance, keep the codes of a trial scale.
// nearest_code() is the code whose decoded value is nearest to x (ggml's code
// on ties).
struct GgmlSubGrid {
  enum class Rule : uint8_t { kTruncBias, kRoundAway, kScaleRound, kDivRound, kTable };
  Rule rule = Rule::kScaleRound;
  bool fixed = false;    // zero scale: every code decodes alike; codes stay as fitted
  bool has_min = false;
  bool table = false;
  int16_t off = 0, lo = 0, hi = 0, level_offset = 0;
  float a = 0.0f, s = 0.0f, b = 0.0f;
  float D = 0.0f, M = 0.0f;

  int32_t code_for(float x) const;
  int32_t nearest_code(float x) const;
  float decode(int32_t code) const;
};

// The quantization grid of one block, for quantizers that choose codes one
// value at a time (GPTQ). fit() fixes the block's scales (and mins) from
// values exactly as ggml_quantize_row would, and gives every element the code
// ggml_quantize_row would give it, so fit(x) then emit() equals
// ggml_quantize_row on that block. quantize_value(i, x) then gives element i
// the code whose value is nearest to x under the fixed scales (see
// GgmlSubGrid) and returns that value; emit() writes the block's bytes, which
// decode to exactly the values quantize_value returned.
//
// Usage for a row: at the first column of each block, fit() on the block's
// current values; quantize_value() column by column; emit() after the last.
//
// Sub-blocks whose scale is zero (all elements decode alike) keep their fitted
// codes. For F32/F16/BF16 the block is one element and quantize_value rounds.
class GgmlBlockGrid {
 public:
  explicit GgmlBlockGrid(GgmlType type);

  GgmlType type() const { return traits_->type; }
  int64_t block_size() const { return traits_->block_size; }
  size_t block_bytes() const { return traits_->type_size; }
  // Elements sharing one scale (32 or 16; the block size for single-scale blocks).
  int64_t sub_block_size() const;

  // n must equal block_size(). importance: nullable [n], as ggml_quantize_row.
  // row_mean_sq: the mean of x^2 over the whole row, which the Q4_0, Q4_1,
  // Q5_0 and Q5_1 importance weights use; negative means the block's own.
  void fit(const float* x, const float* importance, int64_t n, float row_mean_sq = -1.0f);
  bool fitted() const { return fitted_; }

  // Elements that share one code-book index: 8 for the i-quants (IQ1_S ...
  // IQ3_S), else 1.
  int64_t group_size() const { return lattice_ ? 8 : 1; }
  // The i-quants: gives group i0 / 8 (elements i0 .. i0 + 7, i0 % 8 == 0) the
  // code-book entry, signs (and, for IQ1_M, shift) nearest to x[0..8) in the
  // importance-weighted sense (importance: null or [8]; null weights x^2),
  // under the scales fit() stored; value() then gives the chosen values.
  // fit() already gave every group ggml's codes for the fitted values.
  void quantize_group(int64_t i0, const float* x, const float* importance);
  // Gives element i (0 <= i < block_size) the code nearest to x; returns its
  // value. For the i-quants it returns value(i): codes change per group only
  // (quantize_group).
  float quantize_value(int64_t i, float x);
  // The decoded value of element i's current code, and the code itself (the
  // stored value: 0..15 for Q4_K, -128..127 for Q8_0, raw bits for F16; an
  // error for the i-quants, which have no code per element).
  float value(int64_t i) const;
  int32_t code(int64_t i) const;

  // Sub-block k's grid (0 <= k < block_size / sub_block_size); needs fit();
  // an error for the i-quants.
  const GgmlSubGrid& sub_grid(int64_t k) const;

  // Writes block_bytes() bytes.
  void emit(void* dst) const;

 private:
  const GgmlTypeTraits* traits_;
  bool lattice_ = false;  // an i-quant: block_ holds the whole encoding, values_ its decoding
  bool fitted_ = false;
  std::vector<float> values_;  // [block_size] i-quants only
  std::vector<uint8_t> block_;   // the fitted scales (code bits are packed by emit)
  std::vector<int32_t> codes_;   // [block_size]
  std::vector<GgmlSubGrid> subs_;
};

}  // namespace lieq
