// Row operations against double-precision implementations written here:
// RMSNorm, SwiGLU (silu_mul), softmax, add_inplace, and RoPE in the Hugging
// Face rotate_half form (x * cos(emb) + rotate_half(x) * sin(emb) with
// emb = cat(freqs, freqs) and rotate_half(x) = cat(-x2, x1)).
#include <gtest/gtest.h>

#include "test_support.h"

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ops.h"

namespace lieq {
namespace {

using testing::random_vec;

constexpr double kEps32 = 1.0 / (1 << 23);  // float32 machine epsilon, 2^-23

TEST(RmsNorm, MatchesDouble) {
  for (int64_t dim : {1, 7, 64, 129}) {
    const int64_t rows = 5;
    auto x = random_vec(size_t(rows * dim), uint32_t(dim), 3.0f);
    x[0] = 0.0f;  // a zero somewhere
    const auto w = random_vec(size_t(dim), uint32_t(dim + 1), 2.0f);
    const float eps = 1e-5f;
    std::vector<float> y(x.size());
    rms_norm(x.data(), w.data(), y.data(), rows, dim, eps);
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < dim; ++i) ss += double(x[size_t(r * dim + i)]) * x[size_t(r * dim + i)];
      const double inv = 1.0 / std::sqrt(ss / double(dim) + double(eps));
      for (int64_t i = 0; i < dim; ++i) {
        const double want = double(x[size_t(r * dim + i)]) * inv * double(w[size_t(i)]);
        // A few float roundings of a value of size |want|.
        ASSERT_NEAR(y[size_t(r * dim + i)], want, 4 * kEps32 * std::fabs(want) + 1e-30)
            << "dim=" << dim << " r=" << r << " i=" << i;
      }
    }
  }
}

TEST(RmsNorm, InPlaceAndZeroRow) {
  const int64_t dim = 33;
  auto x = random_vec(size_t(2 * dim), 3);
  for (int64_t i = 0; i < dim; ++i) x[size_t(dim + i)] = 0;  // row 1 all zeros
  const auto w = random_vec(size_t(dim), 4);
  std::vector<float> y(x.size());
  rms_norm(x.data(), w.data(), y.data(), 2, dim, 1e-6f);
  rms_norm(x.data(), w.data(), x.data(), 2, dim, 1e-6f);  // aliasing allowed
  EXPECT_EQ(x, y);
  for (int64_t i = 0; i < dim; ++i) EXPECT_EQ(y[size_t(dim + i)], 0.0f);  // eps keeps it finite
}

TEST(SiluMul, MatchesDouble) {
  const size_t n = 1000;
  const auto g = random_vec(n, 1, 12.0f), u = random_vec(n, 2, 3.0f);
  std::vector<float> out(n);
  silu_mul(g.data(), u.data(), out.data(), int64_t(n));
  for (size_t i = 0; i < n; ++i) {
    const double gd = g[i];
    const double want = gd / (1.0 + std::exp(-gd)) * double(u[i]);
    ASSERT_NEAR(out[i], want, 8 * kEps32 * std::fabs(want) + 1e-30) << i;
  }
  // out may alias gate.
  std::vector<float> alias = g;
  silu_mul(alias.data(), u.data(), alias.data(), int64_t(n));
  EXPECT_EQ(alias, out);
}

TEST(SiluMul, Extremes) {
  const float g[] = {-200.0f, -88.0f, 0.0f, 88.0f, 200.0f};
  const float u[] = {1.0f, 1.0f, 5.0f, 1.0f, 2.0f};
  float out[5];
  silu_mul(g, u, out, 5);
  EXPECT_EQ(out[0], 0.0f);  // silu(-200) underflows to -0, not NaN
  EXPECT_FALSE(std::isnan(out[1]));
  EXPECT_NEAR(out[1], 0.0f, 1e-30);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_FLOAT_EQ(out[3], 88.0f);
  EXPECT_FLOAT_EQ(out[4], 400.0f);
}

TEST(Softmax, SumsToOneAndMatchesDouble) {
  for (int64_t n : {1, 2, 17, 1000}) {
    for (float scale : {1.0f, 30.0f}) {
      auto x = random_vec(size_t(n), uint32_t(n), scale);
      const std::vector<float> x0 = x;
      softmax(x.data(), n);
      double mx = -INFINITY;
      for (float v : x0) mx = std::max(mx, double(v));
      double sum = 0;
      for (float v : x0) sum += std::exp(double(v) - mx);
      double got_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double d = double(x0[size_t(i)]) - mx;
        const double want = std::exp(d) / sum;
        // x - max is rounded to float (absolute error |d| * 2^-24, which exp
        // turns into that relative error), then exp, sum and scale round a few times.
        ASSERT_NEAR(x[size_t(i)], want, (4 + std::fabs(d)) * kEps32 * want + 1e-30)
            << "n=" << n << " i=" << i;
        ASSERT_GE(x[size_t(i)], 0.0f);
        got_sum += x[size_t(i)];
      }
      EXPECT_NEAR(got_sum, 1.0, 1e-6) << "n=" << n;
    }
  }
}

TEST(Softmax, LargeAndNegativeInfinityInputs) {
  float x[] = {1000.0f, 1001.0f, -INFINITY, 999.0f};
  softmax(x, 4);
  const double e = std::exp(1.0);
  const double s = 1 + e + 1 / e;
  EXPECT_NEAR(x[0], 1 / s, 1e-6);
  EXPECT_NEAR(x[1], e / s, 1e-6);
  EXPECT_EQ(x[2], 0.0f);  // masked positions get exactly 0
  EXPECT_NEAR(x[3], 1 / e / s, 1e-6);
}

TEST(AddInplace, Adds) {
  auto y = random_vec(37, 1);
  const auto x = random_vec(37, 2);
  const auto y0 = y;
  add_inplace(y.data(), x.data(), 37);
  for (size_t i = 0; i < 37; ++i) EXPECT_EQ(y[i], y0[i] + x[i]);
}

// Hugging Face apply_rotary_pos_emb for one head vector, in double.
std::vector<double> hf_rope(const float* x, int64_t head_dim, const std::vector<double>& inv_freq,
                            int64_t pos) {
  const int64_t half = head_dim / 2;
  const size_t n = static_cast<size_t>(head_dim);
  std::vector<double> emb(n), rot(n), out(n);
  for (int64_t i = 0; i < head_dim; ++i) emb[size_t(i)] = double(pos) * inv_freq[size_t(i % half)];
  for (int64_t i = 0; i < half; ++i) {
    rot[size_t(i)] = -double(x[i + half]);
    rot[size_t(i + half)] = double(x[i]);
  }
  for (int64_t i = 0; i < head_dim; ++i)
    out[size_t(i)] = double(x[i]) * std::cos(emb[size_t(i)]) + rot[size_t(i)] * std::sin(emb[size_t(i)]);
  return out;
}

std::vector<double> inv_freq_for(int64_t head_dim, double theta) {
  std::vector<double> f(size_t(head_dim / 2));
  for (int64_t i = 0; i < head_dim / 2; ++i)
    f[size_t(i)] = std::pow(theta, -double(2 * i) / double(head_dim));
  return f;
}

TEST(Rope, MatchesHfRotateHalf) {
  for (int64_t head_dim : {2, 8, 32, 48, 64}) {
    const int64_t n_heads = 3, rows = 7;
    const auto inv_freq = inv_freq_for(head_dim, 10000.0);
    const RopeTable rope(inv_freq, 600);
    EXPECT_EQ(rope.n_positions(), 600);
    const std::vector<int32_t> pos = {0, 1, 2, 17, 255, 599, 3};  // any order
    auto x = random_vec(size_t(rows * n_heads * head_dim), uint32_t(head_dim), 2.0f);
    const auto x0 = x;
    rope.apply(x.data(), rows, n_heads, pos.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t h = 0; h < n_heads; ++h) {
        const float* in = x0.data() + (r * n_heads + h) * head_dim;
        const std::vector<double> want = hf_rope(in, head_dim, inv_freq, pos[size_t(r)]);
        for (int64_t i = 0; i < head_dim; ++i) {
          // cos/sin are stored as float (error 2^-24 each, plus the angle's
          // rounding ~pos * 2^-53); two products and a sum add a few more.
          const double mag = std::fabs(in[i]) + std::fabs(in[(i + head_dim / 2) % head_dim]);
          ASSERT_NEAR(x[size_t((r * n_heads + h) * head_dim + i)], want[size_t(i)], 4 * kEps32 * mag)
              << "hd=" << head_dim << " r=" << r << " h=" << h << " i=" << i;
        }
      }
  }
}

TEST(Rope, PositionZeroIsIdentityAndNormIsKept) {
  const int64_t hd = 16;
  const RopeTable rope(inv_freq_for(hd, 500000.0), 10);
  auto x = random_vec(size_t(2 * hd), 9);
  const auto x0 = x;
  const int32_t pos[] = {0, 9};
  rope.apply(x.data(), 2, 1, pos);
  for (int64_t i = 0; i < hd; ++i) EXPECT_EQ(x[size_t(i)], x0[size_t(i)]);
  // A rotation keeps each (i, i + half) pair's length.
  for (int64_t i = 0; i < hd / 2; ++i) {
    const double before = std::hypot(x0[size_t(hd + i)], x0[size_t(hd + i + hd / 2)]);
    const double after = std::hypot(x[size_t(hd + i)], x[size_t(hd + i + hd / 2)]);
    EXPECT_NEAR(after, before, 1e-6 * before);
  }
}

TEST(Rope, EnsureGrowsTheTable) {
  const int64_t hd = 24;
  const auto inv_freq = inv_freq_for(hd, 10000.0);
  RopeTable small(inv_freq, 4);
  EXPECT_EQ(small.n_positions(), 4);
  small.ensure(2);  // never shrinks
  EXPECT_EQ(small.n_positions(), 4);
  small.ensure(1000);
  EXPECT_EQ(small.n_positions(), 1000);
  const RopeTable big(inv_freq, 1000);
  auto a = random_vec(size_t(4 * 2 * hd), 3);
  auto b = a;
  const int32_t pos[] = {3, 4, 500, 999};
  small.apply(a.data(), 4, 2, pos);
  big.apply(b.data(), 4, 2, pos);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace lieq
