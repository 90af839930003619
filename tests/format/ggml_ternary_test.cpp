// TQ1_0 and TQ2_0: encodings of spread-out values recorded from ggml (the
// common fixture's are in ggml_formats_test.cpp), hand-made blocks decoded
// by hand, ggml's rounding of ties, llama.cpp's row fallback, input errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "expect_error.h"
#include "format/ggml_formats.h"
#include "format/ggml_policy.h"
#include "ggml_fixture.h"
#include "util/half.h"

namespace lieq {
namespace {

using testing::decode;
using testing::error_message;
using testing::fnv1a;
using ::testing::HasSubstr;

// 2048 values gaussish() from seed 0x12345678 (sd 0.29 in [-1, 1)): every
// trit occurs. FNV-1a of ggml_quantize_chunk(type, x, dst, 0, 2, 1024, NULL)
// (the imatrix changes nothing: ggml ignores it) and of to_float of it, from
// llama.cpp de3ff815ea7d559ee917f063901b8986f038abc6 and the Feb 2025 ggml
// (the same hashes).
TEST(GgmlTernaryTest, SpreadValuesEqualGgmls) {
  std::vector<float> x(2048), imp(1024, 1.0f);
  testing::TestRng r{0x12345678u};
  for (float& v : x) v = testing::gaussish(r);
  struct {
    GgmlType type;
    uint64_t bytes, decoded;
  } const records[] = {{GgmlType::TQ1_0, 0x6f1fec01c0e3a541ull, 0x323a2c229d1c03eaull},
                       {GgmlType::TQ2_0, 0x3ac0448afec1b046ull, 0x323a2c229d1c03eaull}};
  for (const auto& rec : records) {
    std::vector<uint8_t> q(2 * ggml_row_size(rec.type, 1024));
    for (const float* w :
         {static_cast<const float*>(nullptr), static_cast<const float*>(imp.data())}) {
      ggml_quantize_rows(rec.type, x.data(), q.data(), 2, 1024, w);
      EXPECT_EQ(fnv1a(q.data(), q.size()), rec.bytes) << ggml_type_name(rec.type);
    }
    const std::vector<float> y = decode(rec.type, q.data(), 2048);
    EXPECT_EQ(fnv1a(y.data(), y.size() * 4), rec.decoded) << ggml_type_name(rec.type);
  }
}

// The trits of element e in a hand-made pattern, and a block of them at d.
int pattern_trit(int e) {
  return (e * 7 + e / 5) % 3 - 1;
}

// TQ2_0 bytes built from the layout comment: element 128h + 32n + m in bits
// 2n of qs[32h + m]; TQ1_0's by base-3 digits, most significant first.
TEST(GgmlTernaryTest, DecodesHandMadeBlocks) {
  const float d = 0.375f;  // exact in fp16
  ggml::BlockTQ2_0 b2{};
  b2.d = f32_to_f16(d);
  for (int e = 0; e < 256; ++e)
    b2.qs[32 * (e / 128) + e % 32] |= uint8_t((pattern_trit(e) + 1) << (2 * ((e % 128) / 32)));
  std::vector<float> y = decode(GgmlType::TQ2_0, &b2, 256);
  for (int e = 0; e < 256; ++e) ASSERT_EQ(y[size_t(e)], float(pattern_trit(e)) * d) << e;

  // TQ1_0: byte = ceil(256 * v / 243), v the trits' base-3 value (t + 1,
  // first trit most significant; the qh bytes' fifth trit 0).
  ggml::BlockTQ1_0 b1{};
  b1.d = f32_to_f16(d);
  auto byte_of = [](const int* t, int n) {
    int v = 0;
    for (int i = 0; i < 5; ++i) v = 3 * v + (i < n ? t[i] + 1 : 0);
    return uint8_t((v * 256 + 242) / 243);
  };
  for (int m = 0; m < 32; ++m) {
    int t[5];
    for (int n = 0; n < 5; ++n) t[n] = pattern_trit(m + 32 * n);
    b1.qs[m] = byte_of(t, 5);
  }
  for (int m = 0; m < 16; ++m) {
    int t[5];
    for (int n = 0; n < 5; ++n) t[n] = pattern_trit(160 + m + 16 * n);
    b1.qs[32 + m] = byte_of(t, 5);
  }
  for (int j = 0; j < 4; ++j) {
    int t[4];
    for (int n = 0; n < 4; ++n) t[n] = pattern_trit(240 + j + 4 * n);
    b1.qh[j] = byte_of(t, 4);
  }
  y = decode(GgmlType::TQ1_0, &b1, 256);
  for (int e = 0; e < 256; ++e) ASSERT_EQ(y[size_t(e)], float(pattern_trit(e)) * d) << e;

  // Encoding the decoded values gives the same bytes back.
  std::vector<uint8_t> q(54);
  ggml_quantize_row(GgmlType::TQ1_0, y.data(), q.data(), 256, nullptr);
  EXPECT_EQ(std::memcmp(q.data(), &b1, 54), 0);
  q.resize(66);
  ggml_quantize_row(GgmlType::TQ2_0, y.data(), q.data(), 256, nullptr);
  EXPECT_EQ(std::memcmp(q.data(), &b2, 66), 0);
}

// d = max |x| = 1; x / d = +-0.5 rounds away from zero (lroundf), so the
// ties become +-1, and values just inside become 0.
TEST(GgmlTernaryTest, RoundsTiesAwayFromZero) {
  for (GgmlType t : {GgmlType::TQ1_0, GgmlType::TQ2_0}) {
    std::vector<float> x(256, 0.0f);
    x[0] = 1.0f;
    x[1] = 0.5f;
    x[2] = -0.5f;
    x[3] = 0.49999997f;
    x[4] = -0.49999997f;
    x[255] = -1.0f;
    std::vector<uint8_t> q(ggml_row_size(t, 256));
    ggml_quantize_row(t, x.data(), q.data(), 256, nullptr);
    const std::vector<float> y = decode(t, q.data(), 256);
    const float want[] = {1.0f, 1.0f, -1.0f, 0.0f, 0.0f};
    for (int i = 0; i < 5; ++i) EXPECT_EQ(y[size_t(i)], want[i]) << ggml_type_name(t) << " " << i;
    EXPECT_EQ(y[255], -1.0f);
    // GPTQ's grid: the same codes for the same values, the nearest level for others.
    GgmlBlockGrid g(t);
    g.fit(x.data(), nullptr, 256);
    EXPECT_EQ(g.quantize_value(7, 0.8f), 1.0f);
    EXPECT_EQ(g.quantize_value(8, -3.0f), -1.0f);
    EXPECT_EQ(g.quantize_value(9, 0.2f), 0.0f);
    EXPECT_EQ(g.code(9), 1);  // the stored trit + 1
  }
}

// llama.cpp's fallback for rows that are not a multiple of 256: Q4_0, else F16.
TEST(GgmlTernaryTest, RowFallbackAndBadRows) {
  EXPECT_EQ(ggml_row_type(GgmlType::TQ1_0, 512), GgmlType::TQ1_0);
  EXPECT_EQ(ggml_row_type(GgmlType::TQ1_0, 96), GgmlType::Q4_0);
  EXPECT_EQ(ggml_row_type(GgmlType::TQ2_0, 96), GgmlType::Q4_0);
  EXPECT_EQ(ggml_row_type(GgmlType::TQ2_0, 100), GgmlType::F16);
  std::vector<float> x(300, 0.1f);
  std::vector<uint8_t> q(100);
  EXPECT_THAT(
      error_message([&] { ggml_quantize_row(GgmlType::TQ1_0, x.data(), q.data(), 255, nullptr); }),
      HasSubstr("TQ1_0"));
  EXPECT_THAT(error_message([&] { (void)ggml_row_size(GgmlType::TQ2_0, 300); }),
              HasSubstr("TQ2_0"));
}

}  // namespace
}  // namespace lieq
