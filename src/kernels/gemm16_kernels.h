// The direct (small m) kernels of matmul_nt_16, one table per path, and the
// strategy driver with an explicit path and threshold (tests, benchmarks).
// Paths: scalar reference, AVX2 (+FMA, F16C), AVX-512F, and AVX-512 BF16
// (vdpbf16ps; BF16 weights and m <= kBf16DotMaxRows only, else the AVX-512F
// kernel).
// Numerics: kernels/gemm16.h.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm16.h"

namespace lieq {

enum class Gemm16Path : uint8_t { kScalar, kAvx2, kAvx512, kAvx512Bf16 };

// x rows up to which the avx512bf16 path uses vdpbf16ps; above, and for F16
// W, it runs the AVX-512F kernel (bench_gemm, BF16 [9728, 2560], one thread:
// vdpbf16ps 0.72x the time of AVX-512F at m = 1, 0.86x at m = 2, 1.34x at m = 4).
constexpr int64_t kBf16DotMaxRows = 2;

const char* gemm16_path_name(Gemm16Path p);
bool gemm16_path_supported(Gemm16Path p);
// Every supported path, scalar first (for tests).
std::vector<Gemm16Path> gemm16_supported_paths();
// The path of active_isa(); kAvx512Bf16 when that is kAvx512 and the CPU has
// AVX512_BF16 (LIEQ_ISA=avx2 or scalar caps it like the other kernels).
Gemm16Path gemm16_active_path();

struct Gemm16Kernels {
  Gemm16Path path;
  Isa isa;  // the vec_kernels() path used to convert panels of W
  // Floats of scratch `prepare` writes for x [m, k] (0: none).
  int64_t (*prepared_floats)(int64_t m, int64_t k);
  // Packs x [m, k] into xp (prepared_floats(m, k) floats) once per product.
  void (*prepare)(const float* x, int64_t m, int64_t k, float* xp);
  // y[i, j] (+)= sum_l x[i, l] w[j, l] for i < m, j < n; y row stride ldy.
  // x: [m, k] (row stride k), xp: prepared from the whole of x, w: [n, k].
  void (*dot_rows)(const float* x, const float* xp, int64_t m, const uint16_t* w, Dtype16 dt,
                   int64_t n, int64_t k, float* y, int64_t ldy, bool accumulate);
};

// The loop the AVX2 and AVX-512F direct kernels share: W in chunks of
// kDirectWChunk rows (32 rows of k = 2560 are 160 KB, still in L2 for the next
// group), x in groups of up to 4 rows (row stride ldx). Rows::template
// run<MR, DT>(x, w, nj, k, y, ldy, accumulate) is the path's register blocking
// of MR x rows against nj W rows.
constexpr int64_t kDirectWChunk = 32;

template <class Rows, Dtype16 DT>
void dot_rows_grouped(const float* x, int64_t ldx, int64_t m, const uint16_t* w, int64_t n,
                      int64_t k, float* y, int64_t ldy, bool accumulate) {
  for (int64_t j0 = 0; j0 < n; j0 += kDirectWChunk) {
    const int64_t nj = n - j0 < kDirectWChunk ? n - j0 : kDirectWChunk;
    for (int64_t i = 0; i < m; i += 4) {
      const float* xi = x + i * ldx;  // [<= 4, k]
      float* yi = y + i * ldy + j0;
      const uint16_t* wj = w + j0 * k;  // [nj, k]
      switch (m - i) {
        case 1: Rows::template run<1, DT>(xi, wj, nj, k, yi, ldy, accumulate); break;
        case 2: Rows::template run<2, DT>(xi, wj, nj, k, yi, ldy, accumulate); break;
        case 3: Rows::template run<3, DT>(xi, wj, nj, k, yi, ldy, accumulate); break;
        default: Rows::template run<4, DT>(xi, wj, nj, k, yi, ldy, accumulate); break;
      }
    }
  }
}

template <class Rows>
void dot_rows_by_dtype(const float* x, int64_t m, const uint16_t* w, Dtype16 dt, int64_t n,
                       int64_t k, float* y, int64_t ldy, bool accumulate) {
  if (dt == Dtype16::kBf16)
    dot_rows_grouped<Rows, Dtype16::kBf16>(x, k, m, w, n, k, y, ldy, accumulate);
  else
    dot_rows_grouped<Rows, Dtype16::kF16>(x, k, m, w, n, k, y, ldy, accumulate);
}

// The table of one path; p must be supported.
const Gemm16Kernels& gemm16_kernels(Gemm16Path p);
// Per-path tables: gemm16_scalar.cpp, gemm16_avx2.cpp, gemm16_avx512.cpp.
const Gemm16Kernels& gemm16_kernels_scalar();
const Gemm16Kernels& gemm16_kernels_avx2();
const Gemm16Kernels& gemm16_kernels_avx512();
const Gemm16Kernels& gemm16_kernels_avx512bf16();

// matmul_nt_16 with an explicit path and threshold: direct kernels for
// m <= direct_max_rows, convert + sgemm above. The kAvx512Bf16 table's
// dot_rows uses vdpbf16ps for any m (tests); this driver only for m <= kBf16DotMaxRows.
void matmul_nt_16_with(const Gemm16Kernels& kern, int64_t direct_max_rows, const float* x,
                       const uint16_t* w, Dtype16 dtype, float* y, int64_t m, int64_t n,
                       int64_t k, bool accumulate = false);

}  // namespace lieq
