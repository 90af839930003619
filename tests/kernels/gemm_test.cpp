// matmul_nt (OpenBLAS) against the double-accumulating reference and a plain
// double loop, on odd sizes; sgemm with every transpose combination, padded
// leading dimensions, alpha and beta.
//
// Tolerance: a float32 dot product of length k has error at most about
// k * 2^-24 * sum|x_l * w_l| <= k * 6e-8 * max|x| * max|w| (blocked and FMA
// summation do better). The tests allow 1e-6 * k * max|x| * max|w| + 1e-6:
// ~16x that bound, so rounding never fails them, while a wrong element,
// stride or transpose (errors of order max|x| * max|w|) always does.
#include <gtest/gtest.h>

#include "test_support.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/gemm.h"

namespace lieq {
namespace {

using testing::random_vec;

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

double tolerance(int64_t k, float max_x, float max_w) {
  return 1e-6 * double(k) * double(max_x) * double(max_w) + 1e-6;
}

TEST(MatmulNt, MatchesReferenceOnOddSizes) {
  const int64_t sizes[] = {1, 3, 17, 33, 65, 127};
  uint32_t seed = 1;
  for (int64_t m : sizes)
    for (int64_t n : sizes)
      for (int64_t k : sizes) {
        const auto x = random_vec(size_t(m * k), seed++, 2.0f);
        const auto w = random_vec(size_t(n * k), seed++, 0.5f);
        std::vector<float> y(size_t(m * n), NAN), ref(size_t(m * n), NAN);
        matmul_nt(x.data(), w.data(), y.data(), m, n, k);
        matmul_nt_ref(x.data(), w.data(), ref.data(), m, n, k);
        const double tol = tolerance(k, max_abs(x), max_abs(w));
        double worst = 0;
        for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, double(std::fabs(y[i] - ref[i])));
        ASSERT_LE(worst, tol) << "m=" << m << " n=" << n << " k=" << k;
        ASSERT_FALSE(std::isnan(worst));
      }
}

// Products large enough to be split across threads, by rows (m > n) and by
// columns (n >= m), with and without accumulation.
TEST(MatmulNt, ParallelSplitsMatchReference) {
  const int64_t shapes[][3] = {{1001, 40, 65}, {517, 300, 33}, {40, 1001, 65}, {300, 300, 31}};
  uint32_t seed = 7;
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    const auto x = random_vec(size_t(m * k), seed++, 2.0f);
    const auto w = random_vec(size_t(n * k), seed++, 0.5f);
    const auto y0 = random_vec(size_t(m * n), seed++, 1.0f);
    for (bool acc : {false, true}) {
      std::vector<float> y = y0, ref = y0;
      matmul_nt(x.data(), w.data(), y.data(), m, n, k, acc);
      matmul_nt_ref(x.data(), w.data(), ref.data(), m, n, k, acc);
      const double tol = tolerance(k, max_abs(x), max_abs(w)) + (acc ? 1e-6 : 0.0);
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], ref[i], tol) << "m=" << m << " n=" << n << " k=" << k << " i=" << i;
    }
  }
}

TEST(MatmulNt, ReferenceMatchesPlainDoubleLoop) {
  // The reference itself, against y[i][j] = sum_l x[i][l] * w[j][l] in double.
  const int64_t m = 5, n = 7, k = 33;
  const auto x = random_vec(size_t(m * k), 11), w = random_vec(size_t(n * k), 12);
  std::vector<float> ref(size_t(m * n));
  matmul_nt_ref(x.data(), w.data(), ref.data(), m, n, k);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t l = 0; l < k; ++l) s += double(x[size_t(i * k + l)]) * double(w[size_t(j * k + l)]);
      EXPECT_EQ(ref[size_t(i * n + j)], float(s));
    }
}

TEST(MatmulNt, SmallExactExample) {
  // x = [[1, 2], [3, 4], [5, 6]], w = [[1, 0], [0, 1], [1, 1], [2, -1]] -> y = x w^T.
  const float x[] = {1, 2, 3, 4, 5, 6};
  const float w[] = {1, 0, 0, 1, 1, 1, 2, -1};
  float y[12];
  matmul_nt(x, w, y, 3, 4, 2);
  const float want[] = {1, 2, 3, 0, 3, 4, 7, 2, 5, 6, 11, 4};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(y[i], want[i]) << i;
}

TEST(MatmulNt, Accumulate) {
  const int64_t m = 17, n = 33, k = 65;
  const auto x = random_vec(size_t(m * k), 3), w = random_vec(size_t(n * k), 4);
  const auto y0 = random_vec(size_t(m * n), 5);
  std::vector<float> y = y0, ref = y0;
  matmul_nt(x.data(), w.data(), y.data(), m, n, k, /*accumulate=*/true);
  matmul_nt_ref(x.data(), w.data(), ref.data(), m, n, k, /*accumulate=*/true);
  const double tol = tolerance(k, 1, 1) + 1e-6;
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], tol) << i;
  // And it really added: the difference to the non-accumulated product is y0.
  std::vector<float> plain(y.size());
  matmul_nt(x.data(), w.data(), plain.data(), m, n, k);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i] - plain[i], y0[i], 1e-5) << i;
}

TEST(MatmulNt, EmptyDimensions) {
  // k = 0: the product is all zeros (or y unchanged when accumulating).
  std::vector<float> y(6, 7.0f);
  const float dummy = 1;
  matmul_nt(&dummy, &dummy, y.data(), 2, 3, 0);
  for (float v : y) EXPECT_EQ(v, 0.0f);
  std::fill(y.begin(), y.end(), 7.0f);
  matmul_nt(&dummy, &dummy, y.data(), 2, 3, 0, /*accumulate=*/true);
  for (float v : y) EXPECT_EQ(v, 7.0f);
  // m = 0 or n = 0: nothing is written.
  matmul_nt(&dummy, &dummy, y.data(), 0, 3, 4);
  matmul_nt(&dummy, &dummy, y.data(), 2, 0, 4);
  for (float v : y) EXPECT_EQ(v, 7.0f);
}

// C = alpha * op(A) * op(B) + beta * C in double, row-major with leading dims.
void sgemm_double(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                  const std::vector<float>& a, int64_t lda, const std::vector<float>& b,
                  int64_t ldb, float beta, std::vector<float>& c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t l = 0; l < k; ++l) {
        const double av = ta ? a[size_t(l * lda + i)] : a[size_t(i * lda + l)];
        const double bv = tb ? b[size_t(j * ldb + l)] : b[size_t(l * ldb + j)];
        s += av * bv;
      }
      float& cv = c[size_t(i * ldc + j)];
      cv = float(double(alpha) * s + double(beta) * double(cv));
    }
}

TEST(Sgemm, AllTransposesWithPaddedLeadingDims) {
  uint32_t seed = 100;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t m : {1, 3, 17, 33})
        for (int64_t n : {1, 5, 31})
          for (int64_t k : {1, 7, 65}) {
            const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
            const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
            const int64_t lda = a_cols + 3, ldb = b_cols + 2, ldc = n + 5;
            const auto a = random_vec(size_t(a_rows * lda), seed++);
            const auto b = random_vec(size_t(b_rows * ldb), seed++);
            const auto c0 = random_vec(size_t(m * ldc), seed++);
            std::vector<float> c = c0, ref = c0;
            const float alpha = 0.75f, beta = -0.5f;
            sgemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
            sgemm_double(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc);
            const double tol = tolerance(k, 1, 1) + 1e-6;
            for (int64_t i = 0; i < m; ++i) {
              for (int64_t j = 0; j < ldc; ++j) {
                const size_t idx = size_t(i * ldc + j);
                if (j < n)
                  ASSERT_NEAR(c[idx], ref[idx], tol)
                      << "ta=" << ta << " tb=" << tb << " m=" << m << " n=" << n << " k=" << k
                      << " i=" << i << " j=" << j;
                else
                  ASSERT_EQ(c[idx], c0[idx]) << "padding of C was written";
              }
            }
          }
}

TEST(Sgemm, BetaZeroIgnoresNanInC) {
  // beta = 0 must overwrite C (BLAS semantics), even when C holds NaN.
  const float a[] = {1, 2, 3, 4};  // 2x2
  const float b[] = {1, 0, 0, 1};  // identity
  float c[] = {NAN, NAN, NAN, NAN};
  sgemm(false, false, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c[i], a[i]);
}

TEST(Blas, SetThreadsReturnsPrevious) {
  const int prev = blas_set_threads(0);  // query only
  EXPECT_GE(prev, 1);
  EXPECT_EQ(blas_set_threads(1), prev);
  EXPECT_EQ(blas_set_threads(prev), 1);
  EXPECT_EQ(blas_set_threads(0), prev);
}

}  // namespace
}  // namespace lieq
