// Matrix products of activations with weight matrices stored as in Hugging Face
// checkpoints: W is [n_out, n_in] row-major, so y = x W^T.
#pragma once

#include <cstdint>
#include <functional>

namespace lieq {

// y[m, n] (+)= x[m, k] * w[n, k]^T. Rows are contiguous (leading dims k, k, n).
// OpenBLAS sgemm.
void matmul_nt(const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k,
               bool accumulate = false);
// How matmul_nt splits y[m, n] = x[m, k] W^T over the global pool:
// product(r0, r1, j0, j1) computes rows [r0, r1) x columns [j0, j1) of y.
// Small products run whole on the caller; with m > n, row blocks (two per
// thread), else column blocks in multiples of 16 (two per thread).
using BlockProduct = std::function<void(int64_t r0, int64_t r1, int64_t j0, int64_t j1)>;
void split_product(int64_t m, int64_t n, int64_t k, const BlockProduct& product);

// Scalar reference (double accumulation) for tests.
void matmul_nt_ref(const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k,
                   bool accumulate = false);

// General row-major sgemm: C[m, n] = alpha * op(A) * op(B) + beta * C.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);

// OpenBLAS picks its kernels when the library loads, and this OpenBLAS does
// not recognise every AVX-512 CPU (Zen 4/5 get its AVX2 "Haswell" kernels).
// When the CPU has AVX-512 (F, BW, DQ, VL) and OPENBLAS_CORETYPE is unset,
// this sets OPENBLAS_CORETYPE=SkylakeX and re-executes the program so the
// AVX-512 kernels load (measured +31% perplexity throughput on tinylm).
// Returns only when no re-exec happened. Call first thing in main().
void select_blas_kernels(char** argv);

// Threads OpenBLAS may use (0 = leave as is). Returns the previous count.
int blas_set_threads(int n);

}  // namespace lieq
