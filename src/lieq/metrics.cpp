#include "lieq/metrics.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "util/error.h"
#include "util/thread_pool.h"

namespace lieq {

namespace {

// Rows per block handed to BLAS: the inner dimension of the Gram products.
// Large enough that the pass over G per block is cheap next to the flops.
constexpr int64_t kBlockRows = 1024;
// Side of the square tiles of G that threads update independently: smaller
// for smaller dimensions, so that there are enough tiles to share out.
int64_t tile_side(int64_t dim) { return dim >= 2048 ? 256 : 128; }

// Relative size below which a negative eigenvalue is round-off.
constexpr double kNegativeTolerance = 1e-9;

// Sum of the spectrum with tiny negatives (round-off) taken as 0; throws on
// non-finite values, an empty spectrum, clearly negative values or zero energy.
double spectrum_total(const std::vector<double>& eig, const char* what) {
  check(!eig.empty(), what, ": empty spectrum");
  double max_abs = 0, total = 0;
  for (double e : eig) {
    check(std::isfinite(e), what, ": eigenvalue is not finite (", e, ")");
    max_abs = std::max(max_abs, std::fabs(e));
  }
  for (double e : eig) {
    check(e >= -kNegativeTolerance * max_abs, what, ": negative eigenvalue ", e,
          " (the spectrum of a Gram matrix is non-negative)");
    if (e > 0) total += e;
  }
  check(total > 0, what, ": the spectrum is all zero (no energy)");
  return total;
}

}  // namespace

// ------------------------------------------------------------ GramAccumulator

GramAccumulator::GramAccumulator(int64_t dim, bool centre_and_normalise_rows)
    : dim_(dim), normalise_(centre_and_normalise_rows) {
  check(dim > 0, "Gram accumulator: dimension ", dim, " must be positive");
  check(dim <= std::numeric_limits<int>::max() / 2, "Gram accumulator: dimension ", dim, " too large");
  g_.assign(size_t(dim) * size_t(dim), 0.0);
}

void GramAccumulator::add(const float* z, int64_t rows) {
  check(rows >= 0, "Gram accumulator: negative row count ", rows);
  if (rows == 0) return;
  check(z != nullptr, "Gram accumulator: null rows");
  const int64_t d = dim_;
  const int64_t kTile = tile_side(d);
  const int64_t n_tiles = (d + kTile - 1) / kTile;
  // Upper-triangle tiles (i <= j) of G.
  std::vector<std::pair<int64_t, int64_t>> tiles;
  for (int64_t i = 0; i < n_tiles; ++i)
    for (int64_t j = i; j < n_tiles; ++j) tiles.emplace_back(i, j);
  ThreadPool& pool = ThreadPool::global();

  std::vector<double> block(size_t(std::min(rows, kBlockRows)) * size_t(d));
  double* g = g_.data();
  for (int64_t r0 = 0; r0 < rows; r0 += kBlockRows) {
    const int64_t nr = std::min(kBlockRows, rows - r0);
    // Rows in double (centred and normalised when asked); zero rows skipped.
    int64_t kept = 0;
    for (int64_t r = 0; r < nr; ++r) {
      const float* src = z + (r0 + r) * d;
      double* dst = block.data() + kept * d;
      double mean = 0;
      for (int64_t c = 0; c < d; ++c) {
        const double v = double(src[c]);
        check(std::isfinite(v), "Gram accumulator: row ", n_rows_ + r0 + r, " column ", c,
              " is not finite (", src[c], ")");
        dst[c] = v;
        mean += v;
      }
      if (normalise_) {
        mean /= double(d);
        double ss = 0;
        for (int64_t c = 0; c < d; ++c) {
          dst[c] -= mean;
          ss += dst[c] * dst[c];
        }
        if (!(ss > 0)) continue;  // constant row: no direction after centring
        const double inv = 1.0 / std::sqrt(ss);
        for (int64_t c = 0; c < d; ++c) dst[c] *= inv;
      }
      ++kept;
    }
    if (kept == 0) continue;
    // G[I, J] += Z[:, I]^T Z[:, J] for the upper tiles, in parallel.
    const double* zb = block.data();
    pool.parallel_for(0, int64_t(tiles.size()), 1, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t i0 = tiles[size_t(t)].first * kTile, j0 = tiles[size_t(t)].second * kTile;
        const int64_t ni = std::min(kTile, d - i0), nj = std::min(kTile, d - j0);
        if (i0 == j0)
          cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, int(ni), int(kept), 1.0, zb + i0, int(d), 1.0,
                      g + i0 * d + i0, int(d));
        else
          cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(ni), int(nj), int(kept), 1.0, zb + i0,
                      int(d), zb + j0, int(d), 1.0, g + i0 * d + j0, int(d));
      }
    });
    n_rows_ += kept;
  }
  // Mirror the upper triangle into the lower one, tile by tile.
  pool.parallel_for(0, int64_t(tiles.size()), 1, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t i0 = tiles[size_t(t)].first * kTile, j0 = tiles[size_t(t)].second * kTile;
      const int64_t i1 = std::min(i0 + kTile, d), j1 = std::min(j0 + kTile, d);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = std::max(j0, i + 1); j < j1; ++j) g[j * d + i] = g[i * d + j];
    }
  });
}

// ------------------------------------------------------------------- spectra

std::vector<double> symmetric_eigenvalues(const std::vector<double>& a, int64_t n) {
  check(n > 0, "eigenvalues: matrix size ", n, " must be positive");
  check(n <= std::numeric_limits<int>::max() / 2, "eigenvalues: matrix size ", n, " too large");
  check(a.size() == size_t(n) * size_t(n), "eigenvalues: ", a.size(), " values for a ", n, "x", n,
        " matrix");
  for (double v : a) check(std::isfinite(v), "eigenvalues: matrix has a non-finite entry (", v, ")");
  std::vector<double> m(a);
  std::vector<double> w(static_cast<size_t>(n));
  const lapack_int info =
      LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', lapack_int(n), m.data(), lapack_int(n), w.data());
  check(info == 0, "eigenvalues: LAPACKE_dsyevd failed (info ", info, ") on a ", n, "x", n, " matrix");
  double max_abs = 0;
  for (double v : w) max_abs = std::max(max_abs, std::fabs(v));
  // Round-off of a positive semi-definite matrix's zero eigenvalues: clamp.
  const double tol = kNegativeTolerance * max_abs;
  for (double& v : w)
    if (v < 0 && v >= -tol) v = 0;
  return w;
}

double spectral_entropy(const std::vector<double>& eig) {
  const double total = spectrum_total(eig, "spectral entropy");
  double h = 0;
  for (double e : eig) {
    if (!(e > 0)) continue;  // 0 log 0 = 0 (and round-off negatives count as 0)
    const double p = e / total;
    h -= p * std::log(p);
  }
  return std::max(h, 0.0);
}

double representational_compactness(const std::vector<double>& eig) {
  return std::exp(-spectral_entropy(eig));
}

double top_k_energy_share(const std::vector<double>& eig, int64_t k) {
  const double total = spectrum_total(eig, "top-k energy share");
  const int64_t n = int64_t(eig.size());
  k = std::clamp<int64_t>(k, 1, n);
  std::vector<double> s(eig);
  for (double& v : s) v = std::max(v, 0.0);
  std::partial_sort(s.begin(), s.begin() + k, s.end(), std::greater<double>());
  double top = 0;
  for (int64_t i = 0; i < k; ++i) top += s[size_t(i)];
  return std::min(top / total, 1.0);
}

int64_t default_energy_k(int64_t hidden) {
  check(hidden > 0, "top-k energy: hidden size ", hidden, " must be positive");
  const int64_t k = std::max<int64_t>(8, std::llround(double(hidden) / 100.0));
  return std::min(k, hidden);
}

// ------------------------------------------------------------ LIM, ZD, norms

double lim_score(const float* x_in, const float* x_out, int64_t rows, int64_t dim) {
  check(rows > 0 && dim > 0, "LIM score: empty input (", rows, " rows of ", dim, ")");
  check(x_in != nullptr && x_out != nullptr, "LIM score: null input");
  double sum = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* a = x_in + r * dim;
    const float* b = x_out + r * dim;
    double ab = 0, aa = 0, bb = 0;
    for (int64_t c = 0; c < dim; ++c) {
      const double x = double(a[c]), y = double(b[c]);
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    check(std::isfinite(ab) && std::isfinite(aa) && std::isfinite(bb), "LIM score: row ", r,
          " has non-finite values");
    double cos;
    if (aa == 0 && bb == 0)
      cos = 1;  // both zero: unchanged
    else if (aa == 0 || bb == 0)
      cos = 0;  // one zero: no shared direction
    else
      cos = std::clamp(ab / std::sqrt(aa * bb), -1.0, 1.0);
    sum += 1.0 - cos;
  }
  return sum / double(rows);
}

double zd_score(const std::vector<const std::vector<float>*>& matrices) {
  int64_t total = 0, outliers = 0;
  for (size_t m = 0; m < matrices.size(); ++m) {
    check(matrices[m] != nullptr, "ZD score: matrix ", m, " is null");
    const std::vector<float>& w = *matrices[m];
    if (w.empty()) continue;
    double mean = 0;
    for (float v : w) {
      check(std::isfinite(v), "ZD score: matrix ", m, " has a non-finite weight (", v, ")");
      mean += double(v);
    }
    mean /= double(w.size());
    double var = 0;
    for (float v : w) var += (double(v) - mean) * (double(v) - mean);
    const double sd = std::sqrt(var / double(w.size()));  // population standard deviation
    total += int64_t(w.size());
    if (!(sd > 0)) continue;  // constant matrix: no outliers
    for (float v : w)
      if (std::fabs(double(v) - mean) > sd) ++outliers;
  }
  check(total > 0, "ZD score: no weights given");
  return double(outliers) / double(total);
}

std::vector<double> min_max_normalise(const std::vector<double>& v) {
  std::vector<double> out(v.size(), 0.0);
  if (v.empty()) return out;
  for (size_t i = 0; i < v.size(); ++i)
    check(std::isfinite(v[i]), "min-max normalisation: value ", i, " is not finite (", v[i], ")");
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const double mn = *lo, range = *hi - *lo;
  if (!(range > 0)) return out;
  for (size_t i = 0; i < v.size(); ++i) out[i] = std::clamp((v[i] - mn) / range, 0.0, 1.0);
  return out;
}

std::vector<double> rank_normalise(const std::vector<double>& v) {
  const size_t n = v.size();
  std::vector<double> out(n, 0.0);
  if (n < 2) return out;
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean_rank = 0.5 * double(i + j);
    for (size_t k = i; k <= j; ++k) out[order[k]] = mean_rank / double(n - 1);
    i = j + 1;
  }
  return out;
}

}  // namespace lieq
