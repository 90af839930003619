// The i-quant tests' shared check of requantize_group (GPTQ's per-group
// step) on blocks encode_row wrote: re-choosing a group for its own values
// (with encode_row's weights, importance * sqrt(sigma2 + x^2)) never raises
// its weighted error and keeps the block's bytes when it does not lower it;
// for values moved by GPTQ's error feedback (null weights: x^2) it never does
// worse than the codes the block holds; only the group's own bytes change
// and other groups decode unchanged.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "format/ggml_formats.h"
#include "format/ggml_iq_impl.h"

namespace lieq::testing {

// Weighted squared error of a group of 8 values (null w: x^2).
inline double group_weighted_error(const float* x, const float* y, const float* w) {
  double e = 0.0;
  for (int i = 0; i < 8; ++i) {
    const double wi = w ? static_cast<double>(w[i]) : static_cast<double>(x[i]) * x[i];
    const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
    e += wi * d * d;
  }
  return e;
}

// Over 20 random blocks x 32 groups: how many groups kept their bytes, and
// how many moved groups found a better code than the block held.
struct RequantizeCounts {
  int kept = 0, improved = 0;
};

// only_group_bytes(t, before, after, g): whether only group g's bytes differ.
// Importance is imp_floor + 3 u, u uniform in [0, 1).
template <class OnlyGroupBytes>
void check_requantize_group(GgmlType t, float imp_floor, OnlyGroupBytes only_group_bytes,
                            std::mt19937& rng, RequantizeCounts* counts) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.0f, 1.0f);
  const ggml_detail::LatticeImpl& li = *ggml_detail::lattice_impl(t);
  const size_t bytes = ggml_traits(t).type_size;
  for (int trial = 0; trial < 20; ++trial) {
    const float sd = 0.01f + ud(rng);
    std::vector<float> x(256), imp(256), w(256), y0(256), y1(256);
    for (int i = 0; i < 256; ++i) {
      x[size_t(i)] = nd(rng) * sd * (ud(rng) < 0.02f ? 10.0f : 1.0f);
      imp[size_t(i)] = imp_floor + 3.0f * ud(rng);
    }
    float sumx2 = 0.0f;
    for (float v : x) sumx2 += v * v;
    const float sigma2 = 2 * sumx2 / 256;
    for (int i = 0; i < 256; ++i)
      w[size_t(i)] = imp[size_t(i)] * std::sqrt(sigma2 + x[size_t(i)] * x[size_t(i)]);
    std::vector<uint8_t> b0(bytes), b(bytes);
    li.encode_row(x.data(), b0.data(), 256, imp.data());
    li.decode(b0.data(), y0.data());
    for (int g = 0; g < 32; ++g) {
      const float* xg = x.data() + 8 * g;
      b = b0;
      li.requantize_group(b.data(), g, xg, w.data() + 8 * g);
      li.decode(b.data(), y1.data());
      const double e0 = group_weighted_error(xg, y0.data() + 8 * g, w.data() + 8 * g);
      const double e1 = group_weighted_error(xg, y1.data() + 8 * g, w.data() + 8 * g);
      EXPECT_LE(e1, e0) << ggml_type_name(t) << " group " << g;
      if (e1 == e0) {
        EXPECT_EQ(b, b0) << ggml_type_name(t) << " group " << g;
      }
      counts->kept += b == b0;
      EXPECT_TRUE(only_group_bytes(t, b0.data(), b.data(), g));
      float xp[8];
      for (int i = 0; i < 8; ++i) xp[i] = xg[i] + 0.3f * sd * nd(rng);
      b = b0;
      li.requantize_group(b.data(), g, xp, nullptr);
      li.decode(b.data(), y1.data());
      const double p0 = group_weighted_error(xp, y0.data() + 8 * g, nullptr);
      const double p1 = group_weighted_error(xp, y1.data() + 8 * g, nullptr);
      EXPECT_LE(p1, p0) << ggml_type_name(t) << " moved group " << g;
      counts->improved += p1 < p0;
      EXPECT_TRUE(only_group_bytes(t, b0.data(), b.data(), g));
      for (int i = 0; i < 256; ++i)
        if (i / 8 != g) {
          ASSERT_EQ(y1[size_t(i)], y0[size_t(i)]) << i;
        }
    }
  }
}

}  // namespace lieq::testing
