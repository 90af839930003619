// IQ1_S and IQ1_M: encodings and decodings recorded from ggml (2026 tree),
// hand-made blocks decoded by hand, requantize_group (GPTQ's per-group step)
// against the block encode_row wrote, and input errors.
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
using testing::gaussish;
using testing::hex;
using testing::TestRng;

using testing::error_message;
using ::testing::HasSubstr;

const ggml_detail::LatticeImpl& impl(GgmlType t) { return *ggml_detail::lattice_impl(t); }

// FNV-1a hashes of ggml_quantize_chunk(type, x, dst, 0, 2, 1024, imatrix)
// without (IQ1_M only: ggml refuses IQ1_S without an imatrix) and with the
// imatrix, of the type's to_float of the imatrix encoding, and that
// encoding's first block. Recorded from llama.cpp
// de3ff815ea7d559ee917f063901b8986f038abc6 (node-llama-cpp 3.22.1's tree,
// ggml-base -O2 without FMA/F16C). The Feb 2025 ggml differs for IQ1_S and
// IQ1_M (see ggml_iq1.cpp). Standard FNV-1a (offset basis
// 0xcbf29ce484222325) of the bytes the harness wrote; its own `hash` printout
// uses another basis (0x0f536539b5261ced there for IQ1_S with imatrix).
struct Iq1Record {
  GgmlType type;
  uint64_t plain, imatrix, decoded;
  const char* first_block;
};
const Iq1Record kRecords[] = {
    {GgmlType::IQ1_S, 0, 0xf4f9f811ddce482bull, 0x0dd0c2b94d0a32beull,
     "b524d1050505c8042986e4e7154a66e91cd1fba361cc050505e28c9150450505051a2679e307938ad409"
     "5b062465f98e2449"},
    {GgmlType::IQ1_M, 0xd41b8b3038982cccull, 0x4638a8d283365a1bull, 0x287fced6c5088e51ull,
     "d1052314d6a42986b1e7d1ee660eede5fba361de54f205e28c91503a0de6051a46f1ff37ae49c44733b1"
     "e324796b4a4407e041b0004c0028"},
};

TEST(GgmlIq1Test, EncodingsAndDecodingsEqualGgmls) {
  std::vector<float> x, imp;
  ggml_fixture(&x, &imp);
  for (const Iq1Record& rec : kRecords) {
    const char* name = ggml_type_name(rec.type);
    std::vector<uint8_t> q(2 * ggml_row_size(rec.type, 1024));
    if (rec.plain != 0) {
      ggml_quantize_rows(rec.type, x.data(), q.data(), 2, 1024, nullptr);
      EXPECT_EQ(fnv1a(q.data(), q.size()), rec.plain) << name << " without importance";
    }
    ggml_quantize_rows(rec.type, x.data(), q.data(), 2, 1024, imp.data());
    EXPECT_EQ(fnv1a(q.data(), q.size()), rec.imatrix) << name << " with importance";
    EXPECT_EQ(hex(q.data(), ggml_traits(rec.type).type_size), rec.first_block) << name;
    const std::vector<float> y = decode(rec.type, q.data(), 2048);
    EXPECT_EQ(fnv1a(y.data(), y.size() * 4), rec.decoded) << name << " decoded";
  }
}

// Ties: 15 rows of 256 values with 5 mantissa bits (many equal values per
// sub-block) and heavy-tailed importance [256] (3 u^4). ggml sorts each
// sub-block with qsort, leaving equal values in glibc's merge-sort order; the
// prefix sums then round in that order. An unstable sort (std::sort) changes
// 2 bytes of the IQ1_S encoding. Recorded as above (standard FNV-1a).
TEST(GgmlIq1Test, TiedValuesEncodeAsGgml) {
  TestRng r{12345u};
  std::vector<float> x(15 * 256), imp(256);
  for (float& v : x) {
    int32_t acc = -(1 << 21);
    for (int k = 0; k < 4; ++k) acc += static_cast<int32_t>(r.next() >> 12);
    v = bits_to_f32(f32_to_bits(static_cast<float>(acc) * 0x1p-25f) & ~((1u << 18) - 1));
  }
  for (float& v : imp) {
    const float u = static_cast<float>(r.next() >> 8) * 0x1p-24f;
    v = 3.0f * u * u * u * u;
  }
  const struct {
    GgmlType type;
    uint64_t hash;
  } want[] = {{GgmlType::IQ1_S, 0xefc8f99bf0d2ece1ull}, {GgmlType::IQ1_M, 0x24554cdeee41843bull}};
  for (const auto& w : want) {
    std::vector<uint8_t> q(15 * ggml_row_size(w.type, 256));
    ggml_quantize_rows(w.type, x.data(), q.data(), 15, 256, imp.data());
    EXPECT_EQ(fnv1a(q.data(), q.size()), w.hash) << ggml_type_name(w.type);
  }
}

// ------------------------------------------------------------------ hand-made blocks

// IQ1_S, d = 1: sub-block 0 has s = 2 (dl = 5) and shift - (x = 5 (g - 1/8));
// its groups hold grid entries 0 (all -1), 300 = 0x12c (0 -1 0 -1 0 0 0 -1),
// 5 (0 -1 0 -1 -1 -1 -1 -1) and 2047 (all +1): low bytes in qs, high 3 bits
// at qh bits 3k. Other sub-blocks: qh 0, dl = 1, shift +, entry 0: -0.875.
TEST(GgmlIq1Test, DecodesHandMadeIq1SBlock) {
  uint8_t b[50] = {};
  const uint16_t d = f32_to_f16(1.0f);
  std::memcpy(b, &d, 2);
  b[2 + 0] = 0x00;
  b[2 + 1] = 0x2c;
  b[2 + 2] = 0x05;
  b[2 + 3] = 0xff;
  const uint16_t qh = static_cast<uint16_t>((1u << 15) | (2u << 12) | (7u << 9) | (1u << 3));
  std::memcpy(b + 34, &qh, 2);
  const std::vector<float> y = decode(GgmlType::IQ1_S, b, 256);
  const float m = -5.625f, z = -0.625f, p = 4.375f;
  const float want[32] = {m, m, m, m, m, m, m, m, z, m, z, m, z, z, z, m,
                          z, m, z, m, m, m, m, m, p, p, p, p, p, p, p, p};
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[size_t(i)], want[i]) << i;
  for (int i = 32; i < 256; ++i) EXPECT_EQ(y[size_t(i)], -0.875f) << i;
}

// IQ1_M, d = 1 (fp16 0x3c00: nibbles 0, 0, c, 3 in the top of scale words
// 0..3): sub-block 0 s = 1 (dl 3), sub-block 1 s = 3 (dl 7), at bits 0-2 and
// 3-5 of word 0. Groups: 1234 = 0x4d2 (1 -1 1 -1 0 -1 1 0) shift -, 2047
// shift +, 1 (1 -1 -1 -1 -1 -1 -1 -1) shift -, 0 shift +. Others: dl 1, +.
TEST(GgmlIq1Test, DecodesHandMadeIq1MBlock) {
  uint8_t b[56] = {};
  b[0] = 0xd2;
  b[1] = 0xff;
  b[2] = 0x01;
  b[3] = 0x00;
  b[32] = 0x7c;  // group 0: high bits 4 + shift - (8); group 1: high bits 7
  b[33] = 0x08;  // group 2: shift -
  const uint16_t sc[4] = {static_cast<uint16_t>(1u | (3u << 3)), 0, 0xc000, 0x3000};
  std::memcpy(b + 48, sc, 8);
  const std::vector<float> y = decode(GgmlType::IQ1_M, b, 256);
  const float a = 2.625f, c = -3.375f, o = -0.375f;
  const float want[32] = {a,      c,      a,      c,      o,      c,      a,      o,
                          3.375f, 3.375f, 3.375f, 3.375f, 3.375f, 3.375f, 3.375f, 3.375f,
                          6.125f, -7.875f, -7.875f, -7.875f, -7.875f, -7.875f, -7.875f, -7.875f,
                          -6.125f, -6.125f, -6.125f, -6.125f, -6.125f, -6.125f, -6.125f, -6.125f};
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[size_t(i)], want[i]) << i;
  for (int i = 32; i < 256; ++i) EXPECT_EQ(y[size_t(i)], -0.875f) << i;
}

// ------------------------------------------------------------------ requantize_group

// Bytes a group may change: its index byte and high bits (IQ1_S: the 3 bits
// in the sub-block's qh word; IQ1_M: the group's qh nibble, shift included).
bool only_group_bytes_changed(GgmlType t, const uint8_t* before, const uint8_t* after,
                              int g) {
  const size_t n = ggml_traits(t).type_size;
  std::vector<uint8_t> mask(n, 0);
  if (t == GgmlType::IQ1_S) {
    mask[size_t(2 + g)] = 0xff;
    uint16_t m = static_cast<uint16_t>(7u << (3 * (g % 4)));
    std::memcpy(&mask[size_t(34 + 2 * (g / 4))], &m, 2);
  } else {
    mask[size_t(g)] = 0xff;
    mask[size_t(32 + g / 2)] = static_cast<uint8_t>(0xf << (4 * (g % 2)));
  }
  for (size_t i = 0; i < n; ++i)
    if ((before[i] ^ after[i]) & ~mask[i]) return false;
  return true;
}

// requantize_group's properties (requantize_check.h) on both types.
TEST(GgmlIq1Test, RequantizeGroupNeverWorsensTheBlock) {
  std::mt19937 rng(5);
  for (GgmlType t : {GgmlType::IQ1_S, GgmlType::IQ1_M}) {
    testing::RequantizeCounts n;
    testing::check_requantize_group(t, 0.01f, only_group_bytes_changed, rng, &n);
    EXPECT_GT(n.improved, 640 / 4) << ggml_type_name(t);
  }
}

// A group's own decoded values keep its bytes; the decoded values of another
// entry at the same scale (and, for IQ1_M, the other shift) get that entry.
TEST(GgmlIq1Test, RequantizeGroupFindsExactGridPoints) {
  std::vector<float> x(256), imp(256, 1.0f);
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  for (float& v : x) v = nd(rng);
  for (GgmlType t : {GgmlType::IQ1_S, GgmlType::IQ1_M}) {
    const ggml_detail::LatticeImpl& li = impl(t);
    std::vector<uint8_t> b(ggml_traits(t).type_size), hand;
    li.encode_row(x.data(), b.data(), 256, imp.data());
    std::vector<float> y(256), target(256);
    li.decode(b.data(), y.data());
    hand = b;
    li.requantize_group(hand.data(), 4, y.data() + 32, nullptr);
    EXPECT_EQ(hand, b) << ggml_type_name(t) << " own values";
    // Group 0 takes entry 1234; IQ1_M also flips group 0's shift.
    hand = b;
    if (t == GgmlType::IQ1_S) {
      hand[2] = 0xd2;
      hand[34] = static_cast<uint8_t>((hand[34] & ~7) | 4);
    } else {
      hand[0] = 0xd2;
      hand[32] = static_cast<uint8_t>((hand[32] & 0xf0) | (4 | (~hand[32] & 8)));
    }
    li.decode(hand.data(), target.data());
    li.requantize_group(b.data(), 0, target.data(), imp.data());
    li.decode(b.data(), y.data());
    for (int i = 0; i < 8; ++i)
      EXPECT_EQ(y[size_t(i)], target[size_t(i)]) << ggml_type_name(t) << i;
    EXPECT_EQ(b, hand) << ggml_type_name(t);
  }
}

// An all-zero block has d = 0, so every code decodes to 0: requantize_group
// leaves its bytes alone.
TEST(GgmlIq1Test, RequantizeGroupLeavesZeroBlocksAlone) {
  const std::vector<float> zeros(256, 0.0f), ones(256, 1.0f);
  const float x[8] = {1, -2, 3, -4, 5, -6, 7, -8};
  for (GgmlType t : {GgmlType::IQ1_S, GgmlType::IQ1_M}) {
    std::vector<uint8_t> b(ggml_traits(t).type_size);
    impl(t).encode_row(zeros.data(), b.data(), 256, ones.data());
    EXPECT_EQ(b, std::vector<uint8_t>(b.size(), 0)) << ggml_type_name(t);
    impl(t).requantize_group(b.data(), 3, x, nullptr);
    EXPECT_EQ(b, std::vector<uint8_t>(b.size(), 0)) << ggml_type_name(t);
  }
}

// ------------------------------------------------------------------ errors

TEST(GgmlIq1Test, RejectsBadInput) {
  std::vector<float> x(512, 0.5f), imp(512, 1.0f);
  std::vector<uint8_t> q(4 * 56);
  EXPECT_THAT(
      error_message([&] { impl(GgmlType::IQ1_S).encode_row(x.data(), q.data(), 256, nullptr); }),
      HasSubstr("IQ1_S needs an importance matrix"));
  EXPECT_THAT(error_message(
                  [&] { ggml_quantize_rows(GgmlType::IQ1_S, x.data(), q.data(), 2, 256, nullptr); }),
              HasSubstr("IQ1_S"));
  EXPECT_THAT(
      error_message([&] { impl(GgmlType::IQ1_S).encode_row(x.data(), q.data(), 100, imp.data()); }),
      HasSubstr("IQ1_S"));
  EXPECT_THAT(
      error_message([&] { impl(GgmlType::IQ1_M).encode_row(x.data(), q.data(), 300, nullptr); }),
      HasSubstr("IQ1_M"));
  EXPECT_THAT(error_message([&] {
                impl(GgmlType::IQ1_S).requantize_group(q.data(), 32, x.data(), nullptr);
              }),
              HasSubstr("IQ1_S: group 32"));
  EXPECT_THAT(error_message(
                  [&] { impl(GgmlType::IQ1_M).requantize_group(q.data(), -1, x.data(), nullptr); }),
              HasSubstr("IQ1_M: group -1"));
}

}  // namespace
}  // namespace lieq
