// F16 and BF16 conversions: f16 -> f32 for all 65536 bit patterns against an
// independent decoder, exact round trips, f32 -> f16 against a brute-force
// nearest-value search (ties to even, overflow, subnormals), hand-picked ties,
// and bf16 rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "util/half.h"

namespace lieq {
namespace {

bool f16_is_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0; }

// Decodes an IEEE binary16 value from its fields, in double.
double f16_decode(uint16_t h) {
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v;
  if (exp == 0)
    v = std::ldexp(double(mant), -24);  // subnormal: mant * 2^-14 / 1024
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = std::ldexp(1.0 + double(mant) / 1024.0, exp - 15);
  return sign ? -v : v;
}

TEST(F16, DecodeAllBitPatterns) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = uint16_t(b);
    const float got = f16_to_f32(h);
    if (f16_is_nan(h)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << b;
      continue;
    }
    ASSERT_EQ(double(got), f16_decode(h)) << std::hex << b;
    ASSERT_EQ(std::signbit(got), (b & 0x8000u) != 0) << std::hex << b;  // -0 keeps its sign
  }
}

TEST(F16, RoundTripOfAllBitPatterns) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = uint16_t(b);
    const uint16_t back = f32_to_f16(f16_to_f32(h));
    if (f16_is_nan(h)) {
      ASSERT_TRUE(f16_is_nan(back)) << std::hex << b;  // payload may change, NaN-ness not
      ASSERT_EQ(back & 0x8000u, h & 0x8000u) << std::hex << b;
    } else {
      ASSERT_EQ(back, h) << std::hex << b;
    }
  }
}

// Nearest binary16 to x by searching the sorted table of all finite
// non-negative values; ties go to the even bit pattern; |x| >= 65520 (the
// midpoint between 65504 and the next power 65536) becomes infinity.
class F16Reference {
 public:
  F16Reference() {
    for (uint16_t h = 0; h < 0x7c00; ++h) values_.push_back(f16_decode(h));
  }
  uint16_t operator()(float x) const {
    const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const double a = std::fabs(double(x));
    if (std::isnan(x)) return 0x7e00;
    if (a >= 65520.0) return sign | 0x7c00;
    if (a > 65504.0) return sign | 0x7bff;
    const auto it = std::lower_bound(values_.begin(), values_.end(), a);
    const size_t hi = size_t(it - values_.begin());  // values_[hi] >= a
    if (hi == 0 || values_[hi] == a) return uint16_t(sign | hi);
    const size_t lo = hi - 1;
    const double dlo = a - values_[lo], dhi = values_[hi] - a;
    size_t pick = dlo < dhi ? lo : dhi < dlo ? hi : (lo % 2 == 0 ? lo : hi);
    return uint16_t(sign | pick);
  }

 private:
  std::vector<double> values_;  // index = bit pattern
};

TEST(F16, EncodeMatchesNearestEvenSearch) {
  const F16Reference ref;
  auto check = [&](float x) {
    ASSERT_EQ(f32_to_f16(x), ref(x)) << std::hexfloat << x;
  };
  // Every f16 value, the exact midpoints between neighbours, and one float
  // ulp either side of each midpoint.
  for (uint16_t h = 0; h < 0x7c00; ++h) {
    const double v = f16_decode(h), next = f16_decode(uint16_t(h + 1));
    const float mid = float((v + next) / 2);  // exact: midpoints need 12 bits
    for (float x : {float(v), mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
      check(x);
      check(-x);
    }
  }
  // A stride through all finite floats below 2^17 (normal, subnormal and
  // overflowing f16 ranges, and float subnormals).
  for (uint32_t u = 0; u < 0x48000000u; u += 4099) {
    float x;
    std::memcpy(&x, &u, 4);
    check(x);
  }
}

TEST(F16, HandPickedRounding) {
  // Ties between 1 and 1 + 2^-10 go to the even mantissa.
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f), 0x3c00);                // tie -> even (1.0)
  EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);            // tie -> even (1 + 2^-9)
  EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f + 0x1p-23f), 0x3c01);     // just above the tie
  EXPECT_EQ(f32_to_f16(2047.0f / 1024 + 0x1p-11f), 0x4000);      // tie that carries into the exponent
  // Largest finite and overflow.
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.99f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // tie with 65536 -> even -> infinity
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00);
  EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
  EXPECT_EQ(f32_to_f16(-INFINITY), 0xfc00);
  EXPECT_TRUE(f16_is_nan(f32_to_f16(NAN)));
  // Subnormals: multiples of 2^-24.
  EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);                 // tie 0 / 2^-24 -> 0
  EXPECT_EQ(f32_to_f16(0x1p-25f + 0x1p-40f), 0x0001);      // just above the tie
  EXPECT_EQ(f32_to_f16(3 * 0x1p-25f), 0x0002);             // tie 1 / 2 -> 2
  EXPECT_EQ(f32_to_f16(1023 * 0x1p-24f), 0x03ff);          // largest subnormal
  EXPECT_EQ(f32_to_f16(1023.5f * 0x1p-24f), 0x0400);       // tie -> smallest normal
  EXPECT_EQ(f32_to_f16(0x1p-14f), 0x0400);
  EXPECT_EQ(f32_to_f16(std::nextafter(0x1p-14f, 0.0f)), 0x0400);
  EXPECT_EQ(f32_to_f16(1e-30f), 0x0000);
  EXPECT_EQ(f32_to_f16(-1e-30f), 0x8000);  // underflow keeps the sign
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
}

TEST(F16, RowConversion) {
  std::vector<uint16_t> h(300);
  for (size_t i = 0; i < h.size(); ++i) h[i] = uint16_t(i * 211);
  std::vector<float> out(h.size());
  f16_to_f32_row(h.data(), out.data(), h.size());
  for (size_t i = 0; i < h.size(); ++i) {
    if (f16_is_nan(h[i]))
      EXPECT_TRUE(std::isnan(out[i]));
    else
      EXPECT_EQ(out[i], f16_to_f32(h[i])) << i;
  }
}

TEST(BF16, DecodeAndRoundTripOfAllBitPatterns) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = uint16_t(b);
    const float f = bf16_to_f32(h);
    EXPECT_EQ(f32_to_bits(f), b << 16);
    const bool nan = (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0;
    if (nan) {
      ASSERT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f)))) << std::hex << b;
    } else {
      ASSERT_EQ(f32_to_bf16(f), h) << std::hex << b;
    }
  }
}

TEST(BF16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000u)), 0x3f80);  // tie, even below
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000u)), 0x3f82);  // tie, even above
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808001u)), 0x3f81);  // above the tie
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f807fffu)), 0x3f80);  // below the tie
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0xbf818000u)), 0xbf82);  // negative tie
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3fff8000u)), 0x4000);  // tie carries into the exponent
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to infinity
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x7f7f7fffu)), 0x7f7f);  // largest value that does not
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-INFINITY), 0xff80);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x00008000u)), 0x0000);  // subnormal tie -> even (0)
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x00018000u)), 0x0002);  // subnormal tie -> even
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  // NaN stays NaN even when the payload sits only in the low 16 bits.
  const uint16_t n = f32_to_bf16(bits_to_f32(0x7f800001u));
  EXPECT_EQ(n & 0x7f80, 0x7f80);
  EXPECT_NE(n & 0x7f, 0);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0xff800001u)) & 0x8000, 0x8000);
}

TEST(BF16, RowConversion) {
  const uint16_t h[] = {0x3f80, 0xc000, 0x0000, 0x4049};
  float out[4];
  bf16_to_f32_row(h, out, 4);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], 3.140625f);
}

}  // namespace
}  // namespace lieq
