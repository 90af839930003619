// Scalar reference kernels (kernels/vec.h), compiled for the baseline target.
#include <algorithm>
#include <cmath>

#include "kernels/vec.h"
#include "util/half.h"

namespace lieq {
namespace {

void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = lieq::bf16_to_f32(x[i]);
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = lieq::f16_to_f32(x[i]);
}

void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += double(xr[i]) * double(xr[i]);
    const float scale = float(1.0 / std::sqrt(ss / double(dim) + double(eps)));
    for (int64_t i = 0; i < dim; ++i) yr[i] = xr[i] * scale * w[i];
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void softmax(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// 16 independent partial sums, the same association as the SIMD paths.
float dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s;
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void exp_row(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

double log_sum_exp(const float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double(x[i] - mx));
  return double(mx) + std::log(s);
}

}  // namespace

const VecKernels& vec_kernels_scalar() {
  static const VecKernels k{Isa::kScalar, bf16_to_f32, f16_to_f32, rms_norm, silu_mul,
                            softmax,      dot,         axpy,       exp_row,  log_sum_exp};
  return k;
}

const VecKernels& vec_kernels(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return vec_kernels_avx512();
    case Isa::kAvx2:
      return vec_kernels_avx2();
    case Isa::kScalar:
      break;
  }
  return vec_kernels_scalar();
}

const VecKernels& vec() {
  static const VecKernels& k = vec_kernels(active_isa());
  return k;
}

}  // namespace lieq
