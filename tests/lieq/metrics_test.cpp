// Layer diagnostics on constructed inputs: Gram accumulation against a double
// loop (with and without per-row centring and normalisation, in one call or
// many), eigenvalues, spectral entropy and compactness of known spectra
// (rank one = 1, flat = 1/n, falling with rank), top-k energy, LIM, ZD and
// min-max normalisation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "expect_error.h"
#include "lieq/metrics.h"

namespace lieq {
namespace {

std::vector<float> random_rows(int64_t rows, int64_t dim, uint64_t seed, float offset = 0.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> z(static_cast<size_t>(rows * dim));
  for (float& v : z) v = n(rng) + offset;
  return z;
}

// G = sum_t z_t z_t^T by a plain double loop, rows centred and normalised when asked.
std::vector<double> reference_gram(const std::vector<float>& z, int64_t rows, int64_t dim, bool normalise,
                                   int64_t* kept = nullptr) {
  std::vector<double> g(static_cast<size_t>(dim * dim), 0.0);
  std::vector<double> row(static_cast<size_t>(dim));
  int64_t n = 0;
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t c = 0; c < dim; ++c) row[size_t(c)] = double(z[size_t(t * dim + c)]);
    if (normalise) {
      double mean = 0;
      for (double v : row) mean += v;
      mean /= double(dim);
      double ss = 0;
      for (double& v : row) {
        v -= mean;
        ss += v * v;
      }
      if (ss == 0) continue;
      for (double& v : row) v /= std::sqrt(ss);
    }
    ++n;
    for (int64_t i = 0; i < dim; ++i)
      for (int64_t j = 0; j < dim; ++j) g[size_t(i * dim + j)] += row[size_t(i)] * row[size_t(j)];
  }
  if (kept) *kept = n;
  return g;
}

void expect_gram_near(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
  EXPECT_LE(worst, tol);
}

double rc_of(const GramAccumulator& acc) {
  return representational_compactness(symmetric_eigenvalues(acc.gram(), acc.dim()));
}

// ---------------------------------------------------------------------- Gram

TEST(GramAccumulator, MatchesDoubleLoopRaw) {
  for (const auto& [rows, dim] : {std::pair<int64_t, int64_t>{50, 7}, {1500, 300}, {3, 1}}) {
    const std::vector<float> z = random_rows(rows, dim, uint64_t(rows * 31 + dim), 0.3f);
    GramAccumulator acc(dim, false);
    acc.add(z.data(), rows);
    EXPECT_EQ(acc.n_rows(), rows);
    EXPECT_EQ(acc.dim(), dim);
    expect_gram_near(acc.gram(), reference_gram(z, rows, dim, false), 1e-9 * double(rows));
  }
}

TEST(GramAccumulator, MatchesDoubleLoopNormalised) {
  for (const auto& [rows, dim] : {std::pair<int64_t, int64_t>{50, 7}, {2100, 300}}) {
    std::vector<float> z = random_rows(rows, dim, uint64_t(rows + dim), 2.0f);
    // Constant rows vanish after centring: skipped and not counted.
    for (int64_t c = 0; c < dim; ++c) {
      z[size_t(3 * dim + c)] = 1.5f;
      z[size_t(4 * dim + c)] = 0.0f;
    }
    GramAccumulator acc(dim, true);
    acc.add(z.data(), rows);
    int64_t kept = 0;
    const std::vector<double> want = reference_gram(z, rows, dim, true, &kept);
    EXPECT_EQ(kept, rows - 2);
    EXPECT_EQ(acc.n_rows(), rows - 2);
    expect_gram_near(acc.gram(), want, 1e-10 * double(rows));
    // Unit rows: the trace is the number of rows kept.
    double trace = 0;
    for (int64_t i = 0; i < dim; ++i) trace += acc.gram()[size_t(i * dim + i)];
    EXPECT_NEAR(trace, double(rows - 2), 1e-9 * double(rows));
  }
}

TEST(GramAccumulator, SeveralAddsEqualOne) {
  const int64_t rows = 2600, dim = 290;
  const std::vector<float> z = random_rows(rows, dim, 99);
  for (bool normalise : {false, true}) {
    GramAccumulator one(dim, normalise), many(dim, normalise);
    one.add(z.data(), rows);
    int64_t at = 0;
    for (int64_t n : {int64_t(1), int64_t(0), int64_t(500), int64_t(1100), int64_t(7)}) {
      many.add(z.data() + at * dim, n);
      at += n;
    }
    many.add(z.data() + at * dim, rows - at);
    EXPECT_EQ(many.n_rows(), one.n_rows());
    expect_gram_near(many.gram(), one.gram(), 1e-10 * double(rows));
    // Exactly symmetric.
    const std::vector<double>& g = many.gram();
    for (int64_t i = 0; i < dim; ++i)
      for (int64_t j = 0; j < i; ++j) ASSERT_EQ(g[size_t(i * dim + j)], g[size_t(j * dim + i)]);
  }
}

TEST(GramAccumulator, Errors) {
  EXPECT_LIEQ_ERROR(GramAccumulator(0, true), "dimension 0");
  GramAccumulator acc(3, false);
  const float bad[3] = {1.0f, NAN, 2.0f};
  EXPECT_LIEQ_ERROR(acc.add(bad, 1), "not finite");
  EXPECT_LIEQ_ERROR(acc.add(bad, -1), "negative row count");
  acc.add(nullptr, 0);
  EXPECT_EQ(acc.n_rows(), 0);
}

// ------------------------------------------------------------------- spectra

TEST(SpectralEigen, KnownMatrices) {
  std::vector<double> w = symmetric_eigenvalues({2, 1, 1, 2}, 2);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NEAR(w[0], 1.0, 1e-14);
  EXPECT_NEAR(w[1], 3.0, 1e-14);
  w = symmetric_eigenvalues({0, 1, 1, 0}, 2);  // genuinely negative: kept
  EXPECT_NEAR(w[0], -1.0, 1e-14);
  EXPECT_NEAR(w[1], 1.0, 1e-14);
  w = symmetric_eigenvalues({4, 0, 0, 0, 1, 0, 0, 0, 9}, 3);
  EXPECT_EQ(w, (std::vector<double>{1, 4, 9}));
  // Rank one: the zero eigenvalues come out as zero or tiny positive round-off.
  const std::vector<double> u{1, -2, 3, 0.5};
  std::vector<double> a(16);
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < 4; ++j) a[i * 4 + j] = u[i] * u[j];
  w = symmetric_eigenvalues(a, 4);
  EXPECT_NEAR(w[3], 14.25, 1e-12);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_GE(w[i], 0.0);
    EXPECT_LE(w[i], 1e-12);
  }
  EXPECT_LIEQ_ERROR(symmetric_eigenvalues({1, 2, 3}, 2), "3 values for a 2x2 matrix");
  EXPECT_LIEQ_ERROR(symmetric_eigenvalues({}, 0), "positive");
}

TEST(SpectralEntropy, KnownSpectra) {
  EXPECT_NEAR(spectral_entropy({1, 1}), std::log(2.0), 1e-15);
  EXPECT_EQ(spectral_entropy({5, 0, 0}), 0.0);
  EXPECT_NEAR(spectral_entropy({3, 1}), -(0.75 * std::log(0.75) + 0.25 * std::log(0.25)), 1e-15);
  EXPECT_NEAR(spectral_entropy({0, 2, 0, 2}), std::log(2.0), 1e-15);
  EXPECT_NEAR(spectral_entropy({1, 2, 3, 4}), spectral_entropy({4, 3, 2, 1}), 1e-15);
  // Scale-free.
  EXPECT_NEAR(spectral_entropy({1, 2, 7}), spectral_entropy({1e6, 2e6, 7e6}), 1e-14);
  EXPECT_NEAR(representational_compactness({0, 2, 0, 2}), 0.5, 1e-15);
  EXPECT_EQ(representational_compactness({0, 0, 7}), 1.0);
  for (int n : {1, 3, 16, 300}) {
    const std::vector<double> flat(static_cast<size_t>(n), 2.5);
    EXPECT_NEAR(representational_compactness(flat), 1.0 / n, 1e-12) << n;
  }
  // Round-off negatives count as zero; real negatives, empty or zero spectra are errors.
  EXPECT_NEAR(spectral_entropy({-1e-14, 1, 1}), std::log(2.0), 1e-15);
  EXPECT_LIEQ_ERROR(spectral_entropy({-0.5, 1, 1}), "negative eigenvalue");
  EXPECT_LIEQ_ERROR(spectral_entropy({}), "empty");
  EXPECT_LIEQ_ERROR(spectral_entropy({0, 0}), "all zero");
  EXPECT_LIEQ_ERROR(representational_compactness({0, NAN}), "not finite");
}

TEST(SpectralCompactness, RankOneIsMaximal) {
  // z_t = a_t u + b_t 1: after centring every row is +-(u - mean(u)), so the
  // normalised Gram has rank one.
  const int64_t dim = 24, rows = 200;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> u(static_cast<size_t>(dim));
  for (float& v : u) v = n(rng);
  std::vector<float> z(static_cast<size_t>(rows * dim));
  for (int64_t t = 0; t < rows; ++t) {
    // |a| >= 1 keeps float rounding of a u + b far below the signal.
    const float a = (t % 2 ? 1.0f : -1.0f) * (1.0f + std::fabs(n(rng))), b = n(rng);
    for (int64_t c = 0; c < dim; ++c) z[size_t(t * dim + c)] = a * u[size_t(c)] + b;
  }
  GramAccumulator acc(dim, true);
  acc.add(z.data(), rows);
  EXPECT_EQ(acc.n_rows(), rows);
  EXPECT_NEAR(rc_of(acc), 1.0, 1e-9);
  const std::vector<double> eig = symmetric_eigenvalues(acc.gram(), dim);
  EXPECT_NEAR(top_k_energy_share(eig, 1), 1.0, 1e-9);
}

TEST(SpectralCompactness, IdentityGramIsFlat) {
  // The unit vectors as raw rows: G = I, RC = 1 / dim.
  const int64_t dim = 40;
  std::vector<float> z(static_cast<size_t>(dim * dim), 0.0f);
  for (int64_t i = 0; i < dim; ++i) z[size_t(i * dim + i)] = 1.0f;
  GramAccumulator acc(dim, false);
  acc.add(z.data(), dim);
  EXPECT_EQ(acc.gram(), std::vector<double>(z.begin(), z.end()));
  EXPECT_NEAR(rc_of(acc), 1.0 / double(dim), 1e-12);
}

TEST(SpectralCompactness, FallsAsRankGrows) {
  const int64_t dim = 32, rows = 400;
  std::mt19937_64 rng(11);
  std::normal_distribution<float> n(0.0f, 1.0f);
  double previous = 2.0;
  for (int rank : {1, 2, 4, 8}) {
    std::vector<std::vector<float>> basis(static_cast<size_t>(rank), std::vector<float>(static_cast<size_t>(dim)));
    for (auto& b : basis)
      for (float& v : b) v = n(rng);
    std::vector<float> z(static_cast<size_t>(rows * dim), 0.0f);
    for (int64_t t = 0; t < rows; ++t)
      for (const auto& b : basis) {
        const float a = n(rng);
        for (int64_t c = 0; c < dim; ++c) z[size_t(t * dim + c)] += a * b[size_t(c)];
      }
    GramAccumulator acc(dim, true);
    acc.add(z.data(), rows);
    const double rc = rc_of(acc);
    EXPECT_LT(rc, previous) << "rank " << rank;
    EXPECT_GE(rc, 1.0 / rank - 1e-9) << "rank " << rank;  // effective rank <= rank
    previous = rc;
  }
  // Full-rank isotropic noise: close to flat (dim - 1 directions after centring).
  const std::vector<float> noise = random_rows(20000, dim, 3);
  GramAccumulator acc(dim, true);
  acc.add(noise.data(), 20000);
  EXPECT_LT(rc_of(acc), 1.1 / double(dim - 1));
  EXPECT_GT(rc_of(acc), 1.0 / double(dim - 1) - 1e-9);
}

TEST(SpectralTopK, KnownSpectra) {
  const std::vector<double> eig{2, 4, 1, 3};
  EXPECT_DOUBLE_EQ(top_k_energy_share(eig, 1), 0.4);
  EXPECT_DOUBLE_EQ(top_k_energy_share(eig, 2), 0.7);
  EXPECT_DOUBLE_EQ(top_k_energy_share(eig, 3), 0.9);
  EXPECT_EQ(top_k_energy_share(eig, 4), 1.0);
  EXPECT_EQ(top_k_energy_share(eig, 100), 1.0);          // clamped to n
  EXPECT_DOUBLE_EQ(top_k_energy_share(eig, 0), 0.4);     // clamped to 1
  EXPECT_DOUBLE_EQ(top_k_energy_share(eig, -3), 0.4);
  EXPECT_DOUBLE_EQ(top_k_energy_share({1, 1, 1, 1, 0, 0, 0, 0}, 2), 0.5);
  EXPECT_LIEQ_ERROR(top_k_energy_share({0, 0, 0}, 1), "all zero");
  EXPECT_LIEQ_ERROR(top_k_energy_share({}, 1), "empty");
}

TEST(SpectralTopK, DefaultK) {
  EXPECT_EQ(default_energy_k(2560), 26);  // 25.6
  EXPECT_EQ(default_energy_k(4096), 41);
  EXPECT_EQ(default_energy_k(1000), 10);
  EXPECT_EQ(default_energy_k(850), 9);   // 8.5 rounds up
  EXPECT_EQ(default_energy_k(512), 8);   // at least 8
  EXPECT_EQ(default_energy_k(100), 8);
  EXPECT_EQ(default_energy_k(5), 5);     // at most the dimension
  EXPECT_LIEQ_ERROR(default_energy_k(0), "positive");
}

// ---------------------------------------------------------------- LIM and ZD

TEST(MetricLim, KnownAngles) {
  const int64_t rows = 5, dim = 16;
  const std::vector<float> x = random_rows(rows, dim, 17);
  EXPECT_EQ(lim_score(x.data(), x.data(), rows, dim), 0.0);
  std::vector<float> neg(x), scaled(x);
  for (float& v : neg) v = -v;
  for (float& v : scaled) v *= 4.0f;
  EXPECT_EQ(lim_score(x.data(), neg.data(), rows, dim), 2.0);
  EXPECT_EQ(lim_score(x.data(), scaled.data(), rows, dim), 0.0);
  // Orthogonal rows: (1, 1, 0, 0) and (1, -1, 3, 0); then one row at 60 degrees.
  const std::vector<float> a{1, 1, 0, 0, 1, 0, 0, 0}, b{1, -1, 3, 0, 0.5f, std::sqrt(0.75f), 0, 0};
  EXPECT_EQ(lim_score(a.data(), b.data(), 1, 4), 1.0);
  EXPECT_NEAR(lim_score(a.data() + 4, b.data() + 4, 1, 4), 0.5, 1e-7);
  EXPECT_NEAR(lim_score(a.data(), b.data(), 2, 4), 0.75, 1e-7);  // mean over rows
  EXPECT_LIEQ_ERROR(lim_score(a.data(), b.data(), 0, 4), "empty");
}

TEST(MetricZd, HandMadeMatrices) {
  // {0, 0, 0, 0, 10}: mean 2, population std 4; only 10 (z = 2) is beyond 1.
  const std::vector<float> m1{0, 0, 0, 0, 10};
  // Constant: std 0, no outliers, still counted.
  const std::vector<float> m2{3, 3, 3};
  // {-1, 1, -1, 1}: std 1, every |z| is exactly 1, not beyond.
  const std::vector<float> m3{-1, 1, -1, 1};
  // {-3, 0, 0, 0, 0, 0, 0, 0, 3}: std sqrt(2); -3 and 3 are beyond.
  const std::vector<float> m4{-3, 0, 0, 0, 0, 0, 0, 0, 3};
  EXPECT_DOUBLE_EQ(zd_score({&m1}), 0.2);
  EXPECT_EQ(zd_score({&m2}), 0.0);
  EXPECT_EQ(zd_score({&m3}), 0.0);
  EXPECT_DOUBLE_EQ(zd_score({&m4}), 2.0 / 9.0);
  EXPECT_DOUBLE_EQ(zd_score({&m1, &m2, &m3, &m4}), 3.0 / 21.0);
  // Each matrix uses its own mean and std: shifting one changes nothing.
  std::vector<float> shifted(m1);
  for (float& v : shifted) v += 100.0f;
  EXPECT_DOUBLE_EQ(zd_score({&shifted, &m2}), 1.0 / 8.0);
  EXPECT_LIEQ_ERROR(zd_score({}), "no weights");
  EXPECT_LIEQ_ERROR(zd_score({&m1, nullptr}), "matrix 1 is null");
}

TEST(MetricMinMax, Normalise) {
  EXPECT_EQ(min_max_normalise({3, 1, 2}), (std::vector<double>{1, 0, 0.5}));
  EXPECT_EQ(min_max_normalise({-2, -2, -2}), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(min_max_normalise({7}), (std::vector<double>{0}));
  EXPECT_TRUE(min_max_normalise({}).empty());
  std::mt19937_64 rng(1);
  std::normal_distribution<double> n(0.0, 5.0);
  std::vector<double> v(50);
  for (double& x : v) x = n(rng);
  const std::vector<double> w = min_max_normalise(v);
  EXPECT_EQ(*std::min_element(w.begin(), w.end()), 0.0);
  EXPECT_EQ(*std::max_element(w.begin(), w.end()), 1.0);
  for (size_t i = 0; i < v.size(); ++i)
    for (size_t j = 0; j < v.size(); ++j) {
      if (v[i] < v[j]) {
        ASSERT_LT(w[i], w[j]) << i << " " << j;
      }
    }
  EXPECT_LIEQ_ERROR(min_max_normalise({1, NAN}), "not finite");
}

TEST(MetricIdentityLayer, NoChangeScoresZero) {
  // A layer whose output equals its input: LIM 0 and Top-k Energy Gain 0.
  const int64_t rows = 300, dim = 64;
  const std::vector<float> x_in = random_rows(rows, dim, 23, 0.7f);
  const std::vector<float> x_out(x_in);
  EXPECT_EQ(lim_score(x_in.data(), x_out.data(), rows, dim), 0.0);
  for (bool normalise : {false, true}) {
    GramAccumulator gin(dim, normalise), gout(dim, normalise);
    gin.add(x_in.data(), rows);
    gout.add(x_out.data(), rows);
    const int64_t k = default_energy_k(dim);
    const double teg = top_k_energy_share(symmetric_eigenvalues(gout.gram(), dim), k) -
                       top_k_energy_share(symmetric_eigenvalues(gin.gram(), dim), k);
    EXPECT_EQ(teg, 0.0);
    EXPECT_EQ(rc_of(gout) - rc_of(gin), 0.0);
  }
  // A layer that does change its input gains energy in its top directions
  // when it adds a strong shared direction.
  std::vector<float> x_mix(x_in);
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t c = 0; c < dim; ++c) x_mix[size_t(t * dim + c)] += 5.0f * float(c % 2 ? 1 : -1);
  EXPECT_GT(lim_score(x_in.data(), x_mix.data(), rows, dim), 0.0);
  GramAccumulator gin(dim, true), gmix(dim, true);
  gin.add(x_in.data(), rows);
  gmix.add(x_mix.data(), rows);
  const int64_t k = default_energy_k(dim);
  EXPECT_GT(top_k_energy_share(symmetric_eigenvalues(gmix.gram(), dim), k),
            top_k_energy_share(symmetric_eigenvalues(gin.gram(), dim), k));
}

}  // namespace
}  // namespace lieq

namespace lieq {
namespace {
TEST(MetricRankNormalise, OrderOnlyAndTiesShareTheirMeanRank) {
  EXPECT_EQ(rank_normalise({}), std::vector<double>{});
  EXPECT_EQ(rank_normalise({5.0}), std::vector<double>{0.0});
  // An outlier does not squash the others as min-max does.
  const std::vector<double> v = {1000.0, 0.1, 0.3, 0.2};
  EXPECT_EQ(rank_normalise(v), (std::vector<double>{1.0, 0.0, 2.0 / 3.0, 1.0 / 3.0}));
  const auto mm = min_max_normalise(v);
  EXPECT_LT(mm[2], 0.001);
  // Ties: ranks 1 and 2 of 0..3 share 1.5.
  EXPECT_EQ(rank_normalise({0.0, 2.0, 2.0, 3.0}), (std::vector<double>{0.0, 0.5, 0.5, 1.0}));
}
}  // namespace
}  // namespace lieq
