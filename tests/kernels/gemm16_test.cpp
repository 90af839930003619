// matmul_nt_16 (kernels/gemm16.h): every direct-kernel path this CPU has and
// the convert + sgemm strategy, against the double-precision reference on odd
// sizes (k, n not multiples of 8/16/32), both 16-bit types, with and without
// accumulation. Tolerances are the bounds stated in kernels/gemm16.h, with
// S = sum_l |x w| per output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/gemm16.h"
#include "kernels/gemm16_kernels.h"
#include "test_support.h"
#include "util/half.h"

namespace lieq {
namespace {

using testing::random_vec;

constexpr double kU = 1.0 / (1 << 24);  // float unit roundoff
constexpr float kGuard = -12345.0f;

const int64_t kKs[] = {1, 7, 16, 33, 257};
const int64_t kNs[] = {1, 3, 17};
const int64_t kMs[] = {1, 2, 3, 5, 64, 130};

// A [rows, cols] matrix of type dt from uniform values in [-1, 1].
std::vector<uint16_t> random_w16(int64_t rows, int64_t cols, Dtype16 dt, uint32_t seed) {
  const std::vector<float> f = random_vec(size_t(rows * cols), seed);
  std::vector<uint16_t> w(f.size());
  for (size_t i = 0; i < f.size(); ++i)
    w[i] = dt == Dtype16::kBf16 ? f32_to_bf16(f[i]) : f32_to_f16(f[i]);
  return w;
}

// Exact products and S = sum |x w| per output, in double.
struct Reference {
  std::vector<double> y, s;  // [m, n]
};
Reference reference(const std::vector<float>& x, const std::vector<uint16_t>& w, Dtype16 dt,
                    int64_t m, int64_t n, int64_t k) {
  Reference r;
  r.y.assign(size_t(m * n), 0.0);
  r.s.assign(size_t(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t l = 0; l < k; ++l) {
        const uint16_t h = w[size_t(j * k + l)];
        const double p = double(x[size_t(i * k + l)]) *
                         double(dt == Dtype16::kBf16 ? bf16_to_f32(h) : f16_to_f32(h));
        r.y[size_t(i * n + j)] += p;
        r.s[size_t(i * n + j)] += std::fabs(p);
      }
  return r;
}

// Relative (to S) error bound of a direct path (kernels/gemm16.h).
double direct_bound(Gemm16Path p, Dtype16 dt, int64_t k) {
  switch (p) {
    case Gemm16Path::kScalar:
      return kU;
    case Gemm16Path::kAvx2:
    case Gemm16Path::kAvx512:
      return double(k / 8 + 8) * kU;
    case Gemm16Path::kAvx512Bf16:
      return dt == Dtype16::kBf16 ? 1.0 / (1 << 16) + double(k / 16 + 8) * kU
                                  : double(k / 8 + 8) * kU;
  }
  return 0;
}
// sgemm on converted panels: any summation order, k roundings.
double panel_bound(int64_t k) { return double(k + 2) * kU; }

// y (row stride ldy, guard columns past n) against y0 (+) reference; returns
// the largest |error| / S seen.
double expect_close(const std::vector<float>& y, const std::vector<float>& y0, int64_t ldy,
                  const Reference& ref, int64_t m, int64_t n, bool accumulate, double rel,
                  const std::string& what) {
  int bad = 0;
  double worst = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < ldy; ++j) {
      const size_t o = size_t(i * ldy + j);
      if (j >= n) {
        EXPECT_EQ(y[o], kGuard) << what << " wrote guard column " << j;
        continue;
      }
      const size_t r = size_t(i * n + j);
      const double base = accumulate ? double(y0[o]) : 0.0;
      const double want = base + ref.y[r];
      const double tol = rel * ref.s[r] + 2 * kU * (std::fabs(want) + std::fabs(base)) + 1e-30;
      const double err = std::fabs(double(y[o]) - want);
      if (!accumulate && ref.s[r] > 0) worst = std::max(worst, err / ref.s[r]);
      if (err > tol && bad++ < 3)
        ADD_FAILURE() << what << " y[" << i << ", " << j << "] = " << y[o] << ", want " << want
                      << " (tol " << tol << ")";
    }
  }
  return worst;
}

class Gemm16Paths : public ::testing::TestWithParam<Gemm16Path> {
 protected:
  const Gemm16Kernels& kern() const { return gemm16_kernels(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Path, Gemm16Paths, ::testing::ValuesIn(gemm16_supported_paths()),
                         [](const ::testing::TestParamInfo<Gemm16Path>& i) {
                           return std::string(gemm16_path_name(i.param));
                         });

TEST(Gemm16, PathsOnThisCpu) {
  EXPECT_TRUE(gemm16_path_supported(gemm16_active_path()));
  EXPECT_EQ(gemm16_kernels(gemm16_active_path()).path, gemm16_active_path());
  std::printf("[          ] matmul_nt_16 paths:");
  for (Gemm16Path p : gemm16_supported_paths()) std::printf(" %s", gemm16_path_name(p));
  std::printf("; active %s\n", gemm16_path_name(gemm16_active_path()));
}

// The direct kernel on its own, every m (row groups of 4 and their tails),
// writing into rows of stride n + 3 whose last 3 columns must stay untouched.
TEST_P(Gemm16Paths, DirectKernelMatchesReference) {
  double worst[2] = {0, 0};  // max |error| / S by dtype
  for (Dtype16 dt : {Dtype16::kBf16, Dtype16::kF16}) {
    for (int64_t k : kKs) {
      for (int64_t n : kNs) {
        const std::vector<uint16_t> w = random_w16(n, k, dt, uint32_t(7 * k + n));
        for (int64_t m : kMs) {
          const std::vector<float> x = random_vec(size_t(m * k), uint32_t(11 * m + k));
          const Reference ref = reference(x, w, dt, m, n, k);
          const int64_t ldy = n + 3;
          std::vector<float> xp(size_t(kern().prepared_floats(m, k)));
          kern().prepare(x.data(), m, k, xp.data());
          for (bool acc : {false, true}) {
            std::vector<float> y0 = random_vec(size_t(m * ldy), uint32_t(m + n));
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = n; j < ldy; ++j) y0[size_t(i * ldy + j)] = kGuard;
            std::vector<float> y = y0;
            kern().dot_rows(x.data(), xp.data(), m, w.data(), dt, n, k, y.data(), ldy, acc);
            const double e =
                expect_close(y, y0, ldy, ref, m, n, acc, direct_bound(GetParam(), dt, k),
                         std::string(dtype16_name(dt)) + " m=" + std::to_string(m) +
                             " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                             (acc ? " accumulate" : ""));
            worst[int(dt)] = std::max(worst[int(dt)], e);
          }
        }
      }
    }
  }
  std::printf("[          ] %s: max |error| / sum |x w|: BF16 %.3g, F16 %.3g\n",
              gemm16_path_name(GetParam()), worst[0], worst[1]);
}

// The whole product: direct kernels up to kGemm16DirectMaxRows rows, panels
// above; the larger shapes split over the pool (by rows of x, by panels of
// W), and W in several 4 MB panels.
TEST_P(Gemm16Paths, ProductMatchesReference) {
  struct Shape {
    int64_t m, n, k;
  };
  std::vector<Shape> shapes;
  for (int64_t k : kKs)
    for (int64_t n : kNs)
      for (int64_t m : kMs) shapes.push_back({m, n, k});
  shapes.push_back({1, 1000, 301});    // direct, split over W rows
  shapes.push_back({3, 97, 2049});     // direct, split, long rows
  shapes.push_back({21, 200, 300});    // direct, split, 6 groups of x rows
  shapes.push_back({130, 64, 100});    // panels, split over rows of x
  shapes.push_back({64, 300, 257});    // panels, split over W
  shapes.push_back({33, 17, 32771});   // panels of at most 4 MB: 16 + 1 rows
  for (Dtype16 dt : {Dtype16::kBf16, Dtype16::kF16}) {
    for (const Shape& s : shapes) {
      const std::vector<uint16_t> w = random_w16(s.n, s.k, dt, uint32_t(3 * s.k + s.n));
      const std::vector<float> x = random_vec(size_t(s.m * s.k), uint32_t(5 * s.m + s.k));
      const Reference ref = reference(x, w, dt, s.m, s.n, s.k);
      const double rel = s.m <= kGemm16DirectMaxRows ? direct_bound(GetParam(), dt, s.k)
                                                     : panel_bound(s.k);
      for (bool acc : {false, true}) {
        const std::vector<float> y0 = random_vec(size_t(s.m * s.n), uint32_t(s.m + s.n));
        std::vector<float> y = y0;
        matmul_nt_16_with(kern(), kGemm16DirectMaxRows, x.data(), w.data(), dt, y.data(), s.m,
                          s.n, s.k, acc);
        expect_close(y, y0, s.n, ref, s.m, s.n, acc, rel,
                     std::string(dtype16_name(dt)) + " m=" + std::to_string(s.m) +
                         " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) +
                         (acc ? " accumulate" : ""));
      }
    }
  }
}

// The public entry point (active path) and the scalar reference function.
TEST(Gemm16, ActivePathAndReferenceFunction) {
  const int64_t m = 3, n = 37, k = 131;
  for (Dtype16 dt : {Dtype16::kBf16, Dtype16::kF16}) {
    const std::vector<uint16_t> w = random_w16(n, k, dt, 1);
    const std::vector<float> x = random_vec(size_t(m * k), 2);
    const Reference ref = reference(x, w, dt, m, n, k);
    std::vector<float> y(size_t(m * n), 0.0f), y_ref(size_t(m * n), 0.0f);
    matmul_nt_16(x.data(), w.data(), dt, y.data(), m, n, k);
    matmul_nt_16_ref(x.data(), w.data(), dt, y_ref.data(), m, n, k);
    expect_close(y, y, n, ref, m, n, false, direct_bound(gemm16_active_path(), dt, k), "active");
    expect_close(y_ref, y_ref, n, ref, m, n, false, kU, "reference");
  }
}

}  // namespace
}  // namespace lieq
