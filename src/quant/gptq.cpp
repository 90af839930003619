#include "quant/gptq.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <utility>

#include "kernels/gemm.h"
#include "util/error.h"
#include "util/half.h"
#include "util/thread_pool.h"

// Layout of the work. OpenBLAS runs single-threaded (lieq's pool owns the
// cores), so every O(n^3) step is cut into independent BLAS calls that the
// pool runs in parallel:
//   - add_batch: H's lower triangle in square tiles (SSYRK on diagonal tiles,
//     SGEMM below), each tile mirrored to the upper triangle by its task.
//   - Cholesky: right-looking blocked (SPOTRF on a diagonal block, then a
//     parallel TRSM of the panel and a parallel tiled SYRK/GEMM update).
//   - Triangular inverse: row block by row block, the columns to the left of
//     the diagonal block split across the pool (GEMM + TRSM per chunk).
//   - The sweep: rows of W are independent in GPTQ (they share only the
//     factor U), so each task owns a chunk of rows for the whole sweep: per
//     block it transposes 32-row tiles ([block cols, 32 rows]), sweeps the
//     columns with the per-column loop running over the 32 rows (vectorised),
//     then applies the block's errors to the rest of its rows with one GEMM.
//
// The factor: GPTQ needs U, the upper Cholesky factor of H^-1 (H^-1 = U^T U),
// which the reference computes as cholesky(cholesky_inverse(cholesky(H)),
// upper=True): three O(n^3) steps. With J the reversal permutation and
// J H J = L L^T, H^-1 = (J L^-T J)(J L^-1 J), and J L^-1 J is upper
// triangular with a positive diagonal, so U = J L^-1 J: one Cholesky and one
// triangular inverse, half the work, and H^-1 is never formed (same accuracy:
// 1.8e-6 vs 1.5e-6 max error relative to a double-precision reference at n = 300).
//
// Groups (without act_order): a group's parameters come from its columns as
// they are when the sweep reaches the group's first column, with every
// earlier column's error applied. The reference reads them from W, which
// misses the errors of earlier columns of the same block when a group starts
// inside a block (group 32, block 128); here they come from the block's
// working tile. A block also ends early at a group start when that group
// would reach past the block, so the group's later columns are up to date too.
// The result is the unblocked algorithm's: tests compare against a plain
// double-precision GPTQ and get the same codes.

namespace lieq {

namespace {

constexpr int64_t kTile = 32;       // rows per sweep tile
constexpr int64_t kCholBlock = 128; // block of the blocked Cholesky / inverse
constexpr int kMaxDampRetries = 4;  // damping x10 each time Cholesky fails
constexpr float kRound = 12582912.0f;  // 1.5 * 2^23, see qspec.cpp

ThreadPool& pool() { return ThreadPool::global(); }

// Lower-triangle tiles (I, J), J <= I, of an [n, n] matrix, sized so that
// there are a few tiles per thread.
struct LowerTiles {
  int64_t tb = 0, nt = 0;
  std::vector<std::pair<int64_t, int64_t>> tiles;
  explicit LowerTiles(int64_t n) {
    const int64_t threads = pool().size();
    const int64_t want = std::max<int64_t>(1, int64_t(std::ceil(std::sqrt(6.0 * double(threads)))));
    tb = std::max<int64_t>(64, ((n + want - 1) / want + 31) / 32 * 32);
    nt = (n + tb - 1) / tb;
    for (int64_t i = 0; i < nt; ++i)
      for (int64_t j = 0; j <= i; ++j) tiles.emplace_back(i, j);
  }
};

// H = beta H + alpha X^T X on the lower triangle, then mirrored, for x [rows, n].
void syrk_update(const float* x, int64_t rows, int64_t n, float alpha, float beta, float* h) {
  const LowerTiles lt(n);
  pool().parallel_for(0, int64_t(lt.tiles.size()), 1, [&](int64_t b, int64_t e, int) {
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

// In-place lower Cholesky a = L L^T of a row-major [n, n] matrix (lower
// triangle read and written; the strict upper triangle is left as it was).
// Returns false when a is not (numerically) positive definite.
bool cholesky_lower(float* a, int64_t n) {
  for (int64_t k0 = 0; k0 < n; k0 += kCholBlock) {
    const int64_t kb = std::min(kCholBlock, n - k0);
    float* a11 = a + k0 * n + k0;
    // Row-major lower = column-major upper: no transposed copies in LAPACKE.
    if (LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', int(kb), a11, int(n)) != 0) return false;
    const int64_t m = n - k0 - kb;
    if (m == 0) break;
    float* a21 = a + (k0 + kb) * n + k0;
    // A21 := A21 L11^-T
    pool().parallel_for(0, m, 64, [&](int64_t b, int64_t e, int) {
      cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, int(e - b),
                  int(kb), 1.0f, a11, int(n), a21 + b * n, int(n));
    });
    // A22 -= A21 A21^T (lower triangle)
    float* a22 = a + (k0 + kb) * n + (k0 + kb);
    const LowerTiles lt(m);
    pool().parallel_for(0, int64_t(lt.tiles.size()), 1, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) {
        const auto [ti, tj] = lt.tiles[size_t(t)];
        const int64_t i0 = ti * lt.tb, j0 = tj * lt.tb;
        const int64_t ib = std::min(lt.tb, m - i0), jb = std::min(lt.tb, m - j0);
        if (ti == tj)
          cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, int(ib), int(kb), -1.0f,
                      a21 + i0 * n, int(n), 1.0f, a22 + i0 * n + i0, int(n));
        else
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(ib), int(jb), int(kb), -1.0f,
                      a21 + i0 * n, int(n), a21 + j0 * n, int(n), 1.0f, a22 + i0 * n + j0,
                      int(n));
      }
    });
  }
  return true;
}

// x = l^-1 for the lower triangular l (its lower triangle; the upper is
// ignored), both row-major [n, n]; x's strict upper triangle is zero. By row
// blocks I: X[I, I] = L[I, I]^-1, X[I, :I] = -L[I, I]^-1 L[I, :I] X[:I, :I].
void invert_lower(const float* l, float* x, int64_t n) {
  pool().parallel_for(0, n, 64, [&](int64_t b, int64_t e, int) {
    std::fill(x + b * n, x + e * n, 0.0f);
  });
  constexpr int64_t kChunk = 64;  // columns per task
  for (int64_t i0 = 0; i0 < n; i0 += kCholBlock) {
    const int64_t ib = std::min(kCholBlock, n - i0);
    const float* lii = l + i0 * n + i0;
    float* xii = x + i0 * n + i0;
    for (int64_t i = 0; i < ib; ++i)
      for (int64_t j = 0; j <= i; ++j) xii[i * n + j] = lii[i * n + j];
    const lapack_int info = LAPACKE_strtri(LAPACK_COL_MAJOR, 'U', 'N', int(ib), xii, int(n));
    check(info == 0, "gptq: triangular inverse failed (zero pivot ", info, ")");
    if (i0 == 0) continue;
    const int64_t n_chunks = (i0 + kChunk - 1) / kChunk;
    pool().parallel_for(0, n_chunks, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t ch = b; ch < e; ++ch) {
        const int64_t c0 = ch * kChunk, w = std::min(kChunk, i0 - c0);
        float* xi = x + i0 * n + c0;
        // X[c0:i0, c0:c0+w] is lower triangular in its top rows: rows < c0 are zero.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(ib), int(w), int(i0 - c0),
                    -1.0f, l + i0 * n + c0, int(n), x + c0 * n + c0, int(n), 0.0f, xi, int(n));
        cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, int(ib),
                    int(w), 1.0f, lii, int(n), xi, int(n));
      }
    });
  }
}

// a holds J H J (H symmetric positive definite, lower triangle used); on
// success a becomes U, the upper Cholesky factor of H^-1 (lower triangle
// zero). scratch: n * n floats. Returns false when Cholesky fails.
bool factor_flipped(float* a, int64_t n, std::vector<float>& scratch) {
  if (!cholesky_lower(a, n)) return false;
  scratch.resize(static_cast<size_t>(n * n));
  float* x = scratch.data();
  invert_lower(a, x, n);
  pool().parallel_for(0, n, 32, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const float* src = x + (n - 1 - i) * n + (n - 1);
      float* dst = a + i * n;
      for (int64_t j = 0; j < n; ++j) dst[j] = src[-j];
    }
  });
  return true;
}

// One column of a tile sweep. t: the transposed tile [count, kTile] (column
// j of the block is row j of t, one lane per weight row); urow: U[col, i1:i2].
// Quantizes column i under per-lane (scale, zero), writes its codes and
// scaled errors (w - q) / d, adds the errors squared to loss, and subtracts
// err * U[col, j] from the later columns j of the block.
__attribute__((target_clones("avx512f", "avx2", "default")))
void sweep_column(float* __restrict t, int64_t count, int64_t i, const float* __restrict urow,
                  const float* __restrict sc, const float* __restrict zr, float fq,
                  float* __restrict err, uint8_t* __restrict codes, float* __restrict loss) {
  const float* ti = t + i * kTile;
  const float d = urow[i];
  float e[kTile];
  for (int64_t s = 0; s < kTile; ++s) {
    const float w = ti[s];
    // quantize_value: round(w / s) + z clamped to [0, maxq] (see qspec.cpp).
    float v = ((w / sc[s] + kRound) - kRound) + zr[s];
    v = v > fq ? fq : v;
    v = v < 0.0f ? 0.0f : v;
    codes[s] = uint8_t(v);
    const float es = (w - sc[s] * (v - zr[s])) / d;
    e[s] = es;
    err[s] = es;
    loss[s] += es * es;
  }
  for (int64_t j = i + 1; j < count; ++j) {
    const float u = urow[j];
    float* tj = t + j * kTile;
    for (int64_t s = 0; s < kTile; ++s) tj[s] -= e[s] * u;
  }
}

// No NaN or infinity in x[0, n) (exponent bits all ones), in integer ops so it vectorises.
bool all_finite(const float* x, int64_t n) {
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    bad |= uint32_t((u & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

}  // namespace

bool gptq_inverse_cholesky(const float* h, int64_t n, float* u) {
  check(n > 0, "gptq_inverse_cholesky: empty matrix");
  pool().parallel_for(0, n, 32, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t j = 0; j < n; ++j) u[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  });
  std::vector<float> scratch;
  return factor_flipped(u, n, scratch);
}

// ---------------------------------------------------------------------- Gptq

Gptq::Gptq(int64_t n_in) : n_in_(n_in) {
  check(n_in > 0, "gptq: number of inputs must be positive (got ", n_in, ")");
  h_.assign(static_cast<size_t>(n_in * n_in), 0.0f);
}

void Gptq::add_batch(const float* x, int64_t rows) {
  check(rows >= 0, "gptq: add_batch with ", rows, " rows");
  if (rows == 0) return;
  const int64_t n = n_in_;
  pool().parallel_for(0, rows, std::max<int64_t>(1, 16384 / n), [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r)
      if (!all_finite(x + r * n, n))
        fail("gptq: calibration input row ", n_samples_ + r, " has a non-finite value");
  });
  const int64_t total = n_samples_ + rows;
  const float beta = float(double(n_samples_) / double(total));
  const float alpha = float(2.0 / double(total));
  syrk_update(x, rows, n, alpha, beta, h_.data());
  n_samples_ = total;
}

GptqResult Gptq::quantize(const float* w, int64_t n_out, const QuantSpec& spec,
                          const GptqOptions& opt) const {
  validate_spec(spec, "gptq");
  check(n_out >= 0, "gptq: ", n_out, " output rows");
  check(n_samples_ > 0, "gptq: no calibration inputs (add_batch was never called)");
  check(opt.block_size >= 1, "gptq: block size ", opt.block_size, " must be at least 1");
  check(opt.damp >= 0 && std::isfinite(opt.damp), "gptq: damping ", opt.damp,
        " must be a nonnegative number");
  const int64_t n = n_in_;
  GptqResult res;
  res.q = QuantizedTensor::empty(spec, n_out, n);
  res.damp = opt.damp;
  if (n_out == 0) return res;
  const int64_t ng = spec.n_groups(n), gc = spec.group_cols(n);
  const int maxq = spec.maxq();
  const bool static_groups = opt.act_order;

  // Dead inputs (never active in the calibration data): H[i, i] = 1, W[:, i] = 0.
  std::vector<float> diag(static_cast<size_t>(n));
  std::vector<char> dead(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float d = h_[size_t(i * n + i)];
    dead[size_t(i)] = d == 0.0f;
    diag[size_t(i)] = d == 0.0f ? 1.0f : d;
  }

  // Column order: identity, or decreasing diag(H) (stable, so deterministic).
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), int64_t(0));
  if (opt.act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return diag[size_t(a)] > diag[size_t(b)]; });

  // Group parameters as floats [n_out, ng]; static groups are fixed here from
  // W (dead columns zeroed), dynamic ones when the sweep reaches them.
  std::vector<float> pscale(static_cast<size_t>(n_out * ng), 1.0f);
  std::vector<float> pzero(static_cast<size_t>(n_out * ng), 0.0f);
  auto params_of = [&](const float* x, int64_t len) {
    return opt.rtn.mse_clip ? search_group_params(x, len, spec, opt.rtn)
                            : group_params(x, len, spec);
  };

  // W in sweep order (columns permuted), dead columns zeroed.
  // (Every element is written below: no zero-fill of a buffer that may be 100s of MB.)
  const auto wp_buf = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(n_out * n));
  float* const wp = wp_buf.get();
  pool().parallel_for(0, n_out, std::max<int64_t>(1, 8192 / n), [&](int64_t b, int64_t e, int) {
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t r = b; r < e; ++r) {
      const float* wr = w + r * n;
      if (!all_finite(wr, n))
        for (int64_t c = 0; c < n; ++c)
          check(std::isfinite(wr[c]), "gptq: weight [", r, ", ", c, "] is ", wr[c]);
      for (int64_t c = 0; c < n; ++c) row[size_t(c)] = dead[size_t(c)] ? 0.0f : wr[c];
      if (static_groups) {
        for (int64_t g = 0; g < ng; ++g) {
          const int64_t c0 = g * gc;
          const GroupParams p = params_of(row.data() + c0, std::min(gc, n - c0));
          pscale[size_t(r * ng + g)] = p.scale;
          pzero[size_t(r * ng + g)] = p.zero;
        }
      }
      float* dst = wp + r * n;
      for (int64_t j = 0; j < n; ++j) dst[j] = row[size_t(perm[size_t(j)])];
    }
  });

  // U: upper Cholesky factor of (H + damp I)^-1 in sweep order, built from
  // J P^T H P J (P the column permutation, J the reversal).
  double mean_diag = 0;
  for (float d : diag) mean_diag += double(d);
  mean_diag /= double(n);
  std::vector<float> u(static_cast<size_t>(n * n)), scratch;
  double damp = opt.damp;
  for (int attempt = 0;; ++attempt) {
    const float add = float(damp * mean_diag);
    pool().parallel_for(0, n, 32, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t pi = perm[size_t(n - 1 - i)];
        const float* hr = h_.data() + pi * n;
        float* ur = u.data() + i * n;
        for (int64_t j = 0; j < n; ++j) ur[j] = hr[perm[size_t(n - 1 - j)]];
        ur[i] = diag[size_t(pi)] + add;
      }
    });
    if (factor_flipped(u.data(), n, scratch)) break;
    check(attempt < kMaxDampRetries, "gptq: Hessian [", n, " x ", n,
          "] is not positive definite even with damping ", damp, " x mean diagonal (",
          n_samples_, " calibration rows); the calibration inputs are degenerate");
    damp = damp > 0 ? damp * 10 : 1e-3;
  }
  res.damp = damp;
  scratch.clear();
  scratch.shrink_to_fit();

  // The sweep, a chunk of rows per task.
  const auto codes_buf = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(n_out * n));
  uint8_t* const codes = codes_buf.get();  // [n_out, n] in sweep (permuted) order
  const float fq = float(maxq);
  const int64_t bs = opt.block_size;
  const int64_t n_chunks = std::min<int64_t>(pool().size(), (n_out + kTile - 1) / kTile);
  std::vector<double> chunk_loss(static_cast<size_t>(n_chunks), 0.0);
  const float* uu = u.data();
  pool().parallel_for(0, n_chunks, 1, [&](int64_t cb, int64_t ce, int) {
    std::vector<float> t(static_cast<size_t>(bs * kTile)), e(static_cast<size_t>(bs * kTile));
    std::vector<uint8_t> q(static_cast<size_t>(bs * kTile));
    std::vector<float> errs, gbuf(static_cast<size_t>(gc));
    float sc[kTile], zr[kTile], loss[kTile];
    for (int64_t ch = cb; ch < ce; ++ch) {
      const int64_t r0 = ch * n_out / n_chunks, r1 = (ch + 1) * n_out / n_chunks;
      const int64_t rows = r1 - r0;
      errs.resize(static_cast<size_t>(rows * bs));
      double chunk_sum = 0;
      for (int64_t i1 = 0, i2 = 0; i1 < n; i1 = i2) {
        i2 = std::min(i1 + bs, n);
        if (!static_groups) {
          // End the block at a group start when that group reaches past the
          // block, so that the group's parameters see every earlier error.
          for (int64_t c = (i1 / gc + 1) * gc; c < i2; c += gc)
            if (std::min(c + gc, n) > i2) {
              i2 = c;
              break;
            }
        }
        const int64_t count = i2 - i1;
        for (int64_t s0 = r0; s0 < r1; s0 += kTile) {
          const int64_t st = std::min(kTile, r1 - s0);
          for (int64_t s = 0; s < kTile; ++s) {
            loss[s] = 0.0f;
            if (s < st) {
              const float* src = wp + (s0 + s) * n + i1;
              for (int64_t j = 0; j < count; ++j) t[size_t(j * kTile + s)] = src[j];
            } else {
              for (int64_t j = 0; j < count; ++j) t[size_t(j * kTile + s)] = 0.0f;
              sc[s] = 1.0f;
              zr[s] = 0.0f;
            }
          }
          int64_t loaded = -1;  // the group whose parameters sc, zr hold
          for (int64_t i = 0; i < count; ++i) {
            const int64_t col = i1 + i;
            const int64_t g = (static_groups ? perm[size_t(col)] : col) / gc;
            if (!static_groups && col == g * gc) {
              loaded = -1;
              // The group's current values: in the tile up to the block end,
              // then in wp (which has every earlier block's errors).
              const int64_t c_end = std::min(col + gc, n);
              for (int64_t s = 0; s < st; ++s) {
                const float* wr = wp + (s0 + s) * n;
                for (int64_t j = col; j < c_end; ++j)
                  gbuf[size_t(j - col)] = j < i2 ? t[size_t((j - i1) * kTile + s)] : wr[j];
                const GroupParams p = params_of(gbuf.data(), c_end - col);
                pscale[size_t((s0 + s) * ng + g)] = p.scale;
                pzero[size_t((s0 + s) * ng + g)] = p.zero;
              }
            }
            if (g != loaded) {
              for (int64_t s = 0; s < st; ++s) {
                sc[s] = pscale[size_t((s0 + s) * ng + g)];
                zr[s] = pzero[size_t((s0 + s) * ng + g)];
              }
              loaded = g;
            }
            sweep_column(t.data(), count, i, uu + col * n + i1, sc, zr, fq,
                         e.data() + i * kTile, q.data() + i * kTile, loss);
          }
          for (int64_t s = 0; s < st; ++s) {
            float* er = errs.data() + (s0 - r0 + s) * count;
            uint8_t* cr = codes + (s0 + s) * n + i1;
            for (int64_t i = 0; i < count; ++i) {
              er[i] = e[size_t(i * kTile + s)];
              cr[i] = q[size_t(i * kTile + s)];
            }
            chunk_sum += double(loss[s]);
          }
        }
        // The block's errors onto the later columns of these rows.
        if (i2 < n)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(n - i2),
                      int(count), -1.0f, errs.data(), int(count), uu + i1 * n + i2, int(n), 1.0f,
                      wp + r0 * n + i2, int(n));
      }
      chunk_loss[size_t(ch)] = chunk_sum;
    }
  });

  // Storage: fp16 parameters (already fp16 values) and packed codes.
  QuantizedTensor& qt = res.q;
  const int64_t rb = qt.row_bytes();
  pool().parallel_for(0, n_out, std::max<int64_t>(1, 16384 / n), [&](int64_t b, int64_t e, int) {
    std::vector<uint8_t> row(static_cast<size_t>(opt.act_order ? n : 0));
    for (int64_t r = b; r < e; ++r) {
      for (int64_t g = 0; g < ng; ++g) {
        const size_t k = size_t(r * ng + g);
        qt.scales[k] = f32_to_f16(pscale[k]);
        if (!spec.symmetric) qt.zeros[k] = f32_to_f16(pzero[k]);
      }
      const uint8_t* cr = codes + r * n;
      if (opt.act_order) {  // back to the original column order
        for (int64_t j = 0; j < n; ++j) row[size_t(perm[size_t(j)])] = cr[j];
        cr = row.data();
      }
      pack_codes(cr, n, spec.bits, qt.codes.data() + r * rb);
    }
  });
  double total = 0;
  for (double l : chunk_loss) total += l;
  res.loss = total / 2;  // as the reference: sum of (w - q)^2 / d^2, halved
  return res;
}

double layer_output_error(const float* w, const float* q, int64_t n_out, int64_t n_in,
                          const float* x, int64_t rows) {
  if (n_out == 0 || n_in == 0 || rows == 0) return 0.0;
  std::vector<float> d(static_cast<size_t>(n_out * n_in));
  for (size_t i = 0; i < d.size(); ++i) d[i] = w[i] - q[i];
  // (W - Q) X^T, a slab of calibration rows at a time.
  const int64_t slab = std::clamp<int64_t>((int64_t(1) << 22) / n_out, 1, rows);
  std::vector<float> y(static_cast<size_t>(slab * n_out));
  double sum = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += slab) {
    const int64_t m = std::min(slab, rows - r0);
    matmul_nt(x + r0 * n_in, d.data(), y.data(), m, n_out, n_in);
    for (int64_t i = 0; i < m * n_out; ++i) sum += double(y[size_t(i)]) * double(y[size_t(i)]);
  }
  return sum;
}

}  // namespace lieq
