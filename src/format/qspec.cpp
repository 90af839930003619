#include "format/qspec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/error.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace lieq {

namespace {

// 1.5 * 2^23: (t + kRound) - kRound rounds t to the nearest integer, ties to
// even (the default rounding mode), exactly as nearbyint does for |t| < 2^22.
// Plain adds, so it vectorises on any SSE2 target (roundps needs SSE4.1).
// For |t| >= 2^22 the result is not exact but keeps the sign of t and a
// magnitude far above 255, so after adding the zero point (<= 255) and
// clamping to [0, maxq] the code is the same as with nearbyint.
constexpr float kRound = 12582912.0f;

constexpr float kMinScale = 5.9604644775390625e-08f;  // smallest fp16 subnormal, 2^-24
constexpr float kMaxScale = 65504.0f;                 // largest finite fp16

// The scale as stored (fp16), never 0 nor infinite.
float round_scale(float s) {
  float r = f16_to_f32(f32_to_f16(s));
  if (!(r >= kMinScale)) r = kMinScale;  // underflow (or NaN)
  if (r > kMaxScale) r = kMaxScale;
  return r;
}

}  // namespace

// ------------------------------------------------------------------ QuantSpec

int64_t QuantSpec::storage_bits(int64_t rows, int64_t cols) const {
  const int64_t groups = rows * n_groups(cols);
  return int64_t(bits) * rows * cols + groups * (symmetric ? 16 : 32);
}

std::string QuantSpec::name() const {
  return cat("int", bits, " ", group_size > 0 ? cat("g", group_size) : std::string("per-channel"),
             symmetric ? " sym" : " asym");
}

void validate_spec(const QuantSpec& spec, const std::string& where) {
  const int b = spec.bits;
  check(b == 2 || b == 3 || b == 4 || b == 5 || b == 6 || b == 8, where, ": quantization bits ", b,
        " not supported (expected 2, 3, 4, 5, 6 or 8)");
  const int g = spec.group_size;
  check(g == 0 || (g >= 16 && g <= 1024 && (g & (g - 1)) == 0), where, ": group size ", g,
        " not supported (expected 0 for per-channel, or a power of two between 16 and 1024)");
}

// ---------------------------------------------------------------- bit packing

void pack_codes(const uint8_t* q, int64_t n, int bits, uint8_t* out) {
  const uint32_t mask = (1u << bits) - 1u;
  switch (bits) {
    case 8:
      std::memcpy(out, q, size_t(n));
      return;
    case 4: {
      int64_t i = 0, o = 0;
      for (; i + 2 <= n; i += 2, ++o) out[o] = uint8_t((q[i] & 15u) | (uint32_t(q[i + 1] & 15u) << 4));
      if (i < n) out[o] = uint8_t(q[i] & 15u);
      return;
    }
    case 2: {
      int64_t i = 0, o = 0;
      for (; i + 4 <= n; i += 4, ++o)
        out[o] = uint8_t((q[i] & 3u) | (uint32_t(q[i + 1] & 3u) << 2) |
                         (uint32_t(q[i + 2] & 3u) << 4) | (uint32_t(q[i + 3] & 3u) << 6));
      if (i < n) {
        uint32_t v = 0;
        for (int k = 0; i + k < n; ++k) v |= uint32_t(q[i + k] & 3u) << (2 * k);
        out[o] = uint8_t(v);
      }
      return;
    }
    default: {
      // 3, 5, 6 bits: codes straddle bytes; stream them through an accumulator.
      uint64_t acc = 0;
      int have = 0;
      int64_t o = 0;
      for (int64_t i = 0; i < n; ++i) {
        acc |= uint64_t(q[i] & mask) << have;
        have += bits;
        while (have >= 8) {
          out[o++] = uint8_t(acc);
          acc >>= 8;
          have -= 8;
        }
      }
      if (have > 0) out[o] = uint8_t(acc);
      return;
    }
  }
}

void unpack_codes(const uint8_t* in, int64_t n, int bits, uint8_t* q) {
  const uint32_t mask = (1u << bits) - 1u;
  switch (bits) {
    case 8:
      std::memcpy(q, in, size_t(n));
      return;
    case 4:
      for (int64_t i = 0; i < n; ++i) q[i] = uint8_t((in[i >> 1] >> ((i & 1) * 4)) & 15u);
      return;
    case 2:
      for (int64_t i = 0; i < n; ++i) q[i] = uint8_t((in[i >> 2] >> ((i & 3) * 2)) & 3u);
      return;
    default: {
      uint64_t acc = 0;
      int have = 0;
      int64_t p = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (have < bits) {
          acc |= uint64_t(in[p++]) << have;
          have += 8;
        }
        q[i] = uint8_t(acc & mask);
        acc >>= bits;
        have -= bits;
      }
      return;
    }
  }
}

// ----------------------------------------------------------- QuantizedTensor

int QuantizedTensor::code(int64_t r, int64_t c) const {
  check(r >= 0 && r < rows && c >= 0 && c < cols, "QuantizedTensor::code: (", r, ", ", c,
        ") outside [", rows, ", ", cols, "]");
  const int b = spec.bits;
  const int64_t bit = c * b;
  const size_t byte = size_t(r * row_bytes() + bit / 8);
  const int shift = int(bit % 8);
  uint32_t v = uint32_t(codes[byte]) >> shift;
  if (shift + b > 8) v |= uint32_t(codes[byte + 1]) << (8 - shift);
  return int(v & ((1u << b) - 1u));
}

void QuantizedTensor::set_code(int64_t r, int64_t c, int q) {
  check(r >= 0 && r < rows && c >= 0 && c < cols, "QuantizedTensor::set_code: (", r, ", ", c,
        ") outside [", rows, ", ", cols, "]");
  check(q >= 0 && q <= spec.maxq(), "QuantizedTensor::set_code: code ", q, " outside [0, ",
        spec.maxq(), "]");
  const int b = spec.bits;
  const int64_t bit = c * b;
  const size_t byte = size_t(r * row_bytes() + bit / 8);
  const int shift = int(bit % 8);
  // The code's bits within a 16-bit window starting at `byte`.
  const uint32_t mask = ((1u << b) - 1u) << shift;
  const uint32_t v = uint32_t(q) << shift;
  codes[byte] = uint8_t((codes[byte] & ~mask) | (v & mask));
  if (shift + b > 8)
    codes[byte + 1] = uint8_t((codes[byte + 1] & ~(mask >> 8)) | ((v & mask) >> 8));
}

std::vector<float> QuantizedTensor::dequantize() const {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  dequantize_into(out.data());
  return out;
}

void QuantizedTensor::dequantize_into(float* out) const {
  if (rows == 0 || cols == 0) return;
  const int64_t ng = n_groups(), gc = spec.group_cols(cols), rb = row_bytes();
  check(int64_t(codes.size()) == rows * rb && int64_t(scales.size()) == rows * ng &&
            (spec.symmetric ? zeros.empty() : int64_t(zeros.size()) == rows * ng),
        "QuantizedTensor::dequantize: storage does not match shape [", rows, ", ", cols, "] (",
        spec.name(), ")");
  const float sym_zero = float((spec.maxq() + 1) / 2);
  const int64_t grain = std::max<int64_t>(1, 32768 / cols);
  ThreadPool::global().parallel_for(0, rows, grain, [&](int64_t b, int64_t e, int) {
    std::vector<uint8_t> q(static_cast<size_t>(cols));
    for (int64_t r = b; r < e; ++r) {
      unpack_codes(codes.data() + r * rb, cols, spec.bits, q.data());
      float* o = out + r * cols;
      for (int64_t g = 0; g < ng; ++g) {
        const float s = f16_to_f32(scales[size_t(r * ng + g)]);
        const float z = spec.symmetric ? sym_zero : f16_to_f32(zeros[size_t(r * ng + g)]);
        const int64_t c0 = g * gc, c1 = std::min(cols, c0 + gc);
        for (int64_t c = c0; c < c1; ++c) o[c] = s * (float(q[size_t(c)]) - z);
      }
    }
  });
}

QuantizedTensor QuantizedTensor::empty(const QuantSpec& spec, int64_t rows, int64_t cols) {
  validate_spec(spec, "QuantizedTensor");
  check(rows >= 0 && cols > 0, "QuantizedTensor: bad shape [", rows, ", ", cols, "]");
  QuantizedTensor t;
  t.spec = spec;
  t.rows = rows;
  t.cols = cols;
  t.codes.assign(static_cast<size_t>(rows * t.row_bytes()), 0);
  t.scales.assign(static_cast<size_t>(rows * t.n_groups()), 0);
  if (!spec.symmetric) t.zeros.assign(static_cast<size_t>(rows * t.n_groups()), 0);
  return t;
}

// -------------------------------------------------------------- group params

GroupParams params_from_range(float xmin, float xmax, const QuantSpec& spec, float clip) {
  const int maxq = spec.maxq();
  xmin = std::min(xmin, 0.0f) * clip;
  xmax = std::max(xmax, 0.0f) * clip;
  GroupParams p;
  if (spec.symmetric) {
    float amax = std::max(-xmin, xmax);
    if (!(amax > 0.0f)) amax = 1.0f;  // all zero: GPTQ's [-1, 1]; 0 stays exact
    p.scale = round_scale(2.0f * amax / float(maxq));
    p.zero = float((maxq + 1) / 2);
    return p;
  }
  if (!(xmax - xmin > 0.0f)) {  // all zero: GPTQ's [-1, 1]; 0 stays exact
    xmin = -1.0f;
    xmax = 1.0f;
  }
  p.scale = round_scale((xmax - xmin) / float(maxq));
  const float z = std::nearbyint(-xmin / p.scale);
  p.zero = std::clamp(z, 0.0f, float(maxq));
  return p;
}

GroupParams group_params(const float* x, int64_t n, const QuantSpec& spec, float clip) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  return params_from_range(lo, hi, spec, clip);
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void quantize_values(const float* __restrict x, int64_t n, const GroupParams& p, int maxq,
                     uint8_t* __restrict q) {
  const float s = p.scale, z = p.zero, fq = float(maxq);
  for (int64_t i = 0; i < n; ++i) {
    // Two one-sided clamps in a row: GCC 12 does not if-convert (vectorise)
    // the nested form without -fno-trapping-math.
    float v = ((x[i] / s + kRound) - kRound) + z;
    v = v > fq ? fq : v;
    v = v < 0.0f ? 0.0f : v;
    q[i] = uint8_t(v);
  }
}

}  // namespace lieq
