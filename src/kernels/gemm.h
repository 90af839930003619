// Matrix products of activations with weight matrices stored as in Hugging Face
// checkpoints: W is [n_out, n_in] row-major, so y = x W^T.
#pragma once

#include <cstdint>

namespace lieq {

// y[m, n] (+)= x[m, k] * w[n, k]^T. Rows are contiguous (leading dims k, k, n).
// OpenBLAS sgemm.
void matmul_nt(const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k,
               bool accumulate = false);
// Scalar reference (double accumulation) for tests.
void matmul_nt_ref(const float* x, const float* w, float* y, int64_t m, int64_t n, int64_t k,
                   bool accumulate = false);

// General row-major sgemm: C[m, n] = alpha * op(A) * op(B) + beta * C.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);

// Threads OpenBLAS may use (0 = leave as is). Returns the previous count.
int blas_set_threads(int n);

}  // namespace lieq
