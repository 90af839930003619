#include "kernels/gemm16.h"

#include <cblas.h>

#include <algorithm>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/gemm16_kernels.h"
#include "kernels/vec.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace lieq {

namespace {

// Below this many multiply-adds a product is not worth splitting (as matmul_nt).
constexpr double kParallelMacs = double(1 << 18);
// Converted W per panel: 1M floats (4 MB) per thread, e.g. 409 rows of k = 2560.
constexpr int64_t kPanelFloats = int64_t(1) << 20;

// Scratch of the calling thread, grown on demand and reused across calls.
float* thread_scratch(std::vector<float>& v, int64_t n) {
  if (int64_t(v.size()) < n) v.resize(size_t(n));
  return v.data();
}
thread_local std::vector<float> tl_panel;     // [panel rows, k] converted W
thread_local std::vector<float> tl_prepared;  // x packed by Gemm16Kernels::prepare

void convert_rows(Isa isa, Dtype16 dt, const uint16_t* w, float* out, int64_t n) {
  const VecKernels& v = vec_kernels(isa);
  (dt == Dtype16::kBf16 ? v.bf16_to_f32 : v.f16_to_f32)(w, out, n);
}

// y[rows, j0:j1] (row stride ldy) (+)= x[rows, k] * w[j0:j1, k]^T, converting
// W in panels of at most kPanelFloats into this thread's scratch.
void panel_product(Isa isa, const float* x, int64_t rows, const uint16_t* w, Dtype16 dt,
                   int64_t j0, int64_t j1, int64_t k, float* y, int64_t ldy, float beta) {
  const int64_t panel_rows = std::max<int64_t>(16, kPanelFloats / std::max<int64_t>(k, 1) / 16 * 16);
  float* panel = thread_scratch(tl_panel, std::min(panel_rows, j1 - j0) * k);
  for (int64_t p0 = j0; p0 < j1; p0 += panel_rows) {
    const int64_t pn = std::min(panel_rows, j1 - p0);
    convert_rows(isa, dt, w + p0 * k, panel, pn * k);  // panel: [pn, k]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(pn), int(k), 1.0f, x,
                int(k), panel, int(k), beta, y + p0, int(ldy));
  }
}

void matmul_panels(Isa isa, const float* x, const uint16_t* w, Dtype16 dt, float* y, int64_t m,
                   int64_t n, int64_t k, bool accumulate) {
  // Split as matmul_nt: with m > n each row block converts all of W (n k
  // conversions against rows n k multiply-adds).
  const float beta = accumulate ? 1.0f : 0.0f;
  split_product(m, n, k, [&](int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
    panel_product(isa, x + r0 * k, r1 - r0, w, dt, j0, j1, k, y + r0 * n, n, beta);
  });
}

void matmul_direct(const Gemm16Kernels& kern, const float* x, const uint16_t* w, Dtype16 dt,
                   float* y, int64_t m, int64_t n, int64_t k, bool accumulate) {
  float* xp = nullptr;
  if (const int64_t nf = kern.prepared_floats(m, k); nf > 0) {
    xp = thread_scratch(tl_prepared, nf);
    kern.prepare(x, m, k, xp);
  }
  ThreadPool& pool = ThreadPool::global();
  const double macs = double(m) * double(n) * double(k);
  if (pool.size() == 1 || macs < kParallelMacs || n < 32) {
    kern.dot_rows(x, xp, m, w, dt, n, k, y, n, accumulate);
    return;
  }
  // Blocks of 16 W rows, several per thread (they finish at different times).
  const int64_t n_blocks16 = (n + 15) / 16;
  const int64_t grain = std::max<int64_t>(1, n_blocks16 / (int64_t(pool.size()) * 8));
  pool.parallel_for(0, n_blocks16, grain, [&](int64_t b, int64_t e, int) {
    const int64_t j0 = b * 16, j1 = std::min(n, e * 16);
    kern.dot_rows(x, xp, m, w + j0 * k, dt, j1 - j0, k, y + j0, n, accumulate);
  });
}

}  // namespace

const char* dtype16_name(Dtype16 dt) { return dt == Dtype16::kBf16 ? "BF16" : "F16"; }

const char* gemm16_path_name(Gemm16Path p) {
  switch (p) {
    case Gemm16Path::kScalar:
      return "scalar";
    case Gemm16Path::kAvx2:
      return "avx2";
    case Gemm16Path::kAvx512:
      return "avx512";
    case Gemm16Path::kAvx512Bf16:
      return "avx512bf16";
  }
  return "?";
}

bool gemm16_path_supported(Gemm16Path p) {
  switch (p) {
    case Gemm16Path::kScalar:
      return true;
    case Gemm16Path::kAvx2:
      return cpu_supports(Isa::kAvx2);
    case Gemm16Path::kAvx512:
      return cpu_supports(Isa::kAvx512);
    case Gemm16Path::kAvx512Bf16:
      return cpu_supports_avx512_bf16();
  }
  return false;
}

std::vector<Gemm16Path> gemm16_supported_paths() {
  std::vector<Gemm16Path> v;
  for (Gemm16Path p : {Gemm16Path::kScalar, Gemm16Path::kAvx2, Gemm16Path::kAvx512,
                       Gemm16Path::kAvx512Bf16})
    if (gemm16_path_supported(p)) v.push_back(p);
  return v;
}

Gemm16Path gemm16_active_path() {
  switch (active_isa()) {
    case Isa::kScalar:
      return Gemm16Path::kScalar;
    case Isa::kAvx2:
      return Gemm16Path::kAvx2;
    case Isa::kAvx512:
      break;
  }
  return cpu_supports_avx512_bf16() ? Gemm16Path::kAvx512Bf16 : Gemm16Path::kAvx512;
}

const Gemm16Kernels& gemm16_kernels(Gemm16Path p) {
  switch (p) {
    case Gemm16Path::kAvx512Bf16:
      return gemm16_kernels_avx512bf16();
    case Gemm16Path::kAvx512:
      return gemm16_kernels_avx512();
    case Gemm16Path::kAvx2:
      return gemm16_kernels_avx2();
    case Gemm16Path::kScalar:
      break;
  }
  return gemm16_kernels_scalar();
}

void matmul_nt_16_with(const Gemm16Kernels& kern, int64_t direct_max_rows, const float* x,
                       const uint16_t* w, Dtype16 dtype, float* y, int64_t m, int64_t n,
                       int64_t k, bool accumulate) {
  if (m == 0 || n == 0) return;
  if (m > direct_max_rows) {
    matmul_panels(kern.isa, x, w, dtype, y, m, n, k, accumulate);
    return;
  }
  // vdpbf16ps multiplies bf16 only, and is faster than convert + FMA only
  // for 1-2 rows: F16 weights and more rows take the AVX-512F kernel.
  const bool bf16_dot = dtype == Dtype16::kBf16 && m <= kBf16DotMaxRows;
  const Gemm16Kernels& direct =
      kern.path == Gemm16Path::kAvx512Bf16 && !bf16_dot ? gemm16_kernels_avx512() : kern;
  matmul_direct(direct, x, w, dtype, y, m, n, k, accumulate);
}

void matmul_nt_16(const float* x, const uint16_t* w, Dtype16 dtype, float* y, int64_t m,
                  int64_t n, int64_t k, bool accumulate) {
  static const Gemm16Kernels& kern = gemm16_kernels(gemm16_active_path());
  matmul_nt_16_with(kern, kGemm16DirectMaxRows, x, w, dtype, y, m, n, k, accumulate);
}

void matmul_nt_16_ref(const float* x, const uint16_t* w, Dtype16 dtype, float* y, int64_t m,
                      int64_t n, int64_t k, bool accumulate) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t l = 0; l < k; ++l) {
        const uint16_t h = w[j * k + l];
        const float wf = dtype == Dtype16::kBf16 ? bf16_to_f32(h) : f16_to_f32(h);
        s += double(x[i * k + l]) * double(wf);
      }
      y[i * n + j] = accumulate ? y[i * n + j] + float(s) : float(s);
    }
  }
}

}  // namespace lieq
