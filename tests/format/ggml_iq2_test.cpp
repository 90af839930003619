// IQ2_XXS, IQ2_XS and IQ2_S: encodings and decodings recorded from ggml,
// hand-made blocks decoded by hand, the search tables against ggml's sizes,
// requantize_group (GPTQ's per-group step) against the block encode_row
// wrote, and input errors.
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
#include "format/ggml_iq_grids.h"
#include "format/ggml_iq_impl.h"
#include "format/ggml_iq_lattice.h"
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

// An odd number of rows: 3 rows of 512, sd ~0.014 with an x10 outlier every
// 37 values; importance [512] in [0, 16) with zeros every 11.
void odd_fixture(std::vector<float>* x, std::vector<float>* imp) {
  x->assign(1536, 0.0f);
  imp->assign(512, 0.0f);
  TestRng r{0x2545f491u};
  for (int i = 0; i < 1536; ++i) {
    float v = gaussish(r) * 0.05f;
    if (i % 37 == 3) v *= 10.0f;
    (*x)[size_t(i)] = v;
  }
  for (int i = 0; i < 512; ++i)
    (*imp)[size_t(i)] = i % 11 == 4 ? 0.0f : static_cast<float>(r.next() >> 16) * 0x1p-12f;
}

// FNV-1a hashes of ggml's bytes: ggml_quantize_chunk(type, x, dst, 0, rows,
// n, imatrix) without the imatrix (0: ggml requires one) and with it, and of
// the type's to_float of the imatrix encoding. Recorded from llama.cpp
// de3ff815ea7d559ee917f063901b8986f038abc6 (node-llama-cpp 3.22.1's tree),
// ggml-base -O2 without FMA/F16C. (Hashed here from the harness's bytes with
// the standard FNV-1a basis 0xcbf29ce484222325; the harness's own "hash"
// output starts from 1469598103934665603, a digit short, so its numbers
// differ.)
struct Iq2Record {
  GgmlType type;
  uint64_t plain, imatrix, decoded;
};

void expect_records(const std::vector<float>& x, const std::vector<float>& imp, int64_t rows,
                    int64_t n, const Iq2Record* recs, size_t count) {
  for (size_t k = 0; k < count; ++k) {
    const Iq2Record& rec = recs[k];
    const char* name = ggml_type_name(rec.type);
    std::vector<uint8_t> q(static_cast<size_t>(rows) * ggml_row_size(rec.type, n));
    if (rec.plain != 0) {
      ggml_quantize_rows(rec.type, x.data(), q.data(), rows, n, nullptr);
      EXPECT_EQ(fnv1a(q.data(), q.size()), rec.plain) << name << " without importance";
    }
    ggml_quantize_rows(rec.type, x.data(), q.data(), rows, n, imp.data());
    EXPECT_EQ(fnv1a(q.data(), q.size()), rec.imatrix) << name << " with importance";
    std::vector<float> y(static_cast<size_t>(rows * n));
    ggml_dequantize_row(rec.type, q.data(), y.data(), rows * n);
    EXPECT_EQ(fnv1a(y.data(), y.size() * 4), rec.decoded) << name << " decoded";
  }
}

TEST(GgmlIq2Test, FixtureEncodingsEqualGgmls) {
  std::vector<float> x, imp;
  ggml_fixture(&x, &imp);
  const Iq2Record recs[] = {
      {GgmlType::IQ2_XXS, 0, 0x005566af98017e64ull, 0xffd13963cbf86a1cull},
      {GgmlType::IQ2_XS, 0, 0x521aa8fb219c2395ull, 0xcc96e648f12c4dadull},
      {GgmlType::IQ2_S, 0xd9ed8b333af37e4cull, 0x71b052b8dc1d7aa1ull, 0xb2d40647e8bd4a20ull},
  };
  expect_records(x, imp, 2, 1024, recs, std::size(recs));
}

TEST(GgmlIq2Test, OddRowCountEncodingsEqualGgmls) {
  std::vector<float> x, imp;
  odd_fixture(&x, &imp);
  const Iq2Record recs[] = {
      {GgmlType::IQ2_XXS, 0, 0x09808c6cac7acbb9ull, 0x0054d48cd3a40b62ull},
      {GgmlType::IQ2_XS, 0, 0x20ac08b1511ffb55ull, 0xdf9f8f887a373791ull},
      {GgmlType::IQ2_S, 0xaa623e7744b496e4ull, 0x8f26a05224bde001ull, 0x3103e0a411d9e967ull},
  };
  expect_records(x, imp, 3, 512, recs, std::size(recs));
}

// The first block of the fixture's imatrix encoding, byte for byte (same
// record as above).
TEST(GgmlIq2Test, FirstBlocksEqualGgmlsBytes) {
  std::vector<float> x, imp;
  ggml_fixture(&x, &imp);
  const struct {
    GgmlType type;
    const char* bytes;
  } expected[] = {
      {GgmlType::IQ2_XXS,
       "1a17d2000000393364f21701a43db695b5241c488a5191396d35464ba78116b1c2250a398c154e9665120000"
       "006c442715abdfef4be88e9afb18000000111094188a"},
      {GgmlType::IQ2_XS,
       "5b17907300cc99211c273f6c4c573fad6f4a5d2393e6d469ed56802c8dc4dc15e95c979d6e59962c1f26a788"
       "a09c00a8cdb0b11dcc6b9edcad8f55211f5100c417a01f21131211a11182"},
      {GgmlType::IQ2_S,
       "34173300531b4b8361a2b2ddbab8c6d6d2cf075f8b2249f600746dacf28b9206001939269013162b5ea551f3"
       "bc2b96e20e2aceac8697440ed4d88e35ce4394a8e040b32872702841cf061f21131211a11182"},
  };
  for (const auto& e : expected) {
    std::vector<uint8_t> q(2 * ggml_row_size(e.type, 1024));
    ggml_quantize_rows(e.type, x.data(), q.data(), 2, 1024, imp.data());
    EXPECT_EQ(hex(q.data(), ggml_traits(e.type).type_size), e.bytes) << ggml_type_name(e.type);
  }
}

// The search tables have ggml's sizes: kneighbors_q2xs holds the lists of
// ggml's 43692 map entries first (ggml's total length recorded from its
// iq2xs_init_impl), the rest follow.
TEST(GgmlIq2Test, LatticeTablesMatchGgmlsShape) {
  const struct {
    int grid;
    size_t ggml_neighbours;
  } cases[] = {{256, 417400}, {512, 551722}, {1024, 209100}, {2048, 1375339}};
  for (const auto& c : cases) {
    const ggml_detail::Iq2Lattice& lat = ggml_detail::iq2_lattice(c.grid);
    ASSERT_EQ(lat.grid_size, c.grid);
    ASSERT_EQ(lat.points.size(), static_cast<size_t>(c.grid));
    ASSERT_EQ(lat.map.size(), 65536u);
    size_t end = 0;
    for (int i = 0; i < 43692; ++i) {
      if (lat.map[size_t(i)] >= 0) {
        // An on-grid point maps to itself: its coordinates are 2 l + 1.
        const uint64_t p = lat.points[size_t(lat.map[size_t(i)])];
        for (int k = 0; k < 8; ++k)
          EXPECT_EQ(static_cast<int>((p >> (8 * k)) & 255), 2 * ((i >> (2 * k)) & 3) + 1);
        continue;
      }
      const size_t off = static_cast<size_t>(-lat.map[size_t(i)] - 1);
      EXPECT_EQ(off, end) << "grid " << c.grid << " point " << i;
      end = off + 1 + lat.neighbours[off];
    }
    EXPECT_EQ(end, c.ggml_neighbours) << "grid " << c.grid;
    EXPECT_EQ(&lat, &ggml_detail::iq2_lattice(c.grid));  // built once
  }
  // Known entries: IQ2_XXS's entry 1 has magnitude 0x2b (rank 2) first.
  EXPECT_EQ(ggml_detail::iq2_lattice(256).points[1], 0x0101010101010105ull);
}

// ------------------------------------------------------------------ hand-made blocks

TEST(GgmlIq2Test, HandMadeIq2XxsBlockDecodes) {
  ggml::BlockIQ2_XXS b{};
  b.d = f32_to_f16(1.0f);
  // Sub-block 0: indices 0, 1, 2, 3; group 0 sign pattern 1 (plus the parity
  // bit 7: elements 0 and 7 negative), scale 3: db = (0.5 + 3) / 4 = 0.875.
  const uint32_t aux[2] = {0x03020100u, 1u | (3u << 28)};
  std::memcpy(b.qs, aux, 8);
  std::vector<float> y(256);
  ggml_dequantize_row(GgmlType::IQ2_XXS, &b, y.data(), 256);
  const float g0[8] = {-7.0f, 7.0f, 7.0f, 7.0f, 7.0f, 7.0f, 7.0f, -7.0f};  // 0.875 * 8
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[size_t(j)], g0[j]) << j;
  EXPECT_EQ(y[8], 37.625f);  // entry 1 = 0x...082b: 0.875 * 43
  for (int j = 9; j < 16; ++j) EXPECT_EQ(y[size_t(j)], 7.0f);
  // Sub-block 1 all zero bits: entry 0, scale 0: db = 0.125, 8 * 0.125.
  for (int j = 32; j < 64; ++j) EXPECT_EQ(y[size_t(j)], 1.0f);
}

TEST(GgmlIq2Test, HandMadeIq2XsBlockDecodes) {
  ggml::BlockIQ2_XS b{};
  b.d = f32_to_f16(1.0f);
  b.scales[0] = 0x21;  // 16-element sub-blocks 0 (s 1, db 0.375) and 1 (s 2, db 0.625)
  b.qs[0] = static_cast<uint16_t>(2 | 3 << 9);  // entry 2 = 0x0808080808081919, signs 0b11
  std::vector<float> y(256);
  ggml_dequantize_row(GgmlType::IQ2_XS, &b, y.data(), 256);
  const float g0[8] = {-9.375f, -9.375f, 3.0f, 3.0f, 3.0f, 3.0f, 3.0f, 3.0f};
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[size_t(j)], g0[j]) << j;
  for (int j = 16; j < 32; ++j) EXPECT_EQ(y[size_t(j)], 5.0f);  // 0.625 * 8
}

TEST(GgmlIq2Test, HandMadeIq2SBlockDecodes) {
  ggml::BlockIQ2_S b{};
  b.d = f32_to_f16(1.0f);
  b.scales[0] = 0x10;    // db 0.125 (elements 0..15), 0.375 (16..31)
  b.qs[0] = 5;           // group 0: index 5 | 3 << 8 = 773
  b.qh[0] = 3 | 1 << 4;  // group 2: index 0 | 1 << 8 = 256
  b.qs[32 + 0] = 0xff;   // group 0 all negative
  b.qs[32 + 2] = 0x01;   // group 2 element 0 negative
  std::vector<float> y(256);
  ggml_dequantize_row(GgmlType::IQ2_S, &b, y.data(), 256);
  // Entry 773 = 0x192b08082b190808, entry 256 = 0x0819081919191919.
  const float g0[8] = {-1.0f, -1.0f, -3.125f, -5.375f, -1.0f, -1.0f, -5.375f, -3.125f};
  const float g2[8] = {-9.375f, 9.375f, 9.375f, 9.375f, 9.375f, 3.0f, 9.375f, 3.0f};
  for (int j = 0; j < 8; ++j) {
    EXPECT_EQ(y[size_t(j)], g0[j]) << j;
    EXPECT_EQ(y[size_t(16 + j)], g2[j]) << j;
  }
  for (int j = 8; j < 16; ++j) EXPECT_EQ(y[size_t(j)], 1.0f);  // entry 0, db 0.125
}

// ------------------------------------------------------------------ requantize_group

struct Iq2Case {
  GgmlType type;
  const ggml_detail::LatticeImpl* impl;
};
std::vector<Iq2Case> iq2_cases() {
  return {{GgmlType::IQ2_XXS, &ggml_detail::kIQ2_XXS},
          {GgmlType::IQ2_XS, &ggml_detail::kIQ2_XS},
          {GgmlType::IQ2_S, &ggml_detail::kIQ2_S}};
}

double group_error(const float* x, const float* y, const float* w) {
  double e = 0.0;
  for (int j = 0; j < 8; ++j) e += double(w[j]) * (x[j] - y[j]) * (x[j] - y[j]);
  return e;
}

// With the values encode_row saw, requantizing a group never increases its
// weighted error and changes no other group's decoded values.
TEST(GgmlIq2Test, RequantizeGroupDoesNotWorsenTheBlock) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const Iq2Case& c : iq2_cases()) {
    const size_t bytes = ggml_traits(c.type).type_size;
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<float> x(256), w(256), y(256), y2(256);
      for (int i = 0; i < 256; ++i) {
        x[size_t(i)] = 0.02f * nd(rng);
        w[size_t(i)] = std::exp(nd(rng));
      }
      std::vector<uint8_t> block(bytes);
      c.impl->encode_row(x.data(), block.data(), 256, w.data());
      c.impl->decode(block.data(), y.data());
      for (int g = 0; g < 32; ++g) {
        std::vector<uint8_t> b2 = block;
        c.impl->requantize_group(b2.data(), g, x.data() + 8 * g, w.data() + 8 * g);
        c.impl->decode(b2.data(), y2.data());
        const double before = group_error(x.data() + 8 * g, y.data() + 8 * g, w.data() + 8 * g);
        const double after = group_error(x.data() + 8 * g, y2.data() + 8 * g, w.data() + 8 * g);
        EXPECT_LE(after, before * (1 + 1e-6) + 1e-30) << ggml_type_name(c.type) << " group " << g;
        for (int i = 0; i < 256; ++i) {
          if (i / 8 == g) continue;
          ASSERT_EQ(y[size_t(i)], y2[size_t(i)]) << ggml_type_name(c.type);
        }
        // Null weights (x^2) are accepted.
        b2 = block;
        c.impl->requantize_group(b2.data(), g, x.data() + 8 * g, nullptr);
      }
    }
  }
}

// requantize_group follows new values: a group of the block moved to another
// code book entry is found again under the stored scale.
TEST(GgmlIq2Test, RequantizeGroupFindsAnExactEntry) {
  std::vector<float> x, imp;
  ggml_fixture(&x, &imp);
  for (const Iq2Case& c : iq2_cases()) {
    std::vector<uint8_t> block(ggml_traits(c.type).type_size);
    c.impl->encode_row(x.data(), block.data(), 256, imp.data());
    std::vector<float> y(256), y2(256);
    c.impl->decode(block.data(), y.data());
    // Target: group 1's decoded values placed in group 0 (same sub-block
    // scale), so some entry and sign pattern reproduces them exactly.
    std::vector<float> target(y.begin() + 8, y.begin() + 16);
    const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    c.impl->requantize_group(block.data(), 0, target.data(), ones);
    c.impl->decode(block.data(), y2.data());
    for (int j = 0; j < 8; ++j)
      EXPECT_EQ(y2[size_t(j)], target[size_t(j)]) << ggml_type_name(c.type);
    for (int j = 8; j < 256; ++j) EXPECT_EQ(y2[size_t(j)], y[size_t(j)]);
  }
}

// ------------------------------------------------------------------ errors

TEST(GgmlIq2Test, NullImportanceThrowsWhereGgmlRequiresAnImatrix) {
  std::vector<float> x(256, 0.01f);
  for (GgmlType t : {GgmlType::IQ2_XXS, GgmlType::IQ2_XS}) {
    std::vector<uint8_t> q(ggml_row_size(t, 256));
    EXPECT_THAT(error_message([&] { ggml_quantize_row(t, x.data(), q.data(), 256, nullptr); }),
                HasSubstr(ggml_type_name(t)));
    EXPECT_THAT(error_message([&] { ggml_quantize_row(t, x.data(), q.data(), 256, nullptr); }),
                HasSubstr("imatrix"));
  }
  std::vector<uint8_t> q(ggml_row_size(GgmlType::IQ2_S, 256));
  ggml_quantize_row(GgmlType::IQ2_S, x.data(), q.data(), 256, nullptr);  // no imatrix needed
}

TEST(GgmlIq2Test, BadGroupOrRowLengthThrows) {
  std::vector<float> x(256, 0.01f), w(256, 1.0f);
  for (const Iq2Case& c : iq2_cases()) {
    std::vector<uint8_t> block(ggml_traits(c.type).type_size);
    EXPECT_THAT(
        error_message([&] { c.impl->requantize_group(block.data(), 32, x.data(), w.data()); }),
        HasSubstr(ggml_type_name(c.type)));
    EXPECT_THAT(error_message([&] { c.impl->encode_row(x.data(), block.data(), 100, w.data()); }),
                HasSubstr(ggml_type_name(c.type)));
  }
}

}  // namespace
}  // namespace lieq
