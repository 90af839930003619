// Elementwise hot kernels with one implementation per instruction set
// (scalar reference, AVX2, AVX-512), picked at run time (kernels/cpu_features.h).
//
// Callers use the dispatching functions of kernels/ops.h, kernels/attention.h
// and the conversions below; tests take each path's table from
// vec_kernels(isa) and compare it with the scalar reference on odd sizes.
// Numerics of the fast paths against the scalar ones:
//   bf16/f16 -> f32     bit-exact (NaN stays NaN)
//   rms_norm            sum of squares in double as the reference; <= 2 ulp apart
//   exp                 <= 2 ulp from exp (Cephes-style polynomial, two-step 2^n
//                       scaling: exact 0 below -104, inf above 88.73)
//   silu_mul, softmax   built on that exp; softmax sums in double
//   log_sum_exp         float exp of x - max (reference: double exp), sum in double:
//                       within 2e-7 (absolute) of the reference for any n
//   dot                 16-lane partial sums in float (bound n * 2^-24 * sum |a b|)
//   axpy                one fused multiply-add per element
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"

namespace lieq {

struct VecKernels {
  Isa isa;
  // y[i] = float(x[i]) for n 16-bit floats.
  void (*bf16_to_f32)(const uint16_t* x, float* y, int64_t n);
  void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n);
  // y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w; y may alias x.
  void (*rms_norm)(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps);
  // out[i] = silu(gate[i]) * up[i]; out may alias gate.
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n);
  // In-place softmax of x[0, n).
  void (*softmax)(float* x, int64_t n);
  float (*dot)(const float* a, const float* b, int64_t n);
  // y[i] += alpha * x[i]
  void (*axpy)(float alpha, const float* x, float* y, int64_t n);
  // y[i] = exp(x[i]); y may alias x.
  void (*exp)(const float* x, float* y, int64_t n);
  // log(sum_i exp(x[i])) for n >= 1 (max subtracted first; sum in double).
  double (*log_sum_exp)(const float* x, int64_t n);
};

// The table of one path; isa must be supported by the CPU (cpu_supports).
const VecKernels& vec_kernels(Isa isa);
// The table of active_isa().
const VecKernels& vec();

// Row conversions through the active path.
inline void convert_bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  vec().bf16_to_f32(x, y, n);
}
inline void convert_f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  vec().f16_to_f32(x, y, n);
}

// Per-path tables, defined in vec_scalar.cpp, vec_avx2.cpp and vec_avx512.cpp.
const VecKernels& vec_kernels_scalar();
const VecKernels& vec_kernels_avx2();
const VecKernels& vec_kernels_avx512();

}  // namespace lieq
