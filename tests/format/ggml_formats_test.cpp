// ggml block formats: type ids, sizes and traits against ggml's own values;
// round-trip error budgets; exact encodings (derived by hand from the format
// definitions, and recorded from ggml's quantizers); hand-made blocks decoded
// by hand; importance weighting; the per-block grid API; input errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "expect_error.h"
#include "format/ggml_formats.h"
#include "ggml_fixture.h"
#include "util/half.h"

namespace lieq {
namespace {

using testing::decode;
using testing::fnv1a;
using testing::ggml_fixture;
using testing::hex;

// The lattice i-quants (IQ1_S ... IQ3_S) have their own tests
// (ggml_iq1/2/3_test.cpp): no code per element, some need importance.
bool is_iquant(GgmlType t) {
  return t == GgmlType::IQ1_S || t == GgmlType::IQ1_M || t == GgmlType::IQ2_XXS ||
         t == GgmlType::IQ2_XS || t == GgmlType::IQ2_S || t == GgmlType::IQ3_XXS ||
         t == GgmlType::IQ3_S;
}
size_t non_iquant_count() {
  size_t n = 0;
  for (const GgmlTypeTraits& t : ggml_supported_types()) n += is_iquant(t.type) ? 0 : 1;
  return n;
}

using ::testing::HasSubstr;
using testing::error_message;

// ------------------------------------------------------------------ helpers

std::vector<float> gaussian(int64_t n, uint32_t seed, float sd) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = nd(rng);
  return v;
}

// Heavy-tailed positive importances (like an imatrix: mean squared activations).
std::vector<float> importances(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = std::exp(2.0f * nd(rng));
  return v;
}

std::vector<uint8_t> encode(GgmlType t, const std::vector<float>& x, const float* imp = nullptr) {
  std::vector<uint8_t> q(ggml_row_size(t, static_cast<int64_t>(x.size())));
  ggml_quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()), imp);
  return q;
}

template <typename T>
std::string hex_of(const T& block) {
  return hex(reinterpret_cast<const uint8_t*>(&block), sizeof(T));
}

uint32_t bits(float f) { return f32_to_bits(f); }

float round_to(GgmlType t, float x) {
  if (t == GgmlType::F16) return f16_to_f32(f32_to_f16(x));
  if (t == GgmlType::BF16) return bf16_to_f32(f32_to_bf16(x));
  return x;
}

const GgmlType kQuantTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                                GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL,
                                GgmlType::IQ4_XS};

// ------------------------------------------------------------------ ids, sizes, names

TEST(GgmlFormatsTest, IdsAndSizesMatchGgml) {
  // From ggml.h (enum ggml_type) and ggml-common.h (block structs), llama.cpp
  // c392e5094deaf2d1a7c18683214f007fad3fe42b (TQ1_0, TQ2_0: de3ff815ea7d).
  struct Expected {
    uint32_t id;
    const char* name;
    int64_t block;
    size_t bytes;
    double bpw;
  };
  const Expected expected[] = {
      {0, "F32", 1, 4, 32.0},         {1, "F16", 1, 2, 16.0},
      {2, "Q4_0", 32, 18, 4.5},       {3, "Q4_1", 32, 20, 5.0},
      {6, "Q5_0", 32, 22, 5.5},       {7, "Q5_1", 32, 24, 6.0},
      {8, "Q8_0", 32, 34, 8.5},       {10, "Q2_K", 256, 84, 2.625},
      {11, "Q3_K", 256, 110, 3.4375}, {12, "Q4_K", 256, 144, 4.5},
      {13, "Q5_K", 256, 176, 5.5},    {14, "Q6_K", 256, 210, 6.5625},
      {16, "IQ2_XXS", 256, 66, 2.0625}, {17, "IQ2_XS", 256, 74, 2.3125},
      {18, "IQ3_XXS", 256, 98, 3.0625}, {19, "IQ1_S", 256, 50, 1.5625},
      {20, "IQ4_NL", 32, 18, 4.5},    {21, "IQ3_S", 256, 110, 3.4375},
      {22, "IQ2_S", 256, 82, 2.5625}, {23, "IQ4_XS", 256, 136, 4.25},
      {29, "IQ1_M", 256, 56, 1.75},   {30, "BF16", 1, 2, 16.0},
      {34, "TQ1_0", 256, 54, 1.6875}, {35, "TQ2_0", 256, 66, 2.0625},
  };
  ASSERT_EQ(ggml_supported_types().size(), std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    const Expected& e = expected[i];
    const GgmlTypeTraits& t = ggml_supported_types()[i];
    EXPECT_EQ(static_cast<uint32_t>(t.type), e.id) << e.name;
    EXPECT_STREQ(t.name, e.name);
    EXPECT_EQ(t.block_size, e.block) << e.name;
    EXPECT_EQ(t.type_size, e.bytes) << e.name;
    EXPECT_DOUBLE_EQ(t.bits_per_weight(), e.bpw) << e.name;
    EXPECT_DOUBLE_EQ(ggml_bits_per_weight(t.type), e.bpw) << e.name;
    EXPECT_EQ(find_ggml_traits(e.id), &t) << e.name;
    EXPECT_EQ(&ggml_traits(t.type), &t) << e.name;
    EXPECT_STREQ(ggml_type_name(t.type), e.name);
    EXPECT_EQ(ggml_row_size(t.type, 4096), size_t(4096 / e.block) * e.bytes) << e.name;
    EXPECT_EQ(ggml_row_size(t.type, 0), 0u) << e.name;
  }
  EXPECT_EQ(sizeof(ggml::BlockQ4_0), 18u);
  EXPECT_EQ(sizeof(ggml::BlockQ4_1), 20u);
  EXPECT_EQ(sizeof(ggml::BlockQ5_0), 22u);
  EXPECT_EQ(sizeof(ggml::BlockQ5_1), 24u);
  EXPECT_EQ(sizeof(ggml::BlockQ8_0), 34u);
  EXPECT_EQ(sizeof(ggml::BlockQ2_K), 84u);
  EXPECT_EQ(sizeof(ggml::BlockQ3_K), 110u);
  EXPECT_EQ(sizeof(ggml::BlockQ4_K), 144u);
  EXPECT_EQ(sizeof(ggml::BlockQ5_K), 176u);
  EXPECT_EQ(sizeof(ggml::BlockQ6_K), 210u);
  EXPECT_EQ(sizeof(ggml::BlockIQ4_NL), 18u);
  EXPECT_EQ(sizeof(ggml::BlockIQ4_XS), 136u);
  EXPECT_EQ(sizeof(ggml::BlockTQ1_0), 54u);
  EXPECT_EQ(sizeof(ggml::BlockTQ2_0), 66u);
  // Unsupported ids: Q8_1 (9), Q8_K (15), I8 (24), I32 (26), MXFP4 (39).
  for (uint32_t id : {4u, 5u, 9u, 15u, 24u, 26u, 39u}) EXPECT_EQ(find_ggml_traits(id), nullptr);
}

TEST(GgmlFormatsTest, ParsesNamesCaseInsensitively) {
  GgmlType t = GgmlType::F32;
  EXPECT_TRUE(parse_ggml_type("q4_k", &t));
  EXPECT_EQ(t, GgmlType::Q4_K);
  EXPECT_TRUE(parse_ggml_type("IQ4_XS", &t));
  EXPECT_EQ(t, GgmlType::IQ4_XS);
  EXPECT_TRUE(parse_ggml_type("Bf16", &t));
  EXPECT_EQ(t, GgmlType::BF16);
  EXPECT_TRUE(parse_ggml_type("q8_0", &t));
  EXPECT_EQ(t, GgmlType::Q8_0);
  for (const GgmlTypeTraits& tr : ggml_supported_types()) {
    GgmlType p = GgmlType::F32;
    EXPECT_TRUE(parse_ggml_type(tr.name, &p)) << tr.name;
    EXPECT_EQ(p, tr.type);
  }
  t = GgmlType::Q6_K;
  for (const char* bad : {"", "Q4", "Q4_K_M", "q4k", "Q8_1", " Q4_K", "IQ2_XXXS"})
    EXPECT_FALSE(parse_ggml_type(bad, &t)) << bad;
  EXPECT_EQ(t, GgmlType::Q6_K);  // untouched
}

TEST(GgmlFormatsTest, RejectsBadInput) {
  EXPECT_THAT(error_message([] { ggml_row_size(GgmlType::Q4_K, 255); }),
              HasSubstr("not a multiple of the block size 256"));
  EXPECT_THAT(error_message([] { ggml_row_size(GgmlType::Q8_0, -32); }), HasSubstr("Q8_0"));
  EXPECT_THAT(error_message([] { ggml_traits(static_cast<GgmlType>(9)); }),
              HasSubstr("ggml type id 9 is not supported"));
  std::vector<float> x(64, 1.0f), imp(64, 1.0f);
  std::vector<uint8_t> q(256);
  EXPECT_THAT(error_message([&] { ggml_quantize_row(GgmlType::Q4_0, x.data(), q.data(), 48, nullptr); }),
              HasSubstr("Q4_0 row of 48 values"));
  std::vector<float> y(64);
  EXPECT_THAT(error_message([&] { ggml_dequantize_row(GgmlType::Q4_1, q.data(), y.data(), 40); }),
              HasSubstr("not a multiple"));
  imp[17] = -1.0f;
  EXPECT_THAT(error_message([&] { ggml_quantize_row(GgmlType::Q4_0, x.data(), q.data(), 64, imp.data()); }),
              HasSubstr("importance[17]"));
  imp[17] = NAN;
  EXPECT_THAT(error_message([&] { ggml_quantize_row(GgmlType::Q4_0, x.data(), q.data(), 64, imp.data()); }),
              HasSubstr("importance[17]"));
  GgmlBlockGrid g(GgmlType::Q4_K);
  EXPECT_THAT(error_message([&] { g.quantize_value(0, 1.0f); }), HasSubstr("before fit"));
  EXPECT_THAT(error_message([&] { g.fit(x.data(), nullptr, 64); }),
              HasSubstr("block has 256 values, got 64"));
  EXPECT_THAT(error_message([] { GgmlBlockGrid bad(static_cast<GgmlType>(15)); }),
              HasSubstr("not supported"));
}

// ------------------------------------------------------------------ round trips

// Relative RMS error sqrt(sum (x - x')^2 / sum x^2) of encode + decode on
// Gaussian data (16 rows of 4096). Measured (ggml's own quantizers give the
// same, as the encoders are bit-exact with them): F16 0.021%, BF16 0.17%,
// Q8_0 0.54%, Q6_K 1.79%, Q5_K 3.64%, Q5_1 3.80%, Q5_0 4.30%, Q4_K 7.17%,
// IQ4_NL 7.63%, IQ4_XS 7.69%, Q4_1 7.85%, Q4_0 8.68%, Q3_K 15.2%, Q2_K 29.7%;
// bounds leave about 10% margin.
TEST(GgmlFormatsTest, RoundTripWithinErrorBudgets) {
  struct Budget {
    GgmlType type;
    double max_rel_rms;
  };
  const Budget budgets[] = {
      {GgmlType::F32, 0.0},      {GgmlType::F16, 0.0003},   {GgmlType::BF16, 0.002},
      {GgmlType::Q8_0, 0.006},   {GgmlType::Q6_K, 0.02},    {GgmlType::Q5_K, 0.04},
      {GgmlType::Q5_1, 0.042},   {GgmlType::Q5_0, 0.047},   {GgmlType::Q4_K, 0.079},
      {GgmlType::IQ4_NL, 0.084}, {GgmlType::IQ4_XS, 0.085}, {GgmlType::Q4_1, 0.086},
      {GgmlType::Q4_0, 0.095},   {GgmlType::Q3_K, 0.167},   {GgmlType::Q2_K, 0.33},
      {GgmlType::TQ2_0, 0.83},   {GgmlType::TQ1_0, 0.83},  // ternary: made for ternary weights
  };
  ASSERT_EQ(std::size(budgets), non_iquant_count());  // the i-quants: ggml_iq*_test.cpp
  const int64_t n = 4096, rows = 16;
  const std::vector<float> x = gaussian(n * rows, 7, 0.02f);
  for (const Budget& b : budgets) {
    double e2 = 0.0, x2 = 0.0;
    std::vector<uint8_t> q(ggml_row_size(b.type, n));
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x.data() + r * n;
      ggml_quantize_row(b.type, xr, q.data(), n, nullptr);
      const std::vector<float> y = decode(b.type, q.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double d = double(xr[i]) - double(y[size_t(i)]);
        e2 += d * d;
        x2 += double(xr[i]) * double(xr[i]);
      }
    }
    const double rel = std::sqrt(e2 / x2);
    EXPECT_LE(rel, b.max_rel_rms) << ggml_type_name(b.type);
    if (b.max_rel_rms > 0.0) {
      // And not suspiciously good (a decoder ignoring codes would not be, but
      // a grid twice too fine would mean a wrong scale).
      EXPECT_GE(rel, 0.6 * b.max_rel_rms) << ggml_type_name(b.type);
    }
  }
}

TEST(GgmlFormatsTest, ZeroAndConstantRowsRoundTrip) {
  for (const GgmlTypeTraits& t : ggml_supported_types()) {
    if (is_iquant(t.type)) continue;  // lattice formats: ggml_iq*_test.cpp
    const int64_t n = 512;
    const std::vector<float> zero(static_cast<size_t>(n), 0.0f);
    std::vector<float> y = decode(t.type, encode(t.type, zero).data(), n);
    for (float v : y) ASSERT_EQ(v, 0.0f) << t.name;
    // A constant row: exact for formats with a min, within 1% for the others.
    const std::vector<float> c(static_cast<size_t>(n), 0.375f);
    y = decode(t.type, encode(t.type, c).data(), n);
    for (float v : y) ASSERT_NEAR(v, 0.375f, 0.01f) << t.name;
  }
}

// ------------------------------------------------------------------ exact encodings, by hand

// Q8_0: x_j = k_j / 128 with max |k| = 127, so d = amax / 127 = 2^-7 exactly
// (fp16 0x2000) and the codes are k_j.
TEST(GgmlFormatsTest, Q8_0EncodesHandDerivedBlock) {
  std::vector<float> x(32);
  ggml::BlockQ8_0 want{};
  want.d = 0x2000;
  for (int j = 0; j < 32; ++j) {
    const int k = (j * 37) % 255 - 127;  // j = 0: -127
    x[size_t(j)] = static_cast<float>(k) / 128.0f;
    want.qs[j] = static_cast<int8_t>(k);
  }
  EXPECT_EQ(hex(encode(GgmlType::Q8_0, x).data(), 34), hex_of(want));
}

// Q4_0: x_j = k_j / 16, k in [-8, 7], the largest magnitude -8: d = max / -8 =
// 1/16 (fp16 0x2C00), code = trunc(k + 8.5) = k + 8, element j in the low
// nibble of qs[j], j + 16 in the high one. Negating the block negates d
// (0xAC00) and keeps the codes.
TEST(GgmlFormatsTest, Q4_0EncodesHandDerivedBlocks) {
  std::vector<float> x(64);
  ggml::BlockQ4_0 a{}, b{};
  a.d = 0x2C00;
  b.d = 0xAC00;
  for (int j = 0; j < 32; ++j) {
    const int k = (j * 5) % 16 - 8;  // j = 0, 16: -8
    x[size_t(j)] = static_cast<float>(k) / 16.0f;
    x[size_t(32 + j)] = -x[size_t(j)];
    const int shift = j < 16 ? 0 : 4;
    a.qs[j % 16] = static_cast<uint8_t>(a.qs[j % 16] | (k + 8) << shift);
  }
  std::memcpy(b.qs, a.qs, 16);
  const std::vector<uint8_t> q = encode(GgmlType::Q4_0, x);
  EXPECT_EQ(hex(q.data(), 18), hex_of(a));
  EXPECT_EQ(hex(q.data() + 18, 18), hex_of(b));
}

// Q4_K: sub-block j holds l * c_j * u - m_j * v, l = 0..15 twice, with 6-bit
// c and m whose largest is 63: the scale search finds the exact grid, so
// d = 63u / 63 = u = 2^-6 (0x2400), dmin = v = 2^-7 (0x2000), the 6-bit scales
// are c_j and m_j, and the codes are l.
TEST(GgmlFormatsTest, Q4_KEncodesHandDerivedBlock) {
  const int c[8] = {63, 32, 17, 1, 40, 63, 5, 20};
  const int m[8] = {0, 63, 10, 3, 50, 7, 63, 1};
  const float u = 0x1p-6f, v = 0x1p-7f;
  std::vector<float> x(256);
  ggml::BlockQ4_K want{};
  want.d = 0x2400;
  want.dmin = 0x2000;
  for (int j = 0; j < 8; ++j) {
    // The packing of ggml's get_scale_min_k4, written out.
    if (j < 4) {
      want.scales[j] = static_cast<uint8_t>(c[j]);
      want.scales[j + 4] = static_cast<uint8_t>(m[j]);
    } else {
      want.scales[j + 4] = static_cast<uint8_t>((c[j] & 15) | (m[j] & 15) << 4);
      want.scales[j - 4] = static_cast<uint8_t>(want.scales[j - 4] | (c[j] >> 4) << 6);
      want.scales[j] = static_cast<uint8_t>(want.scales[j] | (m[j] >> 4) << 6);
    }
    for (int i = 0; i < 32; ++i) {
      const int l = i % 16;
      const int e = 32 * j + i;
      x[size_t(e)] = static_cast<float>(l * c[j]) * u - static_cast<float>(m[j]) * v;
      // Element 64c + i (i < 32): low nibble of qs[32c + i]; 64c + 32 + i: high.
      const int chunk = e / 64, pos = e % 32, shift = (e % 64) < 32 ? 0 : 4;
      want.qs[32 * chunk + pos] = static_cast<uint8_t>(want.qs[32 * chunk + pos] | l << shift);
    }
  }
  EXPECT_EQ(hex(encode(GgmlType::Q4_K, x).data(), 144), hex_of(want));
}

// Q6_K: sub-block j holds k * c_j * u, k in [-32, 31] with -32 present, the
// largest c 128: the sub-block scales are c_j u exactly, the super scale is
// 1 / (-128 / (128 u)) = -u (fp16 0x9C00 for u = 2^-8), the int8 scales -c_j
// and the codes k + 32 (low 4 bits in ql, high 2 in qh).
TEST(GgmlFormatsTest, Q6_KEncodesHandDerivedBlock) {
  const int c[16] = {128, 1, 64, 100, 3, 127, 50, 2, 9, 77, 128, 31, 16, 8, 4, 90};
  const float u = 0x1p-8f;
  std::vector<float> x(256);
  ggml::BlockQ6_K want{};
  want.d = 0x9C00;
  for (int j = 0; j < 16; ++j) {
    want.scales[j] = static_cast<int8_t>(-c[j]);
    for (int i = 0; i < 16; ++i) {
      const int k = i < 15 ? -32 + 4 * i : 31;
      const int e = 16 * j + i;
      x[size_t(e)] = static_cast<float>(k * c[j]) * u;
      const int q = k + 32;
      // Element 128h + 32s + l: ql[64h + 32 (s & 1) + l] nibble s >> 1, qh[32h + l] bits 2s.
      const int h = e / 128, s = (e % 128) / 32, l = e % 32;
      uint8_t& lo = want.ql[64 * h + 32 * (s & 1) + l];
      lo = static_cast<uint8_t>(lo | (q & 15) << (4 * (s >> 1)));
      uint8_t& hi = want.qh[32 * h + l];
      hi = static_cast<uint8_t>(hi | (q >> 4) << (2 * s));
    }
  }
  EXPECT_EQ(hex(encode(GgmlType::Q6_K, x).data(), 210), hex_of(want));
}

// ------------------------------------------------------------------ exact encodings, from ggml

// FNV-1a hashes of ggml's bytes for the fixture: ggml_quantize_chunk(type, x,
// dst, 0, 2, 1024, imatrix) without and with the imatrix, and of
// dequantize_row (the type's to_float) of the imatrix encoding as floats.
// Recorded from llama.cpp c392e5094deaf2d1a7c18683214f007fad3fe42b
// (ggml-base built in /tmp with gcc 12 -O2, x86-64 without F16C/FMA).
struct GgmlRecord {
  GgmlType type;
  uint64_t plain, imatrix, decoded;
};
const GgmlRecord kGgmlRecords[] = {
    {GgmlType::F32, 0x9f4f57edfeadc6acull, 0x9f4f57edfeadc6acull, 0x9f4f57edfeadc6acull},
    {GgmlType::F16, 0xd5ee5086c4fcdf4bull, 0xd5ee5086c4fcdf4bull, 0xfe84d516520a16e5ull},
    {GgmlType::Q4_0, 0x5e78992e3d5ff2e0ull, 0xfc06e6dd71827cacull, 0x3910c14f0f76a1c9ull},
    {GgmlType::Q4_1, 0xac9a7b2995364b71ull, 0x6b9db62cc8768eafull, 0x7dced0a4eb2ffe92ull},
    {GgmlType::Q5_0, 0x3fc00b6d0e256893ull, 0x11049509c31c6d38ull, 0xf55f2ef9ced1d283ull},
    {GgmlType::Q5_1, 0xb3f9f472bc7d5895ull, 0x4964124bd356b672ull, 0x5d2ff1b5b465722bull},
    {GgmlType::Q8_0, 0x56935feb55cc3fecull, 0x56935feb55cc3fecull, 0x85df11cccf4864aeull},
    {GgmlType::Q2_K, 0x8488f7b67a32273cull, 0x1cb90bf220e9411full, 0x3cf0f3b52b0676e3ull},
    {GgmlType::Q3_K, 0x375ed2925a57a375ull, 0x3d31c11c11ec696dull, 0x90a218bff190d8e1ull},
    {GgmlType::Q4_K, 0x31bc8b880ad888adull, 0xfa2c93df3d7fbe40ull, 0xfc350e1fbaeb7429ull},
    {GgmlType::Q5_K, 0x5a15025d42dfda14ull, 0x9abb2194374db680ull, 0x4420cebd9175f386ull},
    {GgmlType::Q6_K, 0x7930b967c07bfb43ull, 0x93266b4638bc60efull, 0x0385dc74ad4eebaeull},
    {GgmlType::IQ4_NL, 0x90a7a85ad086fc68ull, 0x3e14934bb09dcd87ull, 0xd50672f7fccd3c9cull},
    {GgmlType::IQ4_XS, 0xb26f57dae2a46c8full, 0x056e8288347beca8ull, 0x0f484bcbbed202feull},
    {GgmlType::BF16, 0xa5a1662523b7379dull, 0xa5a1662523b7379dull, 0x3886407fc771317dull},
    // From llama.cpp de3ff815ea7d559ee917f063901b8986f038abc6 (the Feb 2025
    // ggml gives the same); both ternary types decode to the same values.
    {GgmlType::TQ1_0, 0x64f59427ae86cd7aull, 0x64f59427ae86cd7aull, 0xdbf449ee131a1d0cull},
    {GgmlType::TQ2_0, 0xdfde27c0018c28e7ull, 0xdfde27c0018c28e7ull, 0xdbf449ee131a1d0cull},
};

TEST(GgmlFormatsTest, EncodingsAndDecodingsEqualGgmlsBytes) {
  std::vector<float> x, imp;
  ggml_fixture(&x, &imp);
  ASSERT_EQ(std::size(kGgmlRecords), non_iquant_count());  // the i-quants: ggml_iq*_test.cpp
  for (const GgmlRecord& rec : kGgmlRecords) {
    const char* name = ggml_type_name(rec.type);
    std::vector<uint8_t> q(2 * ggml_row_size(rec.type, 1024));
    ggml_quantize_rows(rec.type, x.data(), q.data(), 2, 1024, nullptr);
    EXPECT_EQ(fnv1a(q.data(), q.size()), rec.plain) << name << " without importance";
    ggml_quantize_rows(rec.type, x.data(), q.data(), 2, 1024, imp.data());
    EXPECT_EQ(fnv1a(q.data(), q.size()), rec.imatrix) << name << " with importance";
    const std::vector<float> y = decode(rec.type, q.data(), 2048);
    EXPECT_EQ(fnv1a(y.data(), y.size() * 4), rec.decoded) << name << " decoded";
  }
}

// The first block of the fixture, byte for byte, as ggml's quantize_row_*_ref
// wrote it (same record as above).
TEST(GgmlFormatsTest, FirstBlocksEqualGgmlsBytes) {
  std::vector<float> x, imp;
  ggml_fixture(&x, &imp);
  const struct {
    GgmlType type;
    const char* bytes;
  } expected[] = {
      {GgmlType::Q8_0,
       "9e18fc1606f2fafb007f0dfcf41604fb000502090007fb0300f4fdf70108f604"
       "0107"},
      {GgmlType::Q4_0, "95a888778889888888908798897798888888"},
      {GgmlType::Q4_K,
       "6d0d701a3f90159209cb144cadff8d0c915442902181818f03618064926191a2"
       "7222516251f241d03190119280027162876a6c8b00fa875db546dd7d88193558"
       "ab1a562899c78ca47749ab489c07de79efd1d1d6e9d8c6d2ddcbb0c0efd3e7d5"
       "ded4d2facbe8cab4e3e4d7cac3e908c649423352374957205459430751355b3d"
       "4a4551545a2b3235555146f9584f234f"},
      {GgmlType::Q6_K,
       "912b9e63123180e14d71c3cbbf0120df56c8019313b911c1e8184385b6da0103"
       "8c2713bd7905b958e18c57c08c4bdd50fe946543255079d4edb5f5a73ada1ed0"
       "40e6a607b93f94a37a34dbba346fc00a011f0c642efad15f4510f255960aac28"
       "357bec38893bd1f102fa610bb386c3baf1f1c0c5bf332e3dd3c3e21dcfe341ef"
       "5aa5a56ac22a5aa811962a6959e69a9d16dfbaeb69225a3069a41ea744ee066b"
       "9cab67fa5d99963be895a317bc6a8e4a586a7b695489a5a66b7b5a155749a146"
       "800c0fee1df0eaeff0f40d59f2ef15b5bb04"},
  };
  for (const auto& e : expected) {
    const std::vector<uint8_t> q = encode(e.type, x);
    EXPECT_EQ(hex(q.data(), ggml_traits(e.type).type_size), e.bytes) << ggml_type_name(e.type);
  }
}

// ------------------------------------------------------------------ decoding hand-made blocks

template <typename Block>
std::vector<float> decode_block(GgmlType t, const Block& b) {
  return decode(t, &b, ggml_traits(t).block_size);
}

TEST(GgmlFormatsTest, DecodesHandMadeFloatBlocks) {
  const float f = 1.5f;
  EXPECT_EQ(decode(GgmlType::F32, &f, 1)[0], 1.5f);
  const uint16_t h[3] = {0x3C00, 0xC000, 0x7BFF};  // 1, -2, 65504
  const std::vector<float> y = decode(GgmlType::F16, h, 3);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], 65504.0f);
  const uint16_t bf[2] = {0x3FC0, 0xC080};  // 1.5, -4
  EXPECT_EQ(decode(GgmlType::BF16, bf, 2)[0], 1.5f);
  EXPECT_EQ(decode(GgmlType::BF16, bf, 2)[1], -4.0f);
}

TEST(GgmlFormatsTest, DecodesHandMadeLegacyBlocks) {
  {  // Q8_0: d = 0.5
    ggml::BlockQ8_0 b{};
    b.d = 0x3800;
    b.qs[0] = -128;
    b.qs[5] = 3;
    b.qs[31] = 127;
    const auto y = decode_block(GgmlType::Q8_0, b);
    EXPECT_EQ(y[0], -64.0f);
    EXPECT_EQ(y[5], 1.5f);
    EXPECT_EQ(y[31], 63.5f);
    EXPECT_EQ(y[1], 0.0f);
  }
  {  // Q4_0: d = 1, x = q - 8
    ggml::BlockQ4_0 b{};
    b.d = 0x3C00;
    b.qs[0] = 0xF0;
    b.qs[15] = 0x9A;
    const auto y = decode_block(GgmlType::Q4_0, b);
    EXPECT_EQ(y[0], -8.0f);
    EXPECT_EQ(y[16], 7.0f);
    EXPECT_EQ(y[15], 2.0f);
    EXPECT_EQ(y[31], 1.0f);
    EXPECT_EQ(y[1], -8.0f);
  }
  {  // Q4_1: d = 0.5, m = -1
    ggml::BlockQ4_1 b{};
    b.d = 0x3800;
    b.m = 0xBC00;
    b.qs[3] = 0x5C;
    const auto y = decode_block(GgmlType::Q4_1, b);
    EXPECT_EQ(y[3], 5.0f);    // 12 * 0.5 - 1
    EXPECT_EQ(y[19], 1.5f);   // 5 * 0.5 - 1
    EXPECT_EQ(y[0], -1.0f);
  }
  {  // Q5_0: d = 1, x = q - 16, 5th bits 2 and 18 set
    ggml::BlockQ5_0 b{};
    b.d = 0x3C00;
    b.qs[2] = 0x31;
    b.qh[0] = 0x04;
    b.qh[2] = 0x04;
    const auto y = decode_block(GgmlType::Q5_0, b);
    EXPECT_EQ(y[2], 1.0f);    // (1 | 16) - 16
    EXPECT_EQ(y[18], 3.0f);   // (3 | 16) - 16
    EXPECT_EQ(y[3], -16.0f);
  }
  {  // Q5_1: d = 0.25, m = 2, 5th bit 0 set
    ggml::BlockQ5_1 b{};
    b.d = 0x3400;
    b.m = 0x4000;
    b.qs[0] = 0xFF;
    b.qh[0] = 0x01;
    const auto y = decode_block(GgmlType::Q5_1, b);
    EXPECT_EQ(y[0], 9.75f);   // 31 * 0.25 + 2
    EXPECT_EQ(y[16], 5.75f);  // 15 * 0.25 + 2
    EXPECT_EQ(y[1], 2.0f);
  }
  {  // IQ4_NL: d = 0.5, x = d * kvalues[q]
    ggml::BlockIQ4_NL b{};
    b.d = 0x3800;
    b.qs[0] = 0xF0;
    b.qs[7] = 0x78;
    const auto y = decode_block(GgmlType::IQ4_NL, b);
    EXPECT_EQ(y[0], -63.5f);  // -127 / 2
    EXPECT_EQ(y[16], 56.5f);  // 113 / 2
    EXPECT_EQ(y[7], 0.5f);    // 1 / 2
    EXPECT_EQ(y[23], -5.0f);  // -10 / 2
  }
}

TEST(GgmlFormatsTest, DecodesHandMadeKQuantBlocks) {
  {  // Q2_K: d = 1, dmin = 0.5; x = (sc & 15) * q - 0.5 * (sc >> 4)
    ggml::BlockQ2_K b{};
    b.d = 0x3C00;
    b.dmin = 0x3800;
    b.qs[0] = 0xE4;  // elements 0, 32, 64, 96: codes 0, 1, 2, 3
    b.qs[16] = 0x02; // element 16 (sub-block 1): code 2
    b.qs[32] = 0x03; // element 128 (sub-block 8): code 3
    b.scales[0] = 0x23;
    b.scales[1] = 0x07;
    b.scales[2] = 0x01;
    b.scales[4] = 0x15;
    b.scales[6] = 0xF2;
    b.scales[8] = 0x04;
    const auto y = decode_block(GgmlType::Q2_K, b);
    EXPECT_EQ(y[0], -1.0f);    // 3 * 0 - 2 * 0.5
    EXPECT_EQ(y[16], 14.0f);   // 7 * 2
    EXPECT_EQ(y[32], 1.0f);    // 1 * 1
    EXPECT_EQ(y[64], 9.5f);    // 5 * 2 - 0.5
    EXPECT_EQ(y[96], -1.5f);   // 2 * 3 - 7.5
    EXPECT_EQ(y[128], 12.0f);  // 4 * 3
  }
  {  // Q3_K: d = 1; 6-bit scales: sub 0 = 33 (+1), sub 8 = 30 (-2), sub 12 = 63 (+31), others 0 (-32)
    ggml::BlockQ3_K b{};
    b.d = 0x3C00;
    b.scales[0] = 0xE1;  // low nibbles: sub 0 = 1, sub 8 = 14
    b.scales[4] = 0xF0;  // sub 12 low nibble 15
    b.scales[8] = 0xD2;  // high bits: sub 0 = 2, sub 8 = 1, sub 12 = 3
    b.qs[0] = 0x03;      // element 0: low bits 3
    b.qs[32] = 0x21;     // element 128: 1, element 192: 2
    b.hmask[0] = 0x41;   // high bit of elements 0 and 192
    const auto y = decode_block(GgmlType::Q3_K, b);
    EXPECT_EQ(y[0], 3.0f);      // 1 * 3
    EXPECT_EQ(y[128], 6.0f);    // -2 * (1 - 4)
    EXPECT_EQ(y[192], 62.0f);   // 31 * 2
    EXPECT_EQ(y[1], -4.0f);     // 1 * (0 - 4)
    EXPECT_EQ(y[16], 128.0f);   // -32 * (0 - 4)
  }
  {  // Q4_K: d = 1, dmin = 0.5; sub 0: sc 10, m 3; sub 1: sc 7, m 1; sub 5: sc 40, m 50
    ggml::BlockQ4_K b{};
    b.d = 0x3C00;
    b.dmin = 0x3800;
    b.scales[0] = 10;
    b.scales[4] = 3;
    b.scales[1] = 0x87;  // sc 7, high bits of sub 5's scale (2)
    b.scales[5] = 0xC1;  // m 1, high bits of sub 5's min (3)
    b.scales[9] = 0x28;  // sub 5 low nibbles: sc 8, m 2
    b.qs[0] = 0x49;      // element 0: 9, element 32: 4
    b.qs[64] = 0xF0;     // element 128: 0, element 160: 15
    const auto y = decode_block(GgmlType::Q4_K, b);
    EXPECT_EQ(y[0], 88.5f);    // 10 * 9 - 0.5 * 3
    EXPECT_EQ(y[32], 27.5f);   // 7 * 4 - 0.5
    EXPECT_EQ(y[160], 575.0f); // 40 * 15 - 0.5 * 50
    EXPECT_EQ(y[128], 0.0f);   // sub 4: scale 0, min 0
  }
  {  // Q5_K: d = 1, dmin = 0; sub 0 sc 1, sub 1 sc 2, sub 7 sc 5
    ggml::BlockQ5_K b{};
    b.d = 0x3C00;
    b.scales[0] = 1;
    b.scales[1] = 2;
    b.scales[11] = 0x05;
    b.qs[0] = 0x23;   // element 0: 3, element 32: 2
    b.qs[96] = 0x10;  // element 224: 1
    b.qh[0] = 0x83;   // 5th bits of elements 0 (bit 0), 32 (bit 1), 224 (bit 7)
    const auto y = decode_block(GgmlType::Q5_K, b);
    EXPECT_EQ(y[0], 19.0f);
    EXPECT_EQ(y[32], 36.0f);   // 2 * 18
    EXPECT_EQ(y[224], 85.0f);  // 5 * 17
    EXPECT_EQ(y[1], 0.0f);
  }
  {  // Q6_K: d = 0.5; x = d * sc * (q - 32)
    ggml::BlockQ6_K b{};
    b.d = 0x3800;
    b.scales[0] = 2;
    b.scales[2] = 1;
    b.scales[4] = 4;
    b.scales[15] = -3;
    b.ql[0] = 0x0F;    // element 0 low 15; element 64 low 0
    b.qh[0] = 0x0B;    // element 0 high 3, element 32 high 2, element 64 high 0
    b.ql[32] = 0x01;   // element 32 low 1
    b.ql[127] = 0xA0;  // element 255 low 10
    b.qh[63] = 0x40;   // element 255 high 1
    const auto y = decode_block(GgmlType::Q6_K, b);
    EXPECT_EQ(y[0], 31.0f);    // 0.5 * 2 * (63 - 32)
    EXPECT_EQ(y[32], 0.5f);    // 0.5 * 1 * (33 - 32)
    EXPECT_EQ(y[64], -64.0f);  // 0.5 * 4 * (0 - 32)
    EXPECT_EQ(y[255], 9.0f);   // 0.5 * -3 * (26 - 32)
  }
  {  // IQ4_XS: d = 0.25; 6-bit ls: sub 0 = 33 (+1), sub 3 = 0 (-32), sub 7 = 63 (+31)
    ggml::BlockIQ4_XS b{};
    b.d = 0x3400;
    b.scales_h = 0xC002;
    b.scales_l[0] = 0x01;
    b.scales_l[3] = 0xF0;
    b.qs[0] = 0x0F;    // element 0: 15, element 16: 0
    b.qs[48] = 0x08;   // element 96: 8
    b.qs[127] = 0x90;  // element 255: 9
    const auto y = decode_block(GgmlType::IQ4_XS, b);
    EXPECT_EQ(y[0], 28.25f);    // 0.25 * 1 * 113
    EXPECT_EQ(y[16], -31.75f);  // 0.25 * 1 * -127
    EXPECT_EQ(y[96], -8.0f);    // 0.25 * -32 * 1
    EXPECT_EQ(y[255], 100.75f); // 0.25 * 31 * 13
  }
}

// ------------------------------------------------------------------ importance

// Weighted error sum imp * (x - x')^2 with importance-weighted quantization
// is below the unweighted quantizer's (measured ratios on this data: Q2_K 0.31,
// Q3_K 0.50, Q4_K 0.43, Q5_K 0.48, Q6_K 0.55, IQ4_XS 0.55, IQ4_NL 0.53, Q4_0
// 0.56, Q4_1 0.35, Q5_0 0.60, Q5_1 0.35).
TEST(GgmlFormatsTest, ImportanceReducesWeightedError) {
  const int64_t n = 4096, rows = 8;
  const std::vector<float> x = gaussian(n * rows, 11, 0.02f);
  const std::vector<float> imp = importances(n, 12);
  for (GgmlType t : kQuantTypes) {
    if (t == GgmlType::Q8_0) continue;  // ignores importance, as ggml
    double plain = 0.0, weighted = 0.0;
    std::vector<uint8_t> q(ggml_row_size(t, n));
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x.data() + r * n;
      for (const float* w : {static_cast<const float*>(nullptr), imp.data()}) {
        ggml_quantize_row(t, xr, q.data(), n, w);
        const std::vector<float> y = decode(t, q.data(), n);
        double e = 0.0;
        for (int64_t i = 0; i < n; ++i) {
          const double d = double(xr[i]) - double(y[size_t(i)]);
          e += double(imp[size_t(i)]) * d * d;
        }
        (w ? weighted : plain) += e;
      }
    }
    EXPECT_LT(weighted, 0.75 * plain) << ggml_type_name(t);
  }
}

// Importance that is zero over a whole block is ignored for that block (ggml
// would write NaN or zero scales); Q8_0 and the float types ignore it always.
TEST(GgmlFormatsTest, ZeroImportanceBlocksAreQuantizedAsWithout) {
  const int64_t n = 512;
  const std::vector<float> x = gaussian(n, 21, 1.0f);
  const std::vector<float> zero(static_cast<size_t>(n), 0.0f);
  for (const GgmlTypeTraits& t : ggml_supported_types()) {
    if (is_iquant(t.type)) continue;  // lattice formats: ggml_iq*_test.cpp
    if (t.type == GgmlType::Q4_0 || t.type == GgmlType::Q4_1 || t.type == GgmlType::Q5_0 ||
        t.type == GgmlType::Q5_1)
      continue;  // their importance weights depend on the row, so compare per block below
    EXPECT_EQ(encode(t.type, x, zero.data()), encode(t.type, x)) << t.name;
  }
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1}) {
    std::vector<float> imp = importances(n, 22);
    for (int i = 64; i < 96; ++i) imp[size_t(i)] = 0.0f;  // block 2
    const std::vector<uint8_t> with = encode(t, x, imp.data()), without = encode(t, x);
    const size_t ts = ggml_traits(t).type_size;
    EXPECT_TRUE(std::equal(with.begin() + 2 * ts, with.begin() + 3 * ts, without.begin() + 2 * ts))
        << ggml_type_name(t);
    EXPECT_FALSE(std::equal(with.begin(), with.begin() + ts, without.begin())) << ggml_type_name(t);
  }
}

// ------------------------------------------------------------------ block grid

// fit() on a block reproduces ggml_quantize_row's bytes; quantize_value on
// perturbed values (as GPTQ's error updates produce, some far outside the
// fitted range) returns the nearest value of the sub-block's grid, and the
// emitted block decodes to exactly the returned values.
TEST(GgmlFormatsTest, BlockGridMatchesEncoderAndEmitsWhatItReturns) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const GgmlTypeTraits& t : ggml_supported_types()) {
    if (is_iquant(t.type)) continue;  // lattice formats: ggml_iq*_test.cpp
    const int64_t bs = t.block_size;
    for (int trial = 0; trial < 6; ++trial) {
      const std::vector<float> x = gaussian(bs, 100u + uint32_t(trial), 0.05f);
      const std::vector<float> imp = importances(bs, 200u + uint32_t(trial));
      const float* w = trial % 2 ? imp.data() : nullptr;
      GgmlBlockGrid g(t.type);
      EXPECT_FALSE(g.fitted());
      g.fit(x.data(), w, bs);
      ASSERT_TRUE(g.fitted());
      std::vector<uint8_t> got(t.type_size);
      g.emit(got.data());
      EXPECT_EQ(got, encode(t.type, x, w)) << t.name << " trial " << trial;
      const std::vector<float> fitted = decode(t.type, got.data(), bs);
      for (int64_t i = 0; i < bs; ++i) ASSERT_EQ(bits(g.value(i)), bits(fitted[size_t(i)]));

      // GPTQ-like walk: perturb, quantize one value at a time.
      std::vector<float> returned(static_cast<size_t>(bs));
      for (int64_t i = 0; i < bs; ++i) {
        float xi = x[size_t(i)] + 0.02f * nd(rng);
        if (i % 37 == 3) xi *= 6.0f;  // beyond the fitted range
        returned[size_t(i)] = g.quantize_value(i, xi);
        ASSERT_EQ(bits(returned[size_t(i)]), bits(g.value(i)));
        if (g.sub_block_size() > 1) {
          const GgmlSubGrid& sg = g.sub_grid(i / g.sub_block_size());
          if (sg.fixed) continue;
          float best = INFINITY;
          for (int c = sg.lo; c <= sg.hi; ++c) best = std::min(best, std::fabs(xi - sg.decode(c)));
          EXPECT_EQ(std::fabs(xi - returned[size_t(i)]), best)
              << t.name << " element " << i << " x " << xi;
        } else {
          EXPECT_EQ(bits(returned[size_t(i)]), bits(round_to(t.type, xi))) << t.name;
        }
      }
      g.emit(got.data());
      const std::vector<float> y = decode(t.type, got.data(), bs);
      for (int64_t i = 0; i < bs; ++i)
        ASSERT_EQ(bits(y[size_t(i)]), bits(returned[size_t(i)])) << t.name << " element " << i;
    }
  }
}

// Fitting block by block (with the row's mean square) and emitting reproduces
// a whole row's encoding. quantize_value on the fitted values themselves keeps
// ggml's codes except where a code is strictly nearer, so its error is never
// larger; for the K-quants ggml's codes are the nearest already.
TEST(GgmlFormatsTest, BlockGridsReproduceRowEncoding) {
  const int64_t n = 1024;
  const std::vector<float> x = gaussian(n, 31, 0.03f);
  const std::vector<float> imp = importances(n, 32);
  float msf = 0.0f;  // the row's mean square, summed as the encoder does
  for (float v : x) msf += v * v;
  msf /= static_cast<float>(n);
  for (const GgmlTypeTraits& t : ggml_supported_types()) {
    if (is_iquant(t.type)) continue;  // lattice formats: ggml_iq*_test.cpp
    for (const float* w : {static_cast<const float*>(nullptr), imp.data()}) {
      const std::string what = std::string(t.name) + (w ? " with importance" : "");
      const std::vector<uint8_t> want = encode(t.type, x, w);
      std::vector<uint8_t> fitted(want.size()), requantized(want.size());
      GgmlBlockGrid g(t.type);
      EXPECT_EQ(g.block_bytes(), t.type_size);
      for (int64_t b = 0; b < n / t.block_size; ++b) {
        g.fit(x.data() + b * t.block_size, w ? w + b * t.block_size : nullptr, t.block_size, msf);
        g.emit(fitted.data() + size_t(b) * t.type_size);
        for (int64_t i = 0; i < t.block_size; ++i)
          g.quantize_value(i, x[size_t(b * t.block_size + i)]);
        g.emit(requantized.data() + size_t(b) * t.type_size);
      }
      EXPECT_EQ(fitted, want) << what;
      const std::vector<float> y0 = decode(t.type, want.data(), n);
      const std::vector<float> y1 = decode(t.type, requantized.data(), n);
      int64_t changed = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float e0 = std::fabs(x[size_t(i)] - y0[size_t(i)]);
        const float e1 = std::fabs(x[size_t(i)] - y1[size_t(i)]);
        EXPECT_LE(e1, e0) << what << " element " << i;
        if (e1 < e0) ++changed;
      }
      const bool kquant = t.block_size == 256 && t.type != GgmlType::IQ4_XS;
      if (kquant) {
        EXPECT_EQ(requantized, want) << what;
      }
      // ggml's non-nearest codes are rare except for the legacy formats' imatrix search.
      if (!w) {
        EXPECT_LE(changed, n / 64) << what;
      }
    }
  }
}

TEST(GgmlFormatsTest, BlockGridFloatTypesRound) {
  GgmlBlockGrid g(GgmlType::F16);
  const float x = 0.1f;
  g.fit(&x, nullptr, 1);
  EXPECT_EQ(g.value(0), f16_to_f32(f32_to_f16(0.1f)));
  EXPECT_EQ(g.quantize_value(0, 3.0e5f), INFINITY);
  EXPECT_EQ(g.quantize_value(0, 1.0f / 3.0f), f16_to_f32(f32_to_f16(1.0f / 3.0f)));
  uint16_t h = 0;
  g.emit(&h);
  EXPECT_EQ(h, f32_to_f16(1.0f / 3.0f));
  EXPECT_EQ(g.code(0), int32_t(h));
  GgmlBlockGrid b(GgmlType::BF16);
  b.fit(&x, nullptr, 1);
  EXPECT_EQ(b.quantize_value(0, 1.0f / 3.0f), bf16_to_f32(f32_to_bf16(1.0f / 3.0f)));
  GgmlBlockGrid f(GgmlType::F32);
  f.fit(&x, nullptr, 1);
  EXPECT_EQ(f.quantize_value(0, 1.0f / 3.0f), 1.0f / 3.0f);
  float out = 0.0f;
  f.emit(&out);
  EXPECT_EQ(out, 1.0f / 3.0f);
}

}  // namespace
}  // namespace lieq
