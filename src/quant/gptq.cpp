#include "quant/gptq.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <utility>

#include "kernels/gemm.h"
#include "kernels/linalg.h"
#include "util/error.h"
#include "util/half.h"
#include "util/thread_pool.h"

// Layout of the work. OpenBLAS runs single-threaded (lieq's pool owns the
// cores), so every O(n^3) step is cut into independent BLAS calls that the
// pool runs in parallel (the first three in kernels/linalg.h):
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
//
// ggml's block formats (quantize_ggml) are groups in the same sense: a
// block's scales are fitted (GgmlBlockGrid::fit, ggml's own search) when the
// sweep reaches its first column, on the block's current values, with the
// same early block end, so a Q4_K block of 256 spanning two lazy blocks of
// 128 is fitted from the tile plus W, which holds every earlier error. Both
// quantizers share the sweep (gptq_sweep) and differ only in the column step.

namespace lieq {

namespace {

constexpr int64_t kTile = 32;       // rows per sweep tile
constexpr int kMaxDampRetries = 4;  // damping x10 each time Cholesky fails
constexpr float kRound = 12582912.0f;  // 1.5 * 2^23, see qspec.cpp

ThreadPool& pool() { return ThreadPool::global(); }

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

// Subtracts e[s] * urow[j] from the later columns j of the tile (the second
// half of sweep_column, for quantizers whose per-lane step is not vectorised).
__attribute__((target_clones("avx512f", "avx2", "default")))
void propagate_column(float* __restrict t, int64_t count, int64_t i,
                      const float* __restrict urow, const float* __restrict e) {
  for (int64_t j = i + 1; j < count; ++j) {
    const float u = urow[j];
    float* tj = t + j * kTile;
    for (int64_t s = 0; s < kTile; ++s) tj[s] -= e[s] * u;
  }
}

// ------------------------------------------------- shared by both quantizers

// Dead inputs (never active in the calibration data, diag(H) = 0): GPTQ sets
// H[i, i] = 1 and zeroes W[:, i]. diag: [n], diag(H) with those 1s.
struct InputColumns {
  std::vector<char> dead;
  std::vector<float> diag;
};

InputColumns input_columns(const std::vector<float>& raw_diag) {
  InputColumns c;
  const size_t n = raw_diag.size();
  c.dead.resize(n);
  c.diag.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float d = raw_diag[i];
    c.dead[i] = d == 0.0f;
    c.diag[i] = d == 0.0f ? 1.0f : d;
  }
  return c;
}

// Column order: identity, or decreasing diag(H) (stable, so deterministic).
std::vector<int64_t> sweep_order(const std::vector<float>& diag, bool act_order) {
  std::vector<int64_t> perm(diag.size());
  std::iota(perm.begin(), perm.end(), int64_t(0));
  if (act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return diag[size_t(a)] > diag[size_t(b)]; });
  return perm;
}

// W in sweep order, [n_out, n]: element j of row r is w[r, perm[j]], dead
// columns zeroed. Every weight must be finite (what() names the first bad
// one). row_fn(r, row) sees each row first, in the original column order
// with dead columns zeroed. With in_place (== w) and the identity order,
// that is w itself, changed in place: no copy of a matrix that may be 100s
// of MB; otherwise a new buffer, every element written (no zero-fill).
struct SweepWeights {
  std::unique_ptr<float[]> owned;
  float* p = nullptr;  // [n_out, n]
};

template <class RowFn>
SweepWeights sweep_weights(const float* w, float* in_place, int64_t n_out, int64_t n,
                           const std::vector<char>& dead, const std::vector<int64_t>& perm,
                           const RowFn& row_fn) {
  bool identity = true;
  for (int64_t j = 0; j < n && identity; ++j) identity = perm[size_t(j)] == j;
  SweepWeights sw;
  if (in_place && identity) {
    sw.p = in_place;
  } else {
    sw.owned = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(n_out * n));
    sw.p = sw.owned.get();
  }
  pool().parallel_for(0, n_out, std::max<int64_t>(1, 8192 / n), [&](int64_t b, int64_t e, int) {
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t r = b; r < e; ++r) {
      const float* wr = w + r * n;
      if (!all_finite(wr, n))
        for (int64_t c = 0; c < n; ++c)
          check(std::isfinite(wr[c]), "gptq: weight [", r, ", ", c, "] is ", wr[c]);
      for (int64_t c = 0; c < n; ++c) row[size_t(c)] = dead[size_t(c)] ? 0.0f : wr[c];
      row_fn(r, row.data());
      float* dst = sw.p + r * n;
      for (int64_t j = 0; j < n; ++j) dst[j] = row[size_t(perm[size_t(j)])];
    }
  });
  return sw;
}

// In place, h [n, n] (H, symmetric) := U, the upper Cholesky factor of
// (P^T H P + damp * mean(diag) I)^-1 (P the sweep order perm, diag [n] the
// diagonal to use for H's), built from J P^T H P J (J the reversal). When
// Cholesky fails, the lower triangle is rebuilt from the untouched upper one
// and the damping raised (x10, or 1e-3 from 0) up to kMaxDampRetries times;
// returns the damping used. No n x n scratch: the Hessian becomes the factor.
double damped_factor_in_place(float* h, int64_t n, int64_t n_samples,
                              const std::vector<float>& diag, const std::vector<int64_t>& perm,
                              double damp) {
  double mean_diag = 0;
  for (float d : diag) mean_diag += double(d);
  mean_diag /= double(n);
  permute_symmetric(h, n, perm.data());
  for (int attempt = 0;; ++attempt) {
    const float add = float(damp * mean_diag);
    for (int64_t i = 0; i < n; ++i) h[i * n + i] = diag[size_t(perm[size_t(n - 1 - i)])] + add;
    if (factor_flipped(h, n)) return damp;
    check(attempt < kMaxDampRetries, "gptq: Hessian [", n, " x ", n,
          "] is not positive definite even with damping ", damp, " x mean diagonal (", n_samples,
          " calibration rows); the calibration inputs are degenerate");
    damp = damp > 0 ? damp * 10 : 1e-3;
    pool().parallel_for(0, n, 32, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i)
        for (int64_t j = 0; j < i; ++j) h[i * n + j] = h[j * n + i];
    });
  }
}

// One tile of a lazy block, as a column quantizer sees it.
struct SweepTile {
  float* t;        // [count, kTile]: column i1 + j of row s0 + s at t[j * kTile + s]
  int64_t count;   // i2 - i1
  int64_t i1, i2;  // the block's columns [i1, i2) (sweep order)
  int64_t s0, st;  // rows s0 .. s0 + st - 1; lanes st .. kTile - 1 are zero padding
};

// Lane s's current values of columns [c0, c1), c0 >= i1, into out [c1 - c0]:
// from the tile up to the block's end, then from wp, which has every earlier
// block's errors (and, when the block ended early at c0's group as
// gptq_sweep arranges, every error of the columns before c0).
void current_values(const SweepTile& tl, const float* wp, int64_t n, int64_t s, int64_t c0,
                    int64_t c1, float* out) {
  const float* wr = wp + (tl.s0 + s) * n;
  for (int64_t j = c0; j < c1; ++j) out[j - c0] = j < tl.i2 ? tl.t[(j - tl.i1) * kTile + s] : wr[j];
}

// GPTQ's sweep over wp [n_out, n] (sweep order; updated in place) with U
// [n, n]. Each task owns a chunk of rows; columns run in lazy blocks of bs,
// each block's errors reach the later columns through one GEMM. With
// group_cols > 0 (groups whose parameters are fitted at their first column),
// a block ends early at a group start when that group would reach past it.
// make(r0, r1) builds the column quantizer of rows [r0, r1), with
//   begin_tile(tile)            before the tile's first column;
//   column(tile, i, e, loss)    quantizes column i of the tile in all kTile
//                               lanes, writes the scaled errors (w - q) / d
//                               to e [kTile] (0 in padding lanes), adds their
//                               squares to loss [kTile], and subtracts
//                               e * U[col, j] from the tile's later columns j;
//   end_tile(tile)              after its last column.
// Returns the sum of the losses.
template <class MakeColumns>
double gptq_sweep(float* wp, const float* u, int64_t n_out, int64_t n, int64_t bs,
                  int64_t group_cols, const MakeColumns& make) {
  const int64_t n_chunks = std::min<int64_t>(pool().size(), (n_out + kTile - 1) / kTile);
  std::vector<double> chunk_loss(static_cast<size_t>(n_chunks), 0.0);
  pool().parallel_for(0, n_chunks, 1, [&](int64_t cb, int64_t ce, int) {
    std::vector<float> t(static_cast<size_t>(bs * kTile)), e(static_cast<size_t>(bs * kTile));
    std::vector<float> errs;
    float loss[kTile];
    for (int64_t ch = cb; ch < ce; ++ch) {
      const int64_t r0 = ch * n_out / n_chunks, r1 = (ch + 1) * n_out / n_chunks;
      const int64_t rows = r1 - r0;
      auto columns = make(r0, r1);
      errs.resize(static_cast<size_t>(rows * bs));
      double chunk_sum = 0;
      for (int64_t i1 = 0, i2 = 0; i1 < n; i1 = i2) {
        i2 = std::min(i1 + bs, n);
        if (group_cols > 0) {
          // End the block at a group start when that group reaches past the
          // block, so that the group's parameters see every earlier error.
          for (int64_t c = (i1 / group_cols + 1) * group_cols; c < i2; c += group_cols)
            if (std::min(c + group_cols, n) > i2) {
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
            }
          }
          const SweepTile tile{t.data(), count, i1, i2, s0, st};
          columns.begin_tile(tile);
          for (int64_t i = 0; i < count; ++i) columns.column(tile, i, e.data() + i * kTile, loss);
          columns.end_tile(tile);
          for (int64_t s = 0; s < st; ++s) {
            float* er = errs.data() + (s0 - r0 + s) * count;
            for (int64_t i = 0; i < count; ++i) er[i] = e[size_t(i * kTile + s)];
            chunk_sum += double(loss[s]);
          }
        }
        // The block's errors onto the later columns of these rows.
        if (i2 < n)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(n - i2), int(count),
                      -1.0f, errs.data(), int(count), u + i1 * n + i2, int(n), 1.0f,
                      wp + r0 * n + i2, int(n));
      }
      chunk_loss[size_t(ch)] = chunk_sum;
    }
  });
  double total = 0;
  for (double l : chunk_loss) total += l;
  return total;
}

// ------------------------------------------------------- integer group grids

// What the column quantizers of Gptq::quantize share.
struct IntegerTarget {
  const QuantSpec& spec;
  const RtnOptions& rtn;
  int64_t n;            // columns
  int64_t gc;           // columns per group
  int64_t ng;           // groups per row
  bool static_groups;   // parameters fixed up front (act_order)
  const int64_t* perm;  // [n] sweep position -> original column
  const float* wp;      // [n_out, n] sweep order
  const float* u;       // [n, n]
  float* pscale;        // [n_out, ng]
  float* pzero;         // [n_out, ng]
  uint8_t* codes;       // [n_out, n] sweep order

  GroupParams params_of(const float* x, int64_t len) const {
    return rtn.mse_clip ? search_group_params(x, len, spec, rtn) : group_params(x, len, spec);
  }
};

class IntegerColumns {
 public:
  IntegerColumns(const IntegerTarget& g, int64_t bs)
      : g_(g), q_(static_cast<size_t>(bs * kTile)), gbuf_(static_cast<size_t>(g.gc)) {}

  void begin_tile(const SweepTile& tl) {
    for (int64_t s = tl.st; s < kTile; ++s) {
      sc_[s] = 1.0f;
      zr_[s] = 0.0f;
    }
    loaded_ = -1;
  }

  void column(const SweepTile& tl, int64_t i, float* e, float* loss) {
    const int64_t n = g_.n, col = tl.i1 + i;
    const int64_t g = (g_.static_groups ? g_.perm[col] : col) / g_.gc;
    if (!g_.static_groups && col == g * g_.gc) {
      loaded_ = -1;
      const int64_t c_end = std::min(col + g_.gc, n);
      for (int64_t s = 0; s < tl.st; ++s) {
        current_values(tl, g_.wp, n, s, col, c_end, gbuf_.data());
        const GroupParams p = g_.params_of(gbuf_.data(), c_end - col);
        g_.pscale[(tl.s0 + s) * g_.ng + g] = p.scale;
        g_.pzero[(tl.s0 + s) * g_.ng + g] = p.zero;
      }
    }
    if (g != loaded_) {
      for (int64_t s = 0; s < tl.st; ++s) {
        sc_[s] = g_.pscale[(tl.s0 + s) * g_.ng + g];
        zr_[s] = g_.pzero[(tl.s0 + s) * g_.ng + g];
      }
      loaded_ = g;
    }
    sweep_column(tl.t, tl.count, i, g_.u + col * n + tl.i1, sc_, zr_, float(g_.spec.maxq()), e,
                 q_.data() + i * kTile, loss);
  }

  void end_tile(const SweepTile& tl) {
    for (int64_t s = 0; s < tl.st; ++s) {
      uint8_t* cr = g_.codes + (tl.s0 + s) * g_.n + tl.i1;
      for (int64_t i = 0; i < tl.count; ++i) cr[i] = q_[size_t(i * kTile + s)];
    }
  }

 private:
  const IntegerTarget& g_;
  std::vector<uint8_t> q_;   // [count, kTile] the tile's codes
  std::vector<float> gbuf_;  // [gc] a group's current values
  float sc_[kTile], zr_[kTile];
  int64_t loaded_ = -1;  // the group whose parameters sc_, zr_ hold
};

// ------------------------------------------------------------ ggml block grids

// What the column quantizers of Gptq::quantize_ggml share. Sweep order is the
// original order (no act_order).
struct GgmlTarget {
  GgmlType type;
  int64_t n;                 // columns
  int64_t block;             // columns per ggml block
  size_t row_bytes;          // bytes per row of data
  size_t block_bytes;        // bytes per ggml block
  const float* importance;   // [n] the imatrix for the blocks' fits
  const float* row_mean_sq;  // [n_out] mean w^2 of each row (legacy formats' weights)
  const float* wp;           // [n_out, n]
  const float* u;            // [n, n]
  uint8_t* data;             // [n_out, row_bytes]
  float* dequant;            // [n_out, n]
};

// One GgmlBlockGrid per row of the chunk, alive from a block's first column
// (fit) to its last (emit): a ggml block may span several lazy blocks.
class GgmlColumns {
 public:
  GgmlColumns(const GgmlTarget& g, int64_t r0, int64_t r1)
      : g_(g),
        r0_(r0),
        grids_(static_cast<size_t>(r1 - r0), GgmlBlockGrid(g.type)),
        group_(GgmlBlockGrid(g.type).group_size()),
        buf_(static_cast<size_t>(g.block)) {}

  void begin_tile(const SweepTile&) {}

  void column(const SweepTile& tl, int64_t i, float* e, float* loss) {
    const int64_t n = g_.n, col = tl.i1 + i, j = col % g_.block;
    const float* urow = g_.u + col * n + tl.i1;
    const float d = urow[i];
    if (j == 0) {
      for (int64_t s = 0; s < tl.st; ++s) {
        current_values(tl, g_.wp, n, s, col, col + g_.block, buf_.data());
        grid(tl, s).fit(buf_.data(), g_.importance + col, g_.block, g_.row_mean_sq[tl.s0 + s]);
      }
    }
    if (group_ > 1 && j % group_ == 0) {  // an i-quant: one code-book entry per group
      for (int64_t s = 0; s < tl.st; ++s) {
        current_values(tl, g_.wp, n, s, col, col + group_, buf_.data());
        grid(tl, s).quantize_group(j, buf_.data(), g_.importance + col);
      }
    }
    const float* ti = tl.t + i * kTile;
    for (int64_t s = 0; s < kTile; ++s) {
      float es = 0.0f;
      if (s < tl.st) {
        const float v = grid(tl, s).quantize_value(j, ti[s]);
        g_.dequant[(tl.s0 + s) * n + col] = v;
        es = (ti[s] - v) / d;
      }
      e[s] = es;
      loss[s] += es * es;
    }
    if (j == g_.block - 1) {
      const size_t offset = size_t(col / g_.block) * g_.block_bytes;
      for (int64_t s = 0; s < tl.st; ++s)
        grid(tl, s).emit(g_.data + size_t(tl.s0 + s) * g_.row_bytes + offset);
    }
    propagate_column(tl.t, tl.count, i, urow, e);
  }

  void end_tile(const SweepTile&) {}

 private:
  GgmlBlockGrid& grid(const SweepTile& tl, int64_t s) { return grids_[size_t(tl.s0 + s - r0_)]; }
  const GgmlTarget& g_;
  int64_t r0_;
  std::vector<GgmlBlockGrid> grids_;  // [r1 - r0]
  int64_t group_;                     // elements per code-book entry (8 for i-quants, else 1)
  std::vector<float> buf_;            // [block] a block's current values
};

}  // namespace

bool gptq_inverse_cholesky(const float* h, int64_t n, float* u) {
  check(n > 0, "gptq_inverse_cholesky: empty matrix");
  pool().parallel_for(0, n, 32, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t j = 0; j < n; ++j) u[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  });
  return factor_flipped(u, n);
}

// ---------------------------------------------------------------------- Gptq

Gptq::Gptq(int64_t n_in) : n_in_(n_in) {
  check(n_in > 0, "gptq: number of inputs must be positive (got ", n_in, ")");
  h_.assign(static_cast<size_t>(n_in * n_in), 0.0f);
}

void Gptq::add_batch(const float* x, int64_t rows) {
  check(rows >= 0, "gptq: add_batch with ", rows, " rows");
  check(!factored_, "gptq: add_batch after the Hessian was factored");
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

std::vector<float> Gptq::raw_diag() const {
  if (factored_) return diag_;
  std::vector<float> d(static_cast<size_t>(n_in_));
  for (int64_t i = 0; i < n_in_; ++i) d[size_t(i)] = h_[size_t(i * n_in_ + i)];
  return d;
}

const std::vector<float>& Gptq::hessian() const {
  check(!factored_, "gptq: the Hessian was factored in place; it is no longer available");
  return h_;
}

std::vector<float> Gptq::importance() const {
  std::vector<float> imp = raw_diag();
  for (float& v : imp) v *= 0.5f;
  return imp;
}

struct Gptq::Factor {
  std::vector<char> dead;      // [n] inputs never active
  std::vector<float> diag;     // [n] diag(H), dead ones 1
  std::vector<int64_t> perm;   // [n] sweep position -> column
  const float* u = nullptr;    // [n, n]
  double damp = 0;             // used
};

void Gptq::factor(const GptqOptions& opt) {
  if (factored_) {
    check(opt.act_order == factored_act_order_ && opt.damp == factored_damp_,
          "gptq: the Hessian was factored for act_order=", factored_act_order_, " damp ",
          factored_damp_, "; cannot factor it again for act_order=", opt.act_order, " damp ",
          opt.damp);
    return;
  }
  check_quantize_args(0, opt, "gptq");
  diag_ = raw_diag();
  const InputColumns in = input_columns(diag_);
  damp_used_ = damped_factor_in_place(h_.data(), n_in_, n_samples_, in.diag,
                                      sweep_order(in.diag, opt.act_order), opt.damp);
  factored_ = true;
  factored_act_order_ = opt.act_order;
  factored_damp_ = opt.damp;
}

Gptq::Factor Gptq::factor_for(const GptqOptions& opt, std::vector<float>& u_copy) const {
  Factor f;
  InputColumns in = input_columns(raw_diag());
  f.dead = std::move(in.dead);
  f.diag = std::move(in.diag);
  f.perm = sweep_order(f.diag, opt.act_order);
  if (factored_) {
    check(opt.act_order == factored_act_order_ && opt.damp == factored_damp_,
          "gptq: the Hessian was factored for act_order=", factored_act_order_, " damp ",
          factored_damp_, "; this quantization asks for act_order=", opt.act_order, " damp ",
          opt.damp);
    f.u = h_.data();
    f.damp = damp_used_;
  } else {
    u_copy = h_;
    f.damp = damped_factor_in_place(u_copy.data(), n_in_, n_samples_, f.diag, f.perm, opt.damp);
    f.u = u_copy.data();
  }
  return f;
}

void Gptq::check_quantize_args(int64_t n_out, const GptqOptions& opt, const char* what) const {
  check(n_out >= 0, what, ": ", n_out, " output rows");
  check(n_samples_ > 0, what, ": no calibration inputs (add_batch was never called)");
  check(opt.block_size >= 1, what, ": block size ", opt.block_size, " must be at least 1");
  check(opt.damp >= 0 && std::isfinite(opt.damp), what, ": damping ", opt.damp,
        " must be a nonnegative number");
}

GptqResult Gptq::quantize(const float* w, int64_t n_out, const QuantSpec& spec,
                          const GptqOptions& opt) const {
  return quantize_impl(w, nullptr, n_out, spec, opt);
}

GptqResult Gptq::quantize_in_place(float* w, int64_t n_out, const QuantSpec& spec,
                                   const GptqOptions& opt) const {
  return quantize_impl(w, w, n_out, spec, opt);
}

GptqResult Gptq::quantize_impl(const float* w, float* out, int64_t n_out, const QuantSpec& spec,
                               const GptqOptions& opt) const {
  validate_spec(spec, "gptq");
  check_quantize_args(n_out, opt, "gptq");
  const int64_t n = n_in_;
  GptqResult res;
  res.q = QuantizedTensor::empty(spec, n_out, n);
  res.damp = opt.damp;
  if (n_out == 0) return res;
  const int64_t ng = spec.n_groups(n), gc = spec.group_cols(n);
  const bool static_groups = opt.act_order;
  std::vector<float> u_copy;  // U when the Hessian was not factored in place
  const Factor f = factor_for(opt, u_copy);
  res.damp = f.damp;
  const std::vector<int64_t>& perm = f.perm;

  // Group parameters as floats [n_out, ng]; static groups are fixed here from
  // W (dead columns zeroed), dynamic ones when the sweep reaches them.
  std::vector<float> pscale(static_cast<size_t>(n_out * ng), 1.0f);
  std::vector<float> pzero(static_cast<size_t>(n_out * ng), 0.0f);
  const auto codes_buf = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(n_out * n));
  IntegerTarget target{.spec = spec,
                       .rtn = opt.rtn,
                       .n = n,
                       .gc = gc,
                       .ng = ng,
                       .static_groups = static_groups,
                       .perm = perm.data(),
                       .wp = nullptr,  // set below, once W is in sweep order
                       .u = nullptr,
                       .pscale = pscale.data(),
                       .pzero = pzero.data(),
                       .codes = codes_buf.get()};

  const SweepWeights wp = sweep_weights(w, out, n_out, n, f.dead, perm, [&](int64_t r, const float* row) {
    if (!static_groups) return;
    for (int64_t g = 0; g < ng; ++g) {
      const int64_t c0 = g * gc;
      const GroupParams p = target.params_of(row + c0, std::min(gc, n - c0));
      pscale[size_t(r * ng + g)] = p.scale;
      pzero[size_t(r * ng + g)] = p.zero;
    }
  });
  target.wp = wp.p;
  target.u = f.u;
  const double loss =
      gptq_sweep(wp.p, f.u, n_out, n, opt.block_size, static_groups ? 0 : gc,
                 [&](int64_t, int64_t) { return IntegerColumns(target, opt.block_size); });

  // Storage: fp16 parameters (already fp16 values) and packed codes.
  QuantizedTensor& qt = res.q;
  const int64_t rb = qt.row_bytes();
  const uint8_t* const codes = codes_buf.get();
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
  res.loss = loss / 2;  // as the reference: sum of (w - q)^2 / d^2, halved
  if (out) qt.dequantize_into(out);
  return res;
}

GgmlQuantized Gptq::quantize_ggml(const float* w, int64_t n_out, GgmlType type,
                                  const GptqOptions& opt) const {
  return quantize_ggml_impl(w, nullptr, n_out, type, opt);
}

GgmlQuantized Gptq::quantize_ggml_in_place(float* w, int64_t n_out, GgmlType type,
                                           const GptqOptions& opt) const {
  return quantize_ggml_impl(w, w, n_out, type, opt);
}

GgmlQuantized Gptq::quantize_ggml_impl(const float* w, float* out, int64_t n_out, GgmlType type,
                                       const GptqOptions& opt) const {
  const GgmlTypeTraits& tr = ggml_traits(type);
  check_quantize_args(n_out, opt, "gptq");
  const int64_t n = n_in_;
  check(n % tr.block_size == 0, "gptq: ", tr.name, " stores rows in blocks of ", tr.block_size,
        " values; a layer with ", n, " inputs is not a multiple of that");
  check(!opt.act_order, "gptq: act_order is not supported for ggml type ", tr.name,
        " (its blocks are runs of consecutive columns whose scales are fixed when the sweep "
        "reaches them); quantize without act_order");
  GgmlQuantized res;
  res.type = type;
  res.rows = n_out;
  res.cols = n;
  res.damp = opt.damp;
  const size_t row_bytes = ggml_row_size(type, n);
  res.data.resize(size_t(n_out) * row_bytes);
  if (!out) res.dequant.resize(static_cast<size_t>(n_out * n));
  if (n_out == 0) return res;

  std::vector<float> u_copy;  // U when the Hessian was not factored in place
  const Factor f = factor_for(opt, u_copy);
  res.damp = f.damp;
  const std::vector<float> imp = importance();
  // Mean square of each row, as ggml_quantize_row computes it for the legacy
  // formats' importance weights (a float sum in column order).
  std::vector<float> row_ms(static_cast<size_t>(n_out));
  const SweepWeights wp = sweep_weights(w, out, n_out, n, f.dead, f.perm, [&](int64_t r, const float* row) {
    float s = 0.0f;
    for (int64_t c = 0; c < n; ++c) s += row[c] * row[c];
    row_ms[size_t(r)] = s / float(n);
  });
  const GgmlTarget target{.type = type,
                          .n = n,
                          .block = tr.block_size,
                          .row_bytes = row_bytes,
                          .block_bytes = tr.type_size,
                          .importance = imp.data(),
                          .row_mean_sq = row_ms.data(),
                          .wp = wp.p,
                          .u = f.u,
                          .data = res.data.data(),
                          // In place: column c of wp is not read once its tile holds it.
                          .dequant = out ? wp.p : res.dequant.data()};
  const double loss =
      gptq_sweep(wp.p, f.u, n_out, n, opt.block_size, tr.block_size,
                 [&](int64_t r0, int64_t r1) { return GgmlColumns(target, r0, r1); });
  res.loss = loss / 2;
  return res;
}

GgmlQuantized quantize_ggml_rtn(const float* w, int64_t rows, int64_t cols, GgmlType type,
                                const float* importance) {
  const GgmlTypeTraits& tr = ggml_traits(type);
  check(rows >= 0 && cols >= 0, "quantize_ggml_rtn: bad shape [", rows, ", ", cols, "]");
  check(cols % tr.block_size == 0, "quantize_ggml_rtn: ", tr.name, " stores rows in blocks of ",
        tr.block_size, " values; a row of ", cols, " is not a multiple of that");
  GgmlQuantized res;
  res.type = type;
  res.rows = rows;
  res.cols = cols;
  const size_t row_bytes = ggml_row_size(type, cols);
  res.data.resize(size_t(rows) * row_bytes);
  res.dequant.resize(static_cast<size_t>(rows * cols));
  if (rows == 0 || cols == 0) return res;
  pool().parallel_for(0, rows, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      const float* wr = w + r * cols;
      if (!all_finite(wr, cols))
        for (int64_t c = 0; c < cols; ++c)
          check(std::isfinite(wr[c]), "quantize_ggml_rtn: weight [", r, ", ", c, "] is ", wr[c]);
      uint8_t* dst = res.data.data() + size_t(r) * row_bytes;
      ggml_quantize_row(type, wr, dst, cols, importance);
      ggml_dequantize_row(type, dst, res.dequant.data() + r * cols, cols);
    }
  });
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
