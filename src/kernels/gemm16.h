// y = x W^T with W stored as 16-bit floats (BF16 or F16, as in Hugging Face
// checkpoints), x and y float32: the weights stay 16-bit in memory and are
// converted on the fly.
//
// Two strategies, chosen by the number of activation rows m:
//   m <= kGemm16DirectMaxRows (decoding, short batches): direct dot products
//     of x rows with W rows (kernels/gemm16_kernels.h), one path per
//     instruction set, picked at run time; W rows split over the thread pool.
//   larger m (prefill, perplexity batches): panels of W rows converted to
//     float32 into a per-thread scratch, each multiplied with OpenBLAS sgemm;
//     split over the pool as matmul_nt splits (rows of x when m > n, else
//     panels of W). Results equal matmul_nt on the converted W up to the
//     order of summation (bit-equal in the forward-pass tests).
// Numerics of the direct paths against exact (double) dot products, with
// S = sum_l |x[i, l] w[j, l]|:
//   scalar                double accumulation: one float rounding
//   avx2, avx512          float FMA over 8/16 lanes: <= (k / 8 + 8) 2^-24 S
//                         (measured <= 1.7e-7 S on the tests' sizes)
//   avx512bf16 (BF16 W,   x split as hi = bf16(x), lo = bf16(x - hi), so
//     m <= 2)             |x - hi - lo| <= 2^-16 |x|; vdpbf16ps products are
//                         exact, sums in float: <= 2^-16 S + (k / 16 + 8) 2^-24 S,
//                         i.e. ~1.5e-5 S worst case (measured <= 6.9e-6 S;
//                         the residuals are rounding errors of either sign).
//                         Subnormal bf16 values count as zero (the
//                         instruction's DAZ): |x| below ~1e-38 is dropped.
#pragma once

#include <cstdint>

namespace lieq {

enum class Dtype16 : uint8_t { kBf16, kF16 };
const char* dtype16_name(Dtype16 dt);  // "BF16", "F16"

// Activation rows up to which the direct kernels beat convert + sgemm
// (bench_gemm BM_MatmulNt16Path, AMD EPYC Zen 4, 2 threads, OpenBLAS SkylakeX
// kernels, BF16 [9728, 2560] and [768, 256]: direct AVX-512 at m = 16 takes
// 0.5-0.6x the time of the panels, at m = 64 0.9-1.0x, at m = 128 1.0-1.2x).
constexpr int64_t kGemm16DirectMaxRows = 32;

// y[m, n] (+)= x[m, k] * w[n, k]^T, w of type dtype. Rows contiguous (leading
// dims k, k, n). Uses the active path (gemm16_active_path()).
void matmul_nt_16(const float* x, const uint16_t* w, Dtype16 dtype, float* y, int64_t m,
                  int64_t n, int64_t k, bool accumulate = false);

// Scalar reference (double accumulation) for tests.
void matmul_nt_16_ref(const float* x, const uint16_t* w, Dtype16 dtype, float* y, int64_t m,
                      int64_t n, int64_t k, bool accumulate = false);

}  // namespace lieq
