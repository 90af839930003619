// IQ3_XXS and IQ3_S: encodings and decodings recorded from ggml, hand-made
// blocks decoded by hand, requantize_group (GPTQ's per-group step) against
// the block encode_row wrote, and input errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "expect_error.h"
#include "format/ggml_formats.h"
#include "ggml_fixture.h"
#include "requantize_check.h"
#include "format/ggml_iq_impl.h"
#include "util/half.h"

namespace lieq {
namespace {

using testing::decode;
using testing::fnv1a;
using testing::ggml_fixture;
using testing::hex;

using testing::error_message;
using ::testing::HasSubstr;

// FNV-1a hashes of ggml_quantize_chunk(type, x, dst, 0, 2, 1024, imatrix)
// without and with the imatrix, of the type's to_float of the imatrix
// encoding, and that encoding's first block. Recorded from llama.cpp
// de3ff815ea7d559ee917f063901b8986f038abc6 (node-llama-cpp 3.22.1's tree,
// ggml-base -O2 without FMA/F16C); the Feb 2025 ggml gives the same. The
// hashes are standard FNV-1a (offset basis 0xcbf29ce484222325) of the bytes
// the harness wrote; its own `hash` printout uses another basis.
// The fixture's zero sub-block (row 0, block 2, sub-block 0) exercises
// IQ3_S's shifted qs/signs positions after a skipped sub-block.
struct Iq3Record {
  GgmlType type;
  uint64_t plain, imatrix, decoded;
  const char* first_block;
};
const Iq3Record kRecords[] = {
    {GgmlType::IQ3_XXS, 0xaab57d41a1b8cbb0ull, 0xceee5ab53c206f7dull, 0x405e176817bca7e3ull,
     "10110eee3a0000000000760d027512e052144a7779234a9c0c263a0b3654b29e65322c3ae66782763f3b00"
     "000000000000356fb51bd04b1868e0454563000003ee00393364f2b695b52491396d3516b1c2254e966522"
     "442715ab8e9afb281094188a"},
    {GgmlType::IQ3_S, 0x8bac230096e08de7ull, 0xb4a9b818e0256f9bull, 0x2b81d544888026dbull,
     "2f1105dd6d00000000008e841fe60ecda7128e663c992a711b4a6e8cb7a26c2291625b28d97a02e7ce7300"
     "0019006d00006435a030cfa541d2cc6d6dc5006d01dd010220263016008b4039269013162b5ea551f3bc2b"
     "96e20e2aceac8697440ed4d88e35ce4394a8e0402f23a182"},
};

TEST(GgmlIq3Test, EncodingsAndDecodingsEqualGgmls) {
  std::vector<float> x, imp;
  ggml_fixture(&x, &imp);
  for (const Iq3Record& rec : kRecords) {
    const char* name = ggml_type_name(rec.type);
    std::vector<uint8_t> q(2 * ggml_row_size(rec.type, 1024));
    ggml_quantize_rows(rec.type, x.data(), q.data(), 2, 1024, nullptr);
    EXPECT_EQ(fnv1a(q.data(), q.size()), rec.plain) << name << " without importance";
    ggml_quantize_rows(rec.type, x.data(), q.data(), 2, 1024, imp.data());
    EXPECT_EQ(fnv1a(q.data(), q.size()), rec.imatrix) << name << " with importance";
    EXPECT_EQ(hex(q.data(), ggml_traits(rec.type).type_size), rec.first_block) << name;
    const std::vector<float> y = decode(rec.type, q.data(), 2048);
    EXPECT_EQ(fnv1a(y.data(), y.size() * 4), rec.decoded) << name << " decoded";
  }
}

// ------------------------------------------------------------------ hand-made blocks

// IQ3_XXS, d = 1: sub-block 0 scale 3 (db = 1 * 3.5 * 0.5 = 1.75), group 0
// signs 0b101 (elements 0, 2; even, no 8th), indices 1 (20, 4, 4, 4) and 0
// (4, 4, 4, 4); group 1 signs 1: odd, so element 15 is negative too. Other
// sub-blocks: word 0, db = 0.25, index 0: all 1.
TEST(GgmlIq3Test, DecodesHandMadeIq3XxsBlock) {
  uint8_t b[98] = {};
  const uint16_t d = f32_to_f16(1.0f);
  std::memcpy(b, &d, 2);
  b[2 + 0] = 1;
  const uint32_t word = (3u << 28) | (1u << 7) | 0x5u;
  std::memcpy(b + 66, &word, 4);
  const std::vector<float> y = decode(GgmlType::IQ3_XXS, b, 256);
  const float g0[8] = {-35.0f, 7.0f, -7.0f, 7.0f, 7.0f, 7.0f, 7.0f, 7.0f};
  const float g1[8] = {-7.0f, 7.0f, 7.0f, 7.0f, 7.0f, 7.0f, 7.0f, -7.0f};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(y[size_t(i)], g0[i]) << i;
    EXPECT_EQ(y[size_t(8 + i)], g1[i]) << i;
  }
  for (int i = 16; i < 32; ++i) EXPECT_EQ(y[size_t(i)], 7.0f) << i;
  for (int i = 32; i < 256; ++i) EXPECT_EQ(y[size_t(i)], 1.0f) << i;
}

// IQ3_S, d = 0.5: scales[0] = 0x21 (sub-block 0 db = 0.5 * 3, sub-block 1
// 0.5 * 5, others 0.5 * 1); entry 0 = qs[0] | qh[0] bit 0 << 8 = 258 (11, 7,
// 9, 5), entry 1 = 1 (3, 1, 1, 1); signs[0] = 0x81 (elements 0 and 7),
// signs[4] = 0x02 (element 33). Every other entry is index 0 (1, 1, 1, 1).
TEST(GgmlIq3Test, DecodesHandMadeIq3SBlock) {
  uint8_t b[110] = {};
  const uint16_t d = f32_to_f16(0.5f);
  std::memcpy(b, &d, 2);
  b[2 + 0] = 2;
  b[2 + 1] = 1;
  b[66 + 0] = 0x01;
  b[74 + 0] = 0x81;
  b[74 + 4] = 0x02;
  b[106] = 0x21;
  const std::vector<float> y = decode(GgmlType::IQ3_S, b, 256);
  const float g0[8] = {-16.5f, 10.5f, 13.5f, 7.5f, 4.5f, 1.5f, 1.5f, -1.5f};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(y[size_t(i)], g0[i]) << i;
  for (int i = 8; i < 32; ++i) EXPECT_EQ(y[size_t(i)], 1.5f) << i;
  for (int i = 32; i < 64; ++i) EXPECT_EQ(y[size_t(i)], i == 33 ? -2.5f : 2.5f) << i;
  for (int i = 64; i < 256; ++i) EXPECT_EQ(y[size_t(i)], 0.5f) << i;
}

// ------------------------------------------------------------------ requantize_group

const ggml_detail::LatticeImpl& impl(GgmlType t) {
  return *ggml_detail::lattice_impl(t);
}

// Bytes a group may change: its two indices and its signs (IQ3_XXS: 7 bits
// of the sub-block word, never the scale nibble; IQ3_S: its qh bits, its sign
// byte). Everything else must stay.
bool only_group_bytes_changed(GgmlType t, const uint8_t* before, const uint8_t* after, int g) {
  const size_t n = ggml_traits(t).type_size;
  std::vector<uint8_t> mask(n, 0);
  mask[size_t(2 + 2 * g)] = mask[size_t(3 + 2 * g)] = 0xff;
  if (t == GgmlType::IQ3_XXS) {
    const uint32_t bits = uint32_t(127) << (7 * (g % 4));
    for (int k = 0; k < 4; ++k) mask[size_t(66 + 4 * (g / 4) + k)] = uint8_t(bits >> (8 * k));
  } else {
    mask[size_t(66 + g / 4)] = uint8_t(3 << (2 * (g % 4)));
    mask[size_t(74 + g)] = 0xff;
  }
  for (size_t i = 0; i < n; ++i)
    if ((before[i] ^ after[i]) & ~mask[i]) return false;
  return true;
}

// requantize_group's properties (requantize_check.h) on both types.
TEST(GgmlIq3Test, RequantizeGroupNeverWorsensTheBlock) {
  std::mt19937 rng(5);
  for (GgmlType t : {GgmlType::IQ3_XXS, GgmlType::IQ3_S}) {
    testing::RequantizeCounts n;
    testing::check_requantize_group(t, 0.0f, only_group_bytes_changed, rng, &n);
    // Measured: about 57% of the groups keep their bytes, 90% of the moved
    // groups find a better code.
    EXPECT_GT(n.kept, 640 / 3) << ggml_type_name(t);
    EXPECT_GT(n.improved, 640 / 2) << ggml_type_name(t);
  }
}

// A group whose value is a grid point at the stored scale gets that point.
TEST(GgmlIq3Test, RequantizeGroupFindsExactGridPoints) {
  std::vector<float> x(256);
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  for (float& v : x) v = nd(rng);
  for (GgmlType t : {GgmlType::IQ3_XXS, GgmlType::IQ3_S}) {
    const ggml_detail::LatticeImpl& li = impl(t);
    std::vector<uint8_t> b(ggml_traits(t).type_size), hand(b.size());
    li.encode_row(x.data(), b.data(), 256, nullptr);
    std::vector<float> y(256), target(256);
    // The values of a different block of the same scales: swap groups 0 and 5's codes.
    hand = b;
    std::swap(hand[2], hand[2 + 10]);
    std::swap(hand[3], hand[2 + 11]);
    li.decode(hand.data(), target.data());
    li.requantize_group(b.data(), 0, target.data(), nullptr);
    li.decode(b.data(), y.data());
    for (int i = 0; i < 8; ++i)
      EXPECT_EQ(y[size_t(i)], target[size_t(i)]) << ggml_type_name(t) << i;
  }
}

// An all-zero block has d = 0, so every code decodes to 0: requantize_group
// leaves its bytes alone.
TEST(GgmlIq3Test, RequantizeGroupLeavesZeroBlocksAlone) {
  const std::vector<float> zeros(256, 0.0f);
  const float x[8] = {1, -2, 3, -4, 5, -6, 7, -8};
  for (GgmlType t : {GgmlType::IQ3_XXS, GgmlType::IQ3_S}) {
    std::vector<uint8_t> b(ggml_traits(t).type_size);
    impl(t).encode_row(zeros.data(), b.data(), 256, nullptr);
    const std::vector<uint8_t> b0 = b;
    impl(t).requantize_group(b.data(), 3, x, nullptr);
    EXPECT_EQ(b, b0) << ggml_type_name(t);
  }
}

// ------------------------------------------------------------------ errors

TEST(GgmlIq3Test, RejectsBadInput) {
  std::vector<float> x(512, 0.5f);
  std::vector<uint8_t> q(4 * 110);
  EXPECT_THAT(
      error_message([&] { impl(GgmlType::IQ3_XXS).encode_row(x.data(), q.data(), 100, nullptr); }),
      HasSubstr("IQ3_XXS"));
  EXPECT_THAT(
      error_message([&] { impl(GgmlType::IQ3_S).encode_row(x.data(), q.data(), 300, nullptr); }),
      HasSubstr("IQ3_S"));
  EXPECT_THAT(error_message([&] {
                impl(GgmlType::IQ3_XXS).requantize_group(q.data(), 32, x.data(), nullptr);
              }),
              HasSubstr("IQ3_XXS: group 32"));
  EXPECT_THAT(error_message(
                  [&] { impl(GgmlType::IQ3_S).requantize_group(q.data(), -1, x.data(), nullptr); }),
              HasSubstr("IQ3_S: group -1"));
  EXPECT_THAT(
      error_message([&] { ggml_quantize_row(GgmlType::IQ3_S, x.data(), q.data(), 255, nullptr); }),
      HasSubstr("IQ3_S"));
}

}  // namespace
}  // namespace lieq
