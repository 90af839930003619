// kernels/linalg: each kernel against an independent reference on sizes
// around the 128-row Cholesky/inverse block and the 64-column chunk, with a
// one-thread pool and a pool of several threads (the tiles and chunks differ).
//
// Tolerances, with u = 2^-24 (float32 unit roundoff), in Frobenius norms
// relative to the reference's norm, for A = G G^T / n + I (G [n, n] standard
// normal), whose eigenvalues lie in about [1, 5] (Marchenko-Pastur), so
// kappa(A) <= 5 and kappa(L) <= sqrt(5). The worst-case bounds grow like
// n u (Cholesky: L L^T = A + dA, ||dA|| <= c n u ||A||, Higham Thm 10.3;
// triangular inverse: |L X - I| <= c n u |L| |X|, Higham ch. 14), rounding
// errors of random sign like sqrt(n) u (Higham sec. 2.8); forward errors are
// that times kappa. The tests take sqrt(n) u x kappa(A) x 2:
//   - Cholesky: ||L - L_ref|| <= 10 sqrt(n) u ||L_ref||, against
//     LAPACKE_dpotrf in double on the same float input;
//   - inverse: ||X - X_ref|| <= 10 sqrt(n) u ||X_ref|| against LAPACKE_dtrtri
//     in double, and the residual, normwise: max|L X - I| <= 10 sqrt(n) u
//     max(|L| |X|), products in double;
//   - factor_flipped (a Cholesky, then an inverse): 20 sqrt(n) u against
//     J L^-1 J from dpotrf + dtrtri in double.
// Measured: at most 0.81 sqrt(n) u (and 1.6 u), 12x or more below. Broken
// blocking is far above (n = 257): one column of a 64-column inverse chunk
// left out, 3e-4; one tile of a trailing Cholesky update left out, 4e-2.
// reverse_both and permute_symmetric move values only: exact equality.
#include <gtest/gtest.h>

#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/linalg.h"
#include "test_support.h"
#include "util/thread_pool.h"

namespace lieq {
namespace {

using testing::normal_matrix;

constexpr double kU = 0x1p-24;  // float32 unit roundoff
const int64_t kSizes[] = {1, 2, 7, 63, 64, 65, 127, 128, 129, 257, 300};

// One thread (every parallel_for runs whole on the caller) and several
// (LIEQ_THREADS or the hardware's, at least 4, so that work is split).
std::vector<ThreadPool*> pools() {
  static ThreadPool one(1);
  static ThreadPool many(std::max(4, default_thread_count()));
  return {&one, &many};
}

// A = G G^T / n + I, symmetric, [n, n] float.
std::vector<float> random_spd(int64_t n, uint32_t seed) {
  const std::vector<float> g = normal_matrix(n, n, seed);
  std::vector<float> a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0;
      for (int64_t k = 0; k < n; ++k)
        s += double(g[size_t(i * n + k)]) * double(g[size_t(j * n + k)]);
      const float v = float(s / double(n) + (i == j ? 1.0 : 0.0));
      a[size_t(i * n + j)] = v;
      a[size_t(j * n + i)] = v;
    }
  return a;
}

std::vector<double> to_double(const std::vector<float>& a) {
  return {a.begin(), a.end()};
}

// Lower factor of a in double (LAPACKE_dpotrf, row-major), strict upper zero.
std::vector<double> cholesky_ref(const std::vector<float>& a, int64_t n) {
  std::vector<double> l = to_double(a);
  EXPECT_EQ(LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', int(n), l.data(), int(n)), 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) l[size_t(i * n + j)] = 0;
  return l;
}

// In place l := l^-1 in double (LAPACKE_dtrtri, row-major lower).
void invert_ref(std::vector<double>& l, int64_t n) {
  EXPECT_EQ(LAPACKE_dtrtri(LAPACK_ROW_MAJOR, 'L', 'N', int(n), l.data(), int(n)), 0);
}

// ||x - ref||_F / ||ref||_F over the lower triangle (lower) or everything.
double rel_error(const float* x, const std::vector<double>& ref, int64_t n, bool lower) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < (lower ? i + 1 : n); ++j) {
      const double r = ref[size_t(i * n + j)], d = double(x[i * n + j]) - r;
      num += d * d;
      den += r * r;
    }
  return std::sqrt(num / den);
}

// A lower triangular float matrix (zero strict upper) from a Cholesky factor.
std::vector<float> lower_of(const std::vector<double>& l) {
  return {l.begin(), l.end()};
}

// ------------------------------------------------------------------- SYRK

// Tolerance as in gemm_test: 1e-6 * rows * max|x|^2 * alpha, plus beta's term.
TEST(Linalg, SyrkUpdateMatchesDoubleAndIsSymmetric) {
  uint32_t seed = 1;
  for (ThreadPool* pool : pools())
    for (int64_t n : kSizes)
      for (int64_t rows : {int64_t(1), int64_t(37), int64_t(200)}) {
        const std::vector<float> x = testing::random_vec(size_t(rows * n), seed++, 1.0f);
        std::vector<float> h = random_spd(n, seed++);
        const float alpha = 0.25f, beta = 0.5f;
        std::vector<double> ref(h.size());
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double s = 0;
            for (int64_t r = 0; r < rows; ++r)
              s += double(x[size_t(r * n + i)]) * double(x[size_t(r * n + j)]);
            ref[size_t(i * n + j)] = double(beta) * double(h[size_t(i * n + j)]) + alpha * s;
          }
        syrk_update(x.data(), rows, n, alpha, beta, h.data(), *pool);
        const double tol = 1e-6 * double(rows) * alpha + 1e-6 * beta * 6.0;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < n; ++j) {
            ASSERT_NEAR(h[size_t(i * n + j)], ref[size_t(i * n + j)], tol)
                << "n=" << n << " rows=" << rows << " threads=" << pool->size();
            ASSERT_EQ(h[size_t(i * n + j)], h[size_t(j * n + i)])
                << "n=" << n << " " << i << "," << j;
          }
      }
}

// --------------------------------------------------------------- Cholesky

TEST(Linalg, CholeskyMatchesDpotrfAndKeepsUpperTriangle) {
  uint32_t seed = 100;
  for (ThreadPool* pool : pools())
    for (int64_t n : kSizes) {
      std::vector<float> a = random_spd(n, seed++);
      const std::vector<double> ref = cholesky_ref(a, n);
      // A sentinel in the strict upper triangle, which must come back as is.
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j) a[size_t(i * n + j)] = float(i * n + j) + 0.5f;
      ASSERT_TRUE(cholesky_lower(a.data(), n, *pool));
      EXPECT_LE(rel_error(a.data(), ref, n, true), 10.0 * std::sqrt(double(n)) * kU)
          << "n=" << n << " threads=" << pool->size();
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j)
          ASSERT_EQ(a[size_t(i * n + j)], float(i * n + j) + 0.5f)
              << "n=" << n << " " << i << "," << j;
    }
}

// Not positive definite: diag entry k made negative, in the first block or a
// later one (after trailing updates ran). Cholesky and factor_flipped return
// false and leave the strict upper triangle bit for bit as it was.
TEST(Linalg, CholeskyFailsOnIndefiniteAndKeepsUpperTriangle) {
  uint32_t seed = 200;
  for (ThreadPool* pool : pools())
    for (int64_t n : kSizes)
      for (int64_t k : {int64_t(0), n / 2, n - 1}) {
        std::vector<float> a = random_spd(n, seed++);
        a[size_t(k * n + k)] = -1.0f;
        const std::vector<float> before = a;
        for (bool through_factor : {false, true}) {
          a = before;
          const bool ok = through_factor ? factor_flipped(a.data(), n, *pool)
                                         : cholesky_lower(a.data(), n, *pool);
          ASSERT_FALSE(ok) << "n=" << n << " k=" << k << " threads=" << pool->size();
          for (int64_t i = 0; i < n; ++i)
            for (int64_t j = i + 1; j < n; ++j)
              ASSERT_EQ(a[size_t(i * n + j)], before[size_t(i * n + j)])
                  << "n=" << n << " k=" << k << " " << i << "," << j;
        }
      }
}

// ------------------------------------------------------ triangular inverse

TEST(Linalg, InverseMatchesDtrtriAndResidualIsSmall) {
  uint32_t seed = 300;
  for (ThreadPool* pool : pools())
    for (int64_t n : kSizes) {
      const std::vector<double> l_ref = cholesky_ref(random_spd(n, seed++), n);
      const std::vector<float> l = lower_of(l_ref);
      std::vector<double> x_ref = to_double(l);
      invert_ref(x_ref, n);
      std::vector<float> x = l;
      invert_lower_in_place(x.data(), n, *pool);
      const std::string at = "n=" + std::to_string(n) + " threads=" + std::to_string(pool->size());
      EXPECT_LE(rel_error(x.data(), x_ref, n, false), 10.0 * std::sqrt(double(n)) * kU) << at;
      double worst = 0, scale = 0;
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = i + 1; j < n; ++j) ASSERT_EQ(x[size_t(i * n + j)], 0.0f) << at;
        for (int64_t j = 0; j <= i; ++j) {
          double s = 0, sa = 0;
          for (int64_t k = j; k <= i; ++k) {
            const double p = double(l[size_t(i * n + k)]) * double(x[size_t(k * n + j)]);
            s += p;
            sa += std::fabs(p);
          }
          worst = std::max(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
          scale = std::max(scale, sa);
        }
      }
      EXPECT_LE(worst, 10.0 * std::sqrt(double(n)) * kU * scale) << at;
    }
}

TEST(Linalg, InverseThrowsOnZeroPivot) {
  std::vector<float> l = {1, 0, 0, 2, 0, 0, 3, 4, 5};  // [3, 3], l[1, 1] = 0
  EXPECT_ANY_THROW(invert_lower_in_place(l.data(), 3));
}

// --------------------------------------------------------- factor_flipped

// a = J H J in the lower triangle (the upper one garbage); U = J L^-1 J with
// J H J = L L^T, upper triangular with a zero strict lower triangle.
TEST(Linalg, FactorFlippedMatchesDoubleRoute) {
  uint32_t seed = 400;
  for (ThreadPool* pool : pools())
    for (int64_t n : kSizes) {
      const std::vector<float> h = random_spd(n, seed++);
      std::vector<float> b(h.size());
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
          b[size_t(i * n + j)] = j <= i ? h[size_t((n - 1 - i) * n + (n - 1 - j))] : 7.0f;
      std::vector<double> x = cholesky_ref(b, n);
      invert_ref(x, n);
      std::vector<double> u_ref(x.size());
      for (size_t k = 0; k < x.size(); ++k) u_ref[k] = x[x.size() - 1 - k];
      ASSERT_TRUE(factor_flipped(b.data(), n, *pool));
      EXPECT_LE(rel_error(b.data(), u_ref, n, false), 20.0 * std::sqrt(double(n)) * kU)
          << "n=" << n << " threads=" << pool->size();
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < i; ++j) ASSERT_EQ(b[size_t(i * n + j)], 0.0f) << "n=" << n;
    }
}

// ------------------------------------------------------------ permutations

TEST(Linalg, ReverseBothIsExact) {
  uint32_t seed = 500;
  for (ThreadPool* pool : pools())
    for (int64_t n :
         {int64_t(1), int64_t(2), int64_t(7), int64_t(128), int64_t(300), int64_t(513)}) {
      const std::vector<float> a = testing::random_vec(size_t(n * n), seed++);
      std::vector<float> r = a;
      reverse_both(r.data(), n, *pool);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
          ASSERT_EQ(r[size_t(i * n + j)], a[size_t((n - 1 - i) * n + (n - 1 - j))])
              << "n=" << n << " " << i << "," << j;
    }
}

// Permutations of 0 .. n-1 of every kind the cycle walk meets.
std::vector<std::vector<int64_t>> permutations(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> id(static_cast<size_t>(n));
  std::iota(id.begin(), id.end(), int64_t(0));
  std::vector<std::vector<int64_t>> out;
  out.push_back(id);                         // identity: reverse_both
  out.emplace_back(id.rbegin(), id.rend());  // reversal: q = identity
  std::vector<int64_t> shift(id.size());     // one n-cycle i -> i + 1
  for (int64_t i = 0; i < n; ++i) shift[size_t(i)] = (i + 1) % n;
  out.push_back(shift);
  std::vector<int64_t> order = id, cycle(id.size());  // one random n-cycle
  std::shuffle(order.begin(), order.end(), rng);
  for (int64_t i = 0; i < n; ++i) cycle[size_t(order[size_t(i)])] = order[size_t((i + 1) % n)];
  out.push_back(cycle);
  std::vector<int64_t> shorts = id;  // cycles of length 2 and 3
  std::shuffle(order.begin(), order.end(), rng);
  for (int64_t i = 0; i + 1 < n;) {
    const int64_t len = std::min<int64_t>(i % 5 == 0 ? 3 : 2, n - i);
    for (int64_t c = 0; c < len; ++c)
      shorts[size_t(order[size_t(i + c)])] = order[size_t(i + (c + 1) % len)];
    i += len;
  }
  out.push_back(shorts);
  std::vector<int64_t> uniform = id;  // uniformly random
  std::shuffle(uniform.begin(), uniform.end(), rng);
  out.push_back(uniform);
  return out;
}

// permute_symmetric against out[i, j] = a[q_i, q_j], q_i = perm[n - 1 - i],
// built out of place. a is a general matrix, so a transposed move would show.
TEST(Linalg, PermuteSymmetricMatchesDefinition) {
  uint32_t seed = 600;
  for (ThreadPool* pool : pools())
    for (int64_t n : kSizes)
      for (const std::vector<int64_t>& perm : permutations(n, seed++)) {
        const std::vector<float> a = testing::random_vec(size_t(n * n), seed++);
        std::vector<float> ref(a.size());
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < n; ++j)
            ref[size_t(i * n + j)] =
                a[size_t(perm[size_t(n - 1 - i)] * n + perm[size_t(n - 1 - j)])];
        std::vector<float> p = a;
        permute_symmetric(p.data(), n, perm.data(), *pool);
        ASSERT_EQ(p, ref) << "n=" << n << " threads=" << pool->size();
      }
}

}  // namespace
}  // namespace lieq
