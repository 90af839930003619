// Integer quantization of weight matrices: the spec of a quantized tensor and
// its storage (bit-packed codes, fp16 scales and zero points per group).
//
// A weight matrix W [rows = n_out, cols = n_in] is cut, row by row, into groups
// of `group_size` consecutive input columns (the last group of a row may be
// shorter when group_size does not divide cols; group_size 0 = one group per
// row, i.e. per channel). Each group g of row r has a scale s and a zero z
// (both stored as fp16); a weight is stored as a code q in [0, 2^bits - 1]:
//   asymmetric: q = clamp(round(w / s) + z, 0, maxq),  w' = s * (q - z)
//               s = (max - min) / maxq, z = round(-min / s)  (an integer)
//   symmetric:  z = (maxq + 1) / 2 fixed (not stored), s = 2 * absmax / maxq
// with maxq = 2^bits - 1. Scales are rounded to fp16 before codes are chosen,
// so dequantization reproduces exactly what the quantizer optimised.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lieq {

struct QuantSpec {
  int bits = 4;          // 2, 3, 4, 5, 6 or 8
  int group_size = 128;  // 32, 64, 128, ... ; 0 = per output channel (whole row)
  bool symmetric = false;

  int maxq() const { return (1 << bits) - 1; }
  // Columns per group for a row of `cols` columns.
  int64_t group_cols(int64_t cols) const { return group_size > 0 ? group_size : cols; }
  int64_t n_groups(int64_t cols) const {
    const int64_t g = group_cols(cols);
    return (cols + g - 1) / g;
  }
  // Exact storage in bits of a [rows, cols] tensor: codes + fp16 scale per
  // group + fp16 zero per group when asymmetric.
  int64_t storage_bits(int64_t rows, int64_t cols) const;
  double bits_per_weight(int64_t rows, int64_t cols) const {
    return double(storage_bits(rows, cols)) / double(rows * cols);
  }
  std::string name() const;  // "int4 g128 asym", "int3 per-channel sym"
};

// Throws Error("<where>: ...") for bits or group size out of range.
void validate_spec(const QuantSpec& spec, const std::string& where);

// A quantized matrix. codes are bit-packed little-endian per row: row r starts
// at byte r * row_bytes(), code c occupies bits [c * bits, (c + 1) * bits).
struct QuantizedTensor {
  QuantSpec spec;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> codes;   // [rows, row_bytes()]
  std::vector<uint16_t> scales; // fp16 [rows, n_groups]
  std::vector<uint16_t> zeros;  // fp16 [rows, n_groups]; empty when symmetric

  int64_t row_bytes() const { return (cols * spec.bits + 7) / 8; }
  int64_t n_groups() const { return spec.n_groups(cols); }
  int code(int64_t r, int64_t c) const;
  void set_code(int64_t r, int64_t c, int q);
  // W' [rows, cols] float32.
  std::vector<float> dequantize() const;
  void dequantize_into(float* out) const;
  // Allocates storage for the given shape.
  static QuantizedTensor empty(const QuantSpec& spec, int64_t rows, int64_t cols);
};

// Grid parameters of one group, already rounded to fp16 values.
struct GroupParams {
  float scale = 1.0f;
  float zero = 0.0f;  // integer-valued
};

// Parameters from the min/max (asym) or absmax (sym) of x[0, n), optionally
// shrunk by `clip` in (0, 1] (range * clip). As in GPTQ's quantizer, the
// asymmetric range always contains 0: min = min(min x, 0), max = max(max x, 0),
// so 0 is exactly representable. An all-zero group gets GPTQ's range [-1, 1]
// (a valid nonzero scale; its zeros stay exact). The scale is rounded to fp16
// (at least 2^-24, the smallest fp16 subnormal), the zero is an integer in
// [0, maxq].
GroupParams group_params(const float* x, int64_t n, const QuantSpec& spec, float clip = 1.0f);

// Parameters of a group whose values lie in [xmin, xmax] (0 is added to the
// range, as GPTQ does), shrunk by `clip`: group_params without the min/max scan.
GroupParams params_from_range(float xmin, float xmax, const QuantSpec& spec, float clip = 1.0f);

// codes of x[0, n) under one group's parameters: quantize_value, vectorised.
void quantize_values(const float* x, int64_t n, const GroupParams& p, int maxq, uint8_t* q);

// The packed layout of one row of QuantizedTensor::codes: n codes of `bits`
// bits, little endian, code i in bits [i * bits, (i + 1) * bits) of
// out[0, (n * bits + 7) / 8). pack_codes writes every byte of that range
// (unused high bits of the last byte zero); codes are masked to `bits` bits.
void pack_codes(const uint8_t* q, int64_t n, int bits, uint8_t* out);
void unpack_codes(const uint8_t* in, int64_t n, int bits, uint8_t* q);

// Code of a value under group parameters, and its dequantized value.
inline int quantize_value(float w, const GroupParams& p, int maxq);
inline float dequantize_value(int q, const GroupParams& p) { return p.scale * (float(q) - p.zero); }

}  // namespace lieq

#include <cmath>

namespace lieq {
inline int quantize_value(float w, const GroupParams& p, int maxq) {
  const float q = std::nearbyint(w / p.scale) + p.zero;
  return q < 0.0f ? 0 : (q > float(maxq) ? maxq : int(q));
}
}  // namespace lieq
