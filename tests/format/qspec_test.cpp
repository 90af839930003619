// Quantization spec and storage: exact bit accounting against hand counts,
// spec validation messages, bit packing (layouts checked byte by byte, codes
// that straddle bytes, overwrites), group parameters (fp16 scales, integer
// zeros, degenerate groups) and the quantize/dequantize round trip bound for
// every width x group size x symmetric/asymmetric.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "expect_error.h"
#include "format/qspec.h"
#include "test_support.h"
#include "util/half.h"

namespace lieq {
namespace {

using testing::normal_matrix;

// ------------------------------------------------------------- bit accounting

TEST(QuantSpecTest, StorageBitsMatchHandCounts) {
  // int2 g128 asym on [4096, 4096]: 2 bits + (16 + 16) / 128 = 2.25 exactly.
  QuantSpec s{2, 128, false};
  EXPECT_EQ(s.storage_bits(4096, 4096), 2 * 4096 * 4096 + 4096 * 32 * 32);
  EXPECT_EQ(s.bits_per_weight(4096, 4096), 2.25);
  // Symmetric: no zero point, 2 + 16 / 128.
  s.symmetric = true;
  EXPECT_EQ(s.bits_per_weight(4096, 4096), 2.125);
  // int4 per-channel asym on [64, 172]: one scale + zero per row.
  const QuantSpec pc{4, 0, false};
  EXPECT_EQ(pc.n_groups(172), 1);
  EXPECT_EQ(pc.storage_bits(64, 172), 4 * 64 * 172 + 64 * 32);
  EXPECT_DOUBLE_EQ(pc.bits_per_weight(64, 172), 4.0 + 32.0 / 172.0);
  // int3 g128 on 172 columns: two groups per row (128 + 44).
  const QuantSpec g3{3, 128, false};
  EXPECT_EQ(g3.n_groups(172), 2);
  EXPECT_EQ(g3.storage_bits(64, 172), 3 * 64 * 172 + 64 * 2 * 32);
  EXPECT_DOUBLE_EQ(g3.bits_per_weight(64, 172), 3.0 + 2.0 * 32.0 / 172.0);
  // int8 g32 sym on [3, 100]: 4 groups per row (32, 32, 32, 4).
  const QuantSpec g8{8, 32, true};
  EXPECT_EQ(g8.storage_bits(3, 100), 8 * 300 + 3 * 4 * 16);
}

TEST(QuantSpecTest, StorageMatchesAllocatedTensor) {
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int g : {0, 32, 128})
      for (bool sym : {false, true}) {
        const QuantSpec s{bits, g, sym};
        const QuantizedTensor t = QuantizedTensor::empty(s, 5, 172);
        // Codes are padded to whole bytes per row; parameters are exact.
        EXPECT_EQ(int64_t(t.codes.size()), 5 * ((172 * bits + 7) / 8)) << s.name();
        EXPECT_EQ(int64_t(t.scales.size()) * 16 + int64_t(t.zeros.size()) * 16 +
                      5 * 172 * bits,
                  s.storage_bits(5, 172))
            << s.name();
      }
}

TEST(QuantSpecTest, Names) {
  EXPECT_EQ((QuantSpec{4, 128, false}.name()), "int4 g128 asym");
  EXPECT_EQ((QuantSpec{3, 0, true}.name()), "int3 per-channel sym");
  EXPECT_EQ((QuantSpec{2, 32, true}.name()), "int2 g32 sym");
}

TEST(QuantSpecTest, ValidateNamesTheProblem) {
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int g : {0, 16, 32, 64, 128, 256, 512, 1024})
      EXPECT_NO_THROW(validate_spec(QuantSpec{bits, g, false}, "x"));
  EXPECT_LIEQ_ERROR(validate_spec(QuantSpec{7, 128, false}, "layer 3"), "layer 3", "bits 7",
                    "2, 3, 4, 5, 6 or 8");
  EXPECT_LIEQ_ERROR(validate_spec(QuantSpec{1, 128, false}, "layer 3"), "bits 1");
  EXPECT_LIEQ_ERROR(validate_spec(QuantSpec{4, 48, false}, "model.layers.0"), "model.layers.0",
                    "group size 48", "power of two between 16 and 1024");
  EXPECT_LIEQ_ERROR(validate_spec(QuantSpec{4, 2048, false}, "w"), "group size 2048",
                    "power of two between 16 and 1024");
  EXPECT_LIEQ_ERROR(validate_spec(QuantSpec{4, 8, false}, "w"), "group size 8");
  EXPECT_LIEQ_ERROR(validate_spec(QuantSpec{4, -128, false}, "w"), "group size -128");
  EXPECT_LIEQ_ERROR(QuantizedTensor::empty(QuantSpec{7, 128, false}, 2, 2), "bits 7");
}

// ---------------------------------------------------------------- bit packing

std::vector<uint8_t> packed(std::vector<uint8_t> codes, int bits) {
  std::vector<uint8_t> out(static_cast<size_t>((int64_t(codes.size()) * bits + 7) / 8), 0xee);
  pack_codes(codes.data(), int64_t(codes.size()), bits, out.data());
  return out;
}

TEST(QuantPackingTest, KnownLayouts) {
  // Little endian: code i in bits [i * bits, (i + 1) * bits); hand-computed.
  EXPECT_EQ(packed({1, 2, 3, 4, 5, 6, 7, 0}, 3), (std::vector<uint8_t>{0xd1, 0x58, 0x1f}));
  EXPECT_EQ(packed({1, 31, 2, 17, 0}, 5), (std::vector<uint8_t>{0xe1, 0x8b, 0x08, 0x00}));
  EXPECT_EQ(packed({63, 1, 40, 5, 9}, 6), (std::vector<uint8_t>{0x7f, 0x80, 0x16, 0x09}));
  EXPECT_EQ(packed({3, 0, 1, 2, 1}, 2), (std::vector<uint8_t>{0x93, 0x01}));
  EXPECT_EQ(packed({0xa, 0x5, 0xf}, 4), (std::vector<uint8_t>{0x5a, 0x0f}));
  EXPECT_EQ(packed({200, 7}, 8), (std::vector<uint8_t>{200, 7}));
  // The same through set_code on a tensor (row 1 of 2, so row offsets count).
  QuantizedTensor t = QuantizedTensor::empty(QuantSpec{3, 0, true}, 2, 8);
  const int c3[8] = {1, 2, 3, 4, 5, 6, 7, 0};
  for (int c = 0; c < 8; ++c) t.set_code(1, c, c3[c]);
  EXPECT_EQ(t.row_bytes(), 3);
  EXPECT_EQ(std::vector<uint8_t>(t.codes.begin() + 3, t.codes.end()),
            (std::vector<uint8_t>{0xd1, 0x58, 0x1f}));
  EXPECT_EQ(std::vector<uint8_t>(t.codes.begin(), t.codes.begin() + 3),
            (std::vector<uint8_t>{0, 0, 0}));
}

TEST(QuantPackingTest, RoundTripEveryWidth) {
  std::mt19937 rng(7);
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    const int maxq = (1 << bits) - 1;
    std::uniform_int_distribution<int> ud(0, maxq);
    for (int64_t cols : {1, 3, 7, 13, 64, 172}) {
      const int64_t rows = 3;
      QuantizedTensor t = QuantizedTensor::empty(QuantSpec{bits, 0, false}, rows, cols);
      std::vector<uint8_t> want(static_cast<size_t>(rows * cols));
      for (auto& q : want) q = uint8_t(ud(rng));
      // Fill with maxq first, then overwrite: set_code must clear old bits.
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) t.set_code(r, c, maxq);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) t.set_code(r, c, want[size_t(r * cols + c)]);
      std::vector<uint8_t> got(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c)
          ASSERT_EQ(t.code(r, c), want[size_t(r * cols + c)])
              << "bits " << bits << " cols " << cols << " at " << r << "," << c;
        // pack_codes produces the same bytes as set_code; unpack inverts it.
        std::vector<uint8_t> row(static_cast<size_t>(t.row_bytes()));
        pack_codes(want.data() + r * cols, cols, bits, row.data());
        EXPECT_EQ(row, std::vector<uint8_t>(t.codes.begin() + r * t.row_bytes(),
                                            t.codes.begin() + (r + 1) * t.row_bytes()))
            << "bits " << bits << " cols " << cols;
        unpack_codes(row.data(), cols, bits, got.data());
        EXPECT_EQ(got, std::vector<uint8_t>(want.begin() + r * cols, want.begin() + (r + 1) * cols));
      }
      // Unused high bits of a row's last byte stay zero.
      if ((cols * bits) % 8 != 0) {
        for (int64_t r = 0; r < rows; ++r) {
          EXPECT_EQ(t.codes[size_t((r + 1) * t.row_bytes() - 1)] >> ((cols * bits) % 8), 0);
        }
      }
    }
  }
}

TEST(QuantPackingTest, OutOfRangeCodesRejected) {
  QuantizedTensor t = QuantizedTensor::empty(QuantSpec{3, 0, false}, 2, 5);
  EXPECT_LIEQ_ERROR(t.set_code(0, 0, 8), "code 8", "[0, 7]");
  EXPECT_LIEQ_ERROR(t.set_code(2, 0, 1), "outside");
  EXPECT_LIEQ_ERROR(t.code(0, 5), "outside");
}

// ------------------------------------------------------------ group params

TEST(QuantGroupParamsTest, AsymmetricIncludesZeroAndRoundsScaleToFp16) {
  const QuantSpec s{4, 128, false};
  const float x[4] = {0.3f, 1.7f, 0.9f, 1.1f};  // all positive: min becomes 0
  const GroupParams p = group_params(x, 4, s);
  EXPECT_EQ(p.scale, f16_to_f32(f32_to_f16(1.7f / 15.0f)));
  EXPECT_EQ(p.zero, 0.0f);
  const float y[3] = {-2.0f, -1.0f, -0.5f};  // all negative: max becomes 0
  const GroupParams q = group_params(y, 3, s);
  EXPECT_EQ(q.scale, f16_to_f32(f32_to_f16(2.0f / 15.0f)));
  EXPECT_EQ(q.zero, 15.0f);
  // params_from_range adds 0 to the range too.
  EXPECT_EQ(params_from_range(0.3f, 1.7f, s).scale, p.scale);
  EXPECT_EQ(params_from_range(-2.0f, -0.5f, s).zero, 15.0f);
  // Clipping shrinks the range.
  const GroupParams c = group_params(x, 4, s, 0.5f);
  EXPECT_EQ(c.scale, f16_to_f32(f32_to_f16(0.85f / 15.0f)));
}

TEST(QuantGroupParamsTest, SymmetricUsesAbsmaxAndFixedZero) {
  const QuantSpec s{3, 32, true};
  const float x[3] = {0.25f, -1.5f, 1.0f};
  const GroupParams p = group_params(x, 3, s);
  EXPECT_EQ(p.scale, f16_to_f32(f32_to_f16(2.0f * 1.5f / 7.0f)));
  EXPECT_EQ(p.zero, 4.0f);  // (maxq + 1) / 2
}

TEST(QuantGroupParamsTest, DegenerateGroupsStayExactAndFinite) {
  for (bool sym : {false, true}) {
    const QuantSpec s{2, 32, sym};
    const float zeros[5] = {0, 0, 0, 0, 0};
    const GroupParams p = group_params(zeros, 5, s);
    EXPECT_GT(p.scale, 0.0f);
    EXPECT_EQ(dequantize_value(quantize_value(0.0f, p, s.maxq()), p), 0.0f);
    // A constant group: the range is [0, c], c exact at the top (asym) or
    // within half a step (sym).
    const float cst[4] = {3.5f, 3.5f, 3.5f, 3.5f};
    const GroupParams c = group_params(cst, 4, s);
    const float back = dequantize_value(quantize_value(3.5f, c, s.maxq()), c);
    EXPECT_LE(std::fabs(back - 3.5f), c.scale * (0.5f + float(s.maxq()) / 2048.0f) + 1e-6f);
    // Tiny values: the fp16 scale must not underflow to 0 (no inf / NaN).
    const float tiny[2] = {1e-12f, -3e-12f};
    const GroupParams t = group_params(tiny, 2, s);
    EXPECT_GE(t.scale, std::ldexp(1.0f, -24));
    EXPECT_TRUE(std::isfinite(dequantize_value(quantize_value(1e-12f, t, s.maxq()), t)));
  }
}

TEST(QuantGroupParamsTest, VectorisedCodesMatchQuantizeValue) {
  // quantize_values (rounding by the 1.5 * 2^23 trick) against quantize_value
  // (nearbyint): exact ties, values far outside the range, negative zero.
  const GroupParams p{0.5f, 3.0f};
  std::vector<float> x = {1.25f, -1.25f, 0.75f, -0.25f, 0.25f, -0.0f, 1e9f, -1e9f, 3e6f,
                          -3e6f, 1e30f, -1e30f, 2.2f, 7.5f, -1.75f, 4.0f};
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> ud(-10.0f, 10.0f);
  for (int i = 0; i < 1000; ++i) x.push_back(ud(rng));
  for (int i = -40; i <= 40; ++i) x.push_back(float(i) * 0.25f);  // every tie
  for (int maxq : {3, 7, 15, 31, 63, 255}) {
    std::vector<uint8_t> q(x.size());
    quantize_values(x.data(), int64_t(x.size()), p, maxq, q.data());
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(int(q[i]), quantize_value(x[i], p, maxq)) << "x = " << x[i] << " maxq " << maxq;
  }
}

// ------------------------------------------------------- quantize round trip

// Quantizes w [rows, cols] with group_params per group (what RTN does) into
// a QuantizedTensor through set_code, for the round-trip test.
QuantizedTensor quantize_by_hand(const std::vector<float>& w, int64_t rows, int64_t cols,
                                 const QuantSpec& s) {
  QuantizedTensor t = QuantizedTensor::empty(s, rows, cols);
  const int64_t gc = s.group_cols(cols), ng = s.n_groups(cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < ng; ++g) {
      const int64_t c0 = g * gc, len = std::min(gc, cols - c0);
      const GroupParams p = group_params(w.data() + r * cols + c0, len, s);
      t.scales[size_t(r * ng + g)] = f32_to_f16(p.scale);
      if (!s.symmetric) t.zeros[size_t(r * ng + g)] = f32_to_f16(p.zero);
      for (int64_t c = c0; c < c0 + len; ++c)
        t.set_code(r, c, quantize_value(w[size_t(r * cols + c)], p, s.maxq()));
    }
  return t;
}

// Bound for values inside a group's range: half a step, plus the effect of
// rounding the scale to fp16 (relative error <= 2^-11, which can stretch the
// top of the grid by maxq * 2^-11 steps), plus float rounding:
//   |w - w'| <= s * (0.5 + maxq * 2^-11) + 1e-6 * |w|.
TEST(QuantRoundTripTest, ErrorWithinHalfStepForEveryWidthAndGroup) {
  const int64_t rows = 6, cols = 512;
  std::vector<float> w = normal_matrix(rows, cols, 11);
  for (int64_t c = 0; c < cols; c += 37) w[size_t(c)] *= 8.0f;  // outliers in row 0
  for (int64_t c = 0; c < cols; ++c) w[size_t(cols + c)] = std::fabs(w[size_t(cols + c)]);  // row 1 >= 0
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int g : {32, 64, 128, 0})
      for (bool sym : {false, true}) {
        const QuantSpec s{bits, g, sym};
        const QuantizedTensor t = quantize_by_hand(w, rows, cols, s);
        const std::vector<float> back = t.dequantize();
        const int64_t gc = s.group_cols(cols), ng = t.n_groups();
        const int maxq = s.maxq();
        double worst_ratio = 0;  // max |err| / scale seen
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            const int64_t gi = r * ng + c / gc;
            const float sc = f16_to_f32(t.scales[size_t(gi)]);
            const float z = sym ? float((maxq + 1) / 2) : f16_to_f32(t.zeros[size_t(gi)]);
            ASSERT_EQ(z, std::nearbyint(z));
            ASSERT_GE(z, 0.0f);
            ASSERT_LE(z, float(maxq));
            const float wv = w[size_t(r * cols + c)];
            const double err = std::fabs(double(back[size_t(r * cols + c)]) - double(wv));
            const double bound =
                double(sc) * (0.5 + maxq * std::ldexp(1.0, -11)) + 1e-6 * std::fabs(wv);
            ASSERT_LE(err, bound) << s.name() << " at " << r << "," << c << " w " << wv
                                  << " scale " << sc;
            worst_ratio = std::max(worst_ratio, err / double(sc));
          }
        // The bound is tight: some weight is close to half a step away.
        EXPECT_GT(worst_ratio, 0.4) << s.name();
      }
}

TEST(QuantRoundTripTest, DequantizeIntoMatchesDequantize) {
  const QuantSpec s{3, 32, false};
  const std::vector<float> w = normal_matrix(5, 172, 5);
  const QuantizedTensor t = quantize_by_hand(w, 5, 172, s);
  std::vector<float> a = t.dequantize(), b(a.size(), -1.0f);
  t.dequantize_into(b.data());
  EXPECT_EQ(a, b);
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c = 0; c < 172; ++c) {
      const int64_t gi = r * t.n_groups() + c / 32;
      const float v = f16_to_f32(t.scales[size_t(gi)]) *
                      (float(t.code(r, c)) - f16_to_f32(t.zeros[size_t(gi)]));
      ASSERT_EQ(a[size_t(r * 172 + c)], v);
    }
}

}  // namespace
}  // namespace lieq
