// Every instruction-set path of kernels/vec.h that this CPU supports, against
// the scalar reference or double precision, on odd sizes (tails of every
// length, unaligned starts), with a guard element after the end that must
// stay untouched. Tolerances are stated per kernel (float epsilon 2^-23).
#include <gtest/gtest.h>

#include "test_support.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/ops.h"
#include "kernels/vec.h"
#include "util/half.h"

namespace lieq {
namespace {

using testing::random_vec;

constexpr double kEps32 = 1.0 / (1 << 23);
constexpr float kGuard = -12345.0f;
const int64_t kSizes[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 257, 1000, 4099};

class VecPaths : public ::testing::TestWithParam<Isa> {
 protected:
  const VecKernels& k() const { return vec_kernels(GetParam()); }
  const VecKernels& ref() const { return vec_kernels_scalar(); }
};

std::vector<Isa> paths() {
  return supported_isas();
}

INSTANTIATE_TEST_SUITE_P(Isa, VecPaths, ::testing::ValuesIn(paths()),
                         [](const ::testing::TestParamInfo<Isa>& i) {
                           return std::string(isa_name(i.param));
                         });

TEST(CpuFeatures, ParseAndActive) {
  Isa isa;
  EXPECT_TRUE(parse_isa("avx512", &isa));
  EXPECT_EQ(isa, Isa::kAvx512);
  EXPECT_TRUE(parse_isa("scalar", &isa));
  EXPECT_EQ(isa, Isa::kScalar);
  EXPECT_FALSE(parse_isa("sse9", &isa));
  EXPECT_TRUE(cpu_supports(Isa::kScalar));
  EXPECT_TRUE(cpu_supports(active_isa()));
  EXPECT_LE(uint8_t(active_isa()), uint8_t(best_supported_isa()));
  EXPECT_EQ(vec().isa, active_isa());
  std::printf("[          ] paths on this CPU:");
  for (Isa i : supported_isas()) std::printf(" %s", isa_name(i));
  std::printf("; active %s\n", isa_name(active_isa()));
}

// All 65536 half-precision bit patterns convert exactly (NaN to NaN).
TEST_P(VecPaths, HalfConversionsAreExactForEveryBitPattern) {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = uint16_t(i);
  for (bool bf16 : {false, true}) {
    std::vector<float> got(all.size() + 1, kGuard), want(all.size());
    // Offset 1 and length 65535: an unaligned start and a tail.
    (bf16 ? k().bf16_to_f32 : k().f16_to_f32)(all.data() + 1, got.data(), int64_t(all.size()) - 1);
    for (size_t i = 1; i < all.size(); ++i) {
      const float w = bf16 ? bf16_to_f32(all[i]) : f16_to_f32(all[i]);
      const float g = got[i - 1];
      if (std::isnan(w)) {
        ASSERT_TRUE(std::isnan(g)) << std::hex << all[i];
      } else {
        ASSERT_EQ(f32_to_bits(g), f32_to_bits(w))
            << (bf16 ? "bf16 " : "f16 ") << std::hex << all[i];
      }
    }
    EXPECT_EQ(got[all.size() - 1], kGuard);
  }
  for (int64_t n : kSizes) {
    std::vector<uint16_t> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      x[size_t(i)] = uint16_t((0x3c00 + 37 * i) % 0x7c00);  // finite values
    std::vector<float> a(size_t(n) + 1, kGuard), b(size_t(n) + 1, kGuard);
    k().f16_to_f32(x.data(), a.data(), n);
    ref().f16_to_f32(x.data(), b.data(), n);
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "n=" << n;
  }
}

// exp within 2 ulp of the double result (relative 2 * 2^-23 for normal
// results; subnormal results within 1 unit of 2^-149), 0 below -104, inf above
// 88.73, NaN for NaN.
TEST_P(VecPaths, ExpWithinTwoUlp) {
  std::vector<float> x;
  for (float v = -110.0f; v <= 90.0f; v += 0.0137f) x.push_back(v);
  for (float v :
       {0.0f, -0.0f, 1e-30f, -1e-30f, 88.72f, 88.73f, 88.7228f, -87.33f, -103.9f, -104.5f})
    x.push_back(v);
  std::vector<float> y(x.size() + 1, kGuard);
  k().exp(x.data(), y.data(), int64_t(x.size()));
  EXPECT_EQ(y[x.size()], kGuard);
  double worst_ulp = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(double(x[i]));
    if (want > double(std::numeric_limits<float>::max())) {
      ASSERT_TRUE(std::isinf(y[i])) << x[i];
      continue;
    }
    const double tol = std::max(2 * kEps32 * want, std::ldexp(1.0, -149));
    ASSERT_NEAR(y[i], want, tol) << "x=" << x[i];
    if (want >= double(std::numeric_limits<float>::min()))
      worst_ulp = std::max(worst_ulp, std::fabs(y[i] - want) / (kEps32 * want));
  }
  const float special[] = {-INFINITY, INFINITY, NAN, -200.0f, 200.0f};
  float out[5];
  k().exp(special, out, 5);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_TRUE(std::isinf(out[1]) && out[1] > 0);
  EXPECT_TRUE(std::isnan(out[2]));
  EXPECT_EQ(out[3], 0.0f);
  EXPECT_TRUE(std::isinf(out[4]));
  std::printf("[          ] %s exp: worst %.2f ulp\n", isa_name(GetParam()), worst_ulp);
}

// Both sum squares in double; the scale may differ in its last bit when the
// sums round differently, so outputs agree within 2 ulp.
TEST_P(VecPaths, RmsNormMatchesReference) {
  for (int64_t dim : kSizes) {
    const int64_t rows = 3;
    const auto x = random_vec(size_t(rows * dim) + 1, uint32_t(dim), 3.0f);
    const auto w = random_vec(size_t(dim), uint32_t(dim + 7), 2.0f);
    std::vector<float> got(size_t(rows * dim) + 1, kGuard), want(got.size(), kGuard);
    k().rms_norm(x.data() + 1, w.data(), got.data(), rows, dim, 1e-6f);
    ref().rms_norm(x.data() + 1, w.data(), want.data(), rows, dim, 1e-6f);
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 2 * kEps32 * std::fabs(want[i])) << "dim=" << dim << " i=" << i;
    EXPECT_EQ(got.back(), kGuard);
    // In place gives the same values.
    std::vector<float> inplace(x.begin() + 1, x.end());
    k().rms_norm(inplace.data(), w.data(), inplace.data(), rows, dim, 1e-6f);
    for (size_t i = 0; i < inplace.size(); ++i) ASSERT_EQ(inplace[i], got[i]) << "dim=" << dim;
  }
}

// silu(g) * u = g / (1 + exp(-g)) * u: 2 ulp of exp, then add, divide and
// multiply roundings; 8 * 2^-23 relative to the double result.
TEST_P(VecPaths, SiluMulMatchesDouble) {
  for (int64_t n : kSizes) {
    const auto g = random_vec(size_t(n), uint32_t(n), 12.0f),
               u = random_vec(size_t(n), uint32_t(n + 1), 3.0f);
    std::vector<float> out(size_t(n) + 1, kGuard);
    k().silu_mul(g.data(), u.data(), out.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double gd = g[size_t(i)];
      const double want = gd / (1.0 + std::exp(-gd)) * double(u[size_t(i)]);
      ASSERT_NEAR(out[size_t(i)], want, 8 * kEps32 * std::fabs(want) + 1e-30) << "n=" << n;
    }
    EXPECT_EQ(out[size_t(n)], kGuard);
    std::vector<float> alias = g;
    k().silu_mul(alias.data(), u.data(), alias.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(alias[size_t(i)], out[size_t(i)]);
  }
  const float g[] = {-200.0f, -88.0f, 0.0f, 88.0f, 200.0f};
  const float u[] = {1.0f, 1.0f, 5.0f, 1.0f, 2.0f};
  float out[5];
  k().silu_mul(g, u, out, 5);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 0.0f, 1e-30);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_FLOAT_EQ(out[3], 88.0f);
  EXPECT_FLOAT_EQ(out[4], 400.0f);
}

// Softmax against double: x - max rounds to float (relative error |d| 2^-24
// after exp), exp 2 ulp, sum in double, one scale: (4 + |d|) * 2^-23 relative.
TEST_P(VecPaths, SoftmaxMatchesDouble) {
  for (int64_t n : kSizes) {
    for (float scale : {1.0f, 30.0f}) {
      auto x = random_vec(size_t(n) + 1, uint32_t(n), scale);
      x[size_t(n)] = kGuard;
      if (n > 3) x[2] = -INFINITY;  // a masked position
      const std::vector<float> x0 = x;
      k().softmax(x.data(), n);
      double mx = -INFINITY, sum = 0;
      for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(x0[size_t(i)]));
      for (int64_t i = 0; i < n; ++i) sum += std::exp(double(x0[size_t(i)]) - mx);
      for (int64_t i = 0; i < n; ++i) {
        const double d = double(x0[size_t(i)]) - mx;
        const double want = std::exp(d) / sum;
        if (std::isinf(d)) {
          ASSERT_EQ(x[size_t(i)], 0.0f);
          continue;
        }
        ASSERT_NEAR(x[size_t(i)], want, (4 + std::fabs(d)) * kEps32 * want + 1e-37)
            << isa_name(GetParam()) << " n=" << n << " i=" << i;
      }
      EXPECT_EQ(x[size_t(n)], kGuard);
    }
  }
}

// |float dot - exact| <= n * 2^-24 * sum |a b| for any summation order; 2x allowed.
TEST_P(VecPaths, DotWithinSummationBound) {
  for (int64_t n : kSizes) {
    const auto a = random_vec(size_t(n) + 1, uint32_t(n), 3.0f);
    const auto b = random_vec(size_t(n) + 1, uint32_t(n + 99), 3.0f);
    double exact = 0, abs_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      exact += double(a[size_t(i + 1)]) * double(b[size_t(i + 1)]);
      abs_sum += std::fabs(double(a[size_t(i + 1)]) * double(b[size_t(i + 1)]));
    }
    const float got = k().dot(a.data() + 1, b.data() + 1, n);
    ASSERT_NEAR(got, exact, 2.0 * double(n) * std::ldexp(1.0, -24) * abs_sum + 1e-30) << "n=" << n;
  }
  EXPECT_EQ(k().dot(nullptr, nullptr, 0), 0.0f);
}

// At most two roundings (product, sum) per element: 2 * 2^-24 * (|y| + |alpha x|).
TEST_P(VecPaths, AxpyWithinTwoRoundings) {
  for (int64_t n : kSizes) {
    const auto x = random_vec(size_t(n), uint32_t(n), 2.0f);
    auto y = random_vec(size_t(n) + 1, uint32_t(n + 5), 2.0f);
    y[size_t(n)] = kGuard;
    const std::vector<float> y0 = y;
    const float alpha = -0.37f;
    k().axpy(alpha, x.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double ax = double(alpha) * double(x[size_t(i)]);
      const double exact = double(y0[size_t(i)]) + ax;
      ASSERT_NEAR(
          y[size_t(i)], exact,
          2.0 * std::ldexp(1.0, -24) * (std::fabs(double(y0[size_t(i)])) + std::fabs(ax)) + 1e-30);
    }
    EXPECT_EQ(y[size_t(n)], kGuard);
  }
}

}  // namespace
}  // namespace lieq

namespace lieq {
namespace {

// Each term exp(x - max) is within 2 ulp of the reference's double exp of the
// same float difference, so the log of the double sum is within 2 * 2^-23
// (absolute) of the reference's; 2e-7 allowed (plus rounding of |result|).
TEST_P(VecPaths, LogSumExpMatchesReference) {
  for (int64_t n : kSizes) {
    for (float scale : {1.0f, 40.0f}) {
      auto x = random_vec(size_t(n), uint32_t(n), scale);
      if (n > 5) x[3] = -INFINITY;
      const double got = k().log_sum_exp(x.data(), n);
      const double want = ref().log_sum_exp(x.data(), n);
      ASSERT_NEAR(got, want, 2e-7 + 1e-15 * std::fabs(want)) << "n=" << n << " scale=" << scale;
    }
  }
  const float one[] = {-3.5f};
  EXPECT_DOUBLE_EQ(k().log_sum_exp(one, 1), -3.5);
}

}  // namespace
}  // namespace lieq
