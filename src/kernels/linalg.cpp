#include "kernels/linalg.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "util/error.h"

namespace lieq {

namespace {

// Lower-triangle tiles (I, J), J <= I, of an [n, n] matrix, sized so that
// there are a few tiles per thread: about sqrt(6 * threads) tiles a side,
// each side a multiple of 32 and at least 64.
struct LowerTiles {
  int64_t tb = 0, nt = 0;                          // tile side, tiles a side
  std::vector<std::pair<int64_t, int64_t>> tiles;  // [nt (nt + 1) / 2] (I, J)
  LowerTiles(int64_t n, int64_t threads) {
    const int64_t want = std::max<int64_t>(1, int64_t(std::ceil(std::sqrt(6.0 * double(threads)))));
    tb = std::max<int64_t>(64, ((n + want - 1) / want + 31) / 32 * 32);
    nt = (n + tb - 1) / tb;
    for (int64_t i = 0; i < nt; ++i)
      for (int64_t j = 0; j <= i; ++j) tiles.emplace_back(i, j);
  }
};

}  // namespace

void syrk_update(const float* x, int64_t rows, int64_t n, float alpha, float beta, float* h,
                 ThreadPool& pool) {
  const LowerTiles lt(n, pool.size());
  pool.parallel_for(0, int64_t(lt.tiles.size()), 1, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const auto [ti, tj] = lt.tiles[size_t(t)];
      const int64_t i0 = ti * lt.tb, j0 = tj * lt.tb;
      const int64_t ib = std::min(lt.tb, n - i0), jb = std::min(lt.tb, n - j0);
      float* c = h + i0 * n + j0;
      if (ti == tj) {
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, int(ib), int(rows), alpha, x + i0,
                    int(n), beta, c, int(n));
        for (int64_t i = 0; i < ib; ++i)
          for (int64_t j = i + 1; j < ib; ++j) c[i * n + j] = c[j * n + i];
      } else {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(ib), int(jb), int(rows), alpha,
                    x + i0, int(n), x + j0, int(n), beta, c, int(n));
        float* ct = h + j0 * n + i0;  // the mirrored tile
        for (int64_t i = 0; i < ib; ++i)
          for (int64_t j = 0; j < jb; ++j) ct[j * n + i] = c[i * n + j];
      }
    }
  });
}

bool cholesky_lower(float* a, int64_t n, ThreadPool& pool) {
  for (int64_t k0 = 0; k0 < n; k0 += kCholBlock) {
    const int64_t kb = std::min(kCholBlock, n - k0);
    float* a11 = a + k0 * n + k0;
    // Row-major lower = column-major upper: no transposed copies in LAPACKE.
    if (LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', int(kb), a11, int(n)) != 0) return false;
    const int64_t m = n - k0 - kb;
    if (m == 0) break;
    float* a21 = a + (k0 + kb) * n + k0;
    // A21 := A21 L11^-T
    pool.parallel_for(0, m, 64, [&](int64_t b, int64_t e, int) {
      cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, int(e - b),
                  int(kb), 1.0f, a11, int(n), a21 + b * n, int(n));
    });
    // A22 -= A21 A21^T (lower triangle)
    float* a22 = a + (k0 + kb) * n + (k0 + kb);
    const LowerTiles lt(m, pool.size());
    pool.parallel_for(0, int64_t(lt.tiles.size()), 1, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) {
        const auto [ti, tj] = lt.tiles[size_t(t)];
        const int64_t i0 = ti * lt.tb, j0 = tj * lt.tb;
        const int64_t ib = std::min(lt.tb, m - i0), jb = std::min(lt.tb, m - j0);
        if (ti == tj)
          cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, int(ib), int(kb), -1.0f,
                      a21 + i0 * n, int(n), 1.0f, a22 + i0 * n + i0, int(n));
        else
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(ib), int(jb), int(kb), -1.0f,
                      a21 + i0 * n, int(n), a21 + j0 * n, int(n), 1.0f, a22 + i0 * n + j0, int(n));
      }
    });
  }
  return true;
}

// By row blocks I, top to bottom: X[I, :I] = -L[I, I]^-1 L[I, :I] X[:I, :I]
// (X[:I, :I] already inverted in place), then X[I, I] = L[I, I]^-1. The row
// block L[I, :I] is copied first (ib x i0 floats), since the column chunks
// that the pool runs in parallel read all of it and each overwrites its own
// columns: O(n * 128) scratch instead of a second n x n matrix.
void invert_lower_in_place(float* l, int64_t n, ThreadPool& pool) {
  constexpr int64_t kChunk = 64;  // columns per task
  std::vector<float> panel;       // [ib, i0] L[I, :I]
  for (int64_t i0 = 0; i0 < n; i0 += kCholBlock) {
    const int64_t ib = std::min(kCholBlock, n - i0);
    float* lii = l + i0 * n + i0;
    if (i0 > 0) {
      panel.resize(static_cast<size_t>(ib * i0));
      for (int64_t i = 0; i < ib; ++i)
        std::memcpy(panel.data() + i * i0, l + (i0 + i) * n, size_t(i0) * sizeof(float));
      const int64_t n_chunks = (i0 + kChunk - 1) / kChunk;
      pool.parallel_for(0, n_chunks, 1, [&](int64_t b, int64_t e, int) {
        for (int64_t ch = b; ch < e; ++ch) {
          const int64_t c0 = ch * kChunk, w = std::min(kChunk, i0 - c0);
          float* xi = l + i0 * n + c0;
          // X[c0:i0, c0:c0+w] is lower triangular in its top rows: rows < c0 are zero.
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(ib), int(w), int(i0 - c0),
                      -1.0f, panel.data() + c0, int(i0), l + c0 * n + c0, int(n), 0.0f, xi, int(n));
          cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, int(ib),
                      int(w), 1.0f, lii, int(n), xi, int(n));
        }
      });
    }
    // Row-major lower = column-major upper.
    const lapack_int info = LAPACKE_strtri(LAPACK_COL_MAJOR, 'U', 'N', int(ib), lii, int(n));
    check(info == 0, "invert_lower_in_place: triangular inverse failed (zero pivot ", info, ")");
  }
}

void reverse_both(float* a, int64_t n, ThreadPool& pool) {
  const int64_t total = n * n, half = total / 2;
  pool.parallel_for(0, half, 1 << 16, [&](int64_t b, int64_t e, int) {
    for (int64_t k = b; k < e; ++k) std::swap(a[k], a[total - 1 - k]);
  });
}

bool factor_flipped(float* a, int64_t n, ThreadPool& pool) {
  if (!cholesky_lower(a, n, pool)) return false;
  // The strict upper triangle to zero: the inverse's GEMMs read the
  // diagonal blocks whole, and the reversal moves it to U's lower triangle.
  pool.parallel_for(0, n, 32, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) std::fill(a + i * n + i + 1, a + (i + 1) * n, 0.0f);
  });
  invert_lower_in_place(a, n, pool);  // lower triangle: L^-1
  reverse_both(a, n, pool);           // upper triangle: J L^-1 J = U
  return true;
}

void permute_symmetric(float* a, int64_t n, const int64_t* perm, ThreadPool& pool) {
  bool identity = true;
  for (int64_t i = 0; i < n && identity; ++i) identity = perm[i] == i;
  if (identity) return reverse_both(a, n, pool);
  auto q = [&](int64_t i) { return perm[n - 1 - i]; };
  // Columns of every row, then whole rows by following the permutation's cycles.
  pool.parallel_for(0, n, 32, [&](int64_t b, int64_t e, int) {
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t r = b; r < e; ++r) {
      float* ar = a + r * n;
      for (int64_t j = 0; j < n; ++j) row[size_t(j)] = ar[q(j)];
      std::memcpy(ar, row.data(), size_t(n) * sizeof(float));
    }
  });
  std::vector<char> done(static_cast<size_t>(n), 0);
  std::vector<float> tmp(static_cast<size_t>(n));
  for (int64_t start = 0; start < n; ++start) {
    if (done[size_t(start)]) continue;
    // Row i takes row q(i): along the cycle start, q(start), q(q(start)) ...
    std::memcpy(tmp.data(), a + start * n, size_t(n) * sizeof(float));
    int64_t i = start;
    for (;;) {
      done[size_t(i)] = 1;
      const int64_t src = q(i);
      if (src == start) {
        std::memcpy(a + i * n, tmp.data(), size_t(n) * sizeof(float));
        break;
      }
      std::memcpy(a + i * n, a + src * n, size_t(n) * sizeof(float));
      i = src;
    }
  }
}

}  // namespace lieq
