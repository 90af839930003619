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
