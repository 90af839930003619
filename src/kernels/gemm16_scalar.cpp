// Scalar reference of the direct kernels (kernels/gemm16_kernels.h): double
// accumulation, one float rounding per output.
#include "kernels/gemm16_kernels.h"
#include "util/half.h"

namespace lieq {
namespace {

int64_t prepared_floats(int64_t, int64_t) { return 0; }
void prepare(const float*, int64_t, int64_t, float*) {}

void dot_rows(const float* x, const float*, int64_t m, const uint16_t* w, Dtype16 dt, int64_t n,
              int64_t k, float* y, int64_t ldy, bool accumulate) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t l = 0; l < k; ++l) {
        const uint16_t h = w[j * k + l];
        s += double(x[i * k + l]) * double(dt == Dtype16::kBf16 ? bf16_to_f32(h) : f16_to_f32(h));
      }
      float* o = y + i * ldy + j;
      *o = accumulate ? *o + float(s) : float(s);
    }
  }
}

}  // namespace

const Gemm16Kernels& gemm16_kernels_scalar() {
  static const Gemm16Kernels k{Gemm16Path::kScalar, Isa::kScalar, prepared_floats, prepare,
                               dot_rows};
  return k;
}

}  // namespace lieq
