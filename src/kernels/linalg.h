// Dense symmetric and triangular linear algebra on row-major float32 [n, n]
// matrices, for GPTQ's Hessian and factor: a tiled SYRK, a blocked in-place
// Cholesky, an in-place triangular inverse, and the permutations around them.
// OpenBLAS runs single-threaded (lieq's pool owns the cores), so each O(n^3)
// step is cut into independent BLAS calls that `pool` runs in parallel. How a
// step is cut depends on pool.size() (the tiles of LowerTiles in linalg.cpp),
// so results are deterministic for a given thread count, not across counts.
//
// A row-major lower triangle is a column-major upper one: the LAPACKE calls
// take the matrices as they are, without transposed copies.
#pragma once

#include <cstdint>

#include "util/thread_pool.h"

namespace lieq {

// Rows and columns of the diagonal blocks of cholesky_lower and
// invert_lower_in_place (SPOTRF / STRTRI on 128 x 128 blocks).
inline constexpr int64_t kCholBlock = 128;

// h := beta h + alpha x^T x, computed on the lower triangle in square tiles
// (SSYRK on the diagonal, SGEMM below) and mirrored to the upper one.
// x: [rows, n] row-major; h: [n, n] row-major, symmetric on entry and exit.
void syrk_update(const float* x, int64_t rows, int64_t n, float alpha, float beta, float* h,
                 ThreadPool& pool = ThreadPool::global());

// In place a = L L^T, right-looking blocked by kCholBlock (SPOTRF on the
// diagonal block, a parallel STRSM of the panel in 64-row chunks, a tiled
// SSYRK/SGEMM update of the trailing lower triangle).
// a: [n, n] row-major; its lower triangle (diagonal included) is read and
// becomes L; the strict upper triangle is never read or written, on failure
// too. Returns false when a is not (numerically) positive definite; the
// lower triangle is then partly overwritten.
bool cholesky_lower(float* a, int64_t n, ThreadPool& pool = ThreadPool::global());

// In place l := l^-1 for a lower triangular l with a nonzero diagonal, by row
// blocks of kCholBlock, the columns left of each diagonal block in parallel
// chunks of 64 (SGEMM + STRSM), then STRTRI on the diagonal block.
// l: [n, n] row-major; its strict upper triangle must be zero, and stays so.
// Scratch: one [128, n] copy of a row block. Throws on a zero pivot.
void invert_lower_in_place(float* l, int64_t n, ThreadPool& pool = ThreadPool::global());

// a[i, j] <-> a[n-1-i, n-1-j] (a := J a J, J the reversal): the flat array
// reversed. a: [n, n] row-major.
void reverse_both(float* a, int64_t n, ThreadPool& pool = ThreadPool::global());

// GPTQ's factor from a flipped Hessian. a: [n, n] row-major holding
// B = J H J (H symmetric positive definite) in its lower triangle; on success
// a becomes U = J L^-1 J with B = L L^T, the upper Cholesky factor of H^-1
// (H^-1 = U^T U), with a zero strict lower triangle. Returns false when the
// Cholesky fails; a's strict upper triangle is then as it was, so the caller
// can rebuild B from it.
bool factor_flipped(float* a, int64_t n, ThreadPool& pool = ThreadPool::global());

// In place a := J P^T a P J (P the permutation perm, J the reversal):
// a[i, j] becomes a[q_i, q_j] with q_i = perm[n - 1 - i]. Columns of every
// row in parallel, then whole rows along the permutation's cycles (one row
// of scratch). The identity perm is reverse_both. GPTQ's a is symmetric, but
// nothing here relies on it.
// a: [n, n] row-major (both triangles); perm: [n], a permutation of 0 .. n-1.
void permute_symmetric(float* a, int64_t n, const int64_t* perm,
                       ThreadPool& pool = ThreadPool::global());

}  // namespace lieq
