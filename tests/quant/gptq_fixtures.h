// Fixtures shared by the GPTQ tests (integer grids and ggml blocks).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "quant/gptq.h"
#include "test_support.h"

namespace lieq::testing {

// Correlated inputs X = Z A, Z [rows, n] and A [n, n] standard normal: H is
// proportional to A^T Z^T Z A, far from diagonal and badly conditioned
// (A^T A's eigenvalues spread from ~0 to ~4n). x [rows, n], accumulated in double.
inline std::vector<float> correlated_inputs(int64_t rows, int64_t n, uint32_t seed) {
  const std::vector<float> z = normal_matrix(rows, n, seed);
  const std::vector<float> a = normal_matrix(n, n, seed + 1);
  std::vector<float> x(static_cast<size_t>(rows * n));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < n; ++c) {
      double v = 0;
      for (int64_t j = 0; j < n; ++j) v += double(z[size_t(r * n + j)]) * a[size_t(j * n + c)];
      x[size_t(r * n + c)] = float(v);
    }
  return x;
}

// A GPTQ accumulator that has seen x [rows, n].
inline Gptq hessian_of(const std::vector<float>& x, int64_t rows, int64_t n) {
  Gptq g(n);
  g.add_batch(x.data(), rows);
  return g;
}

inline double rel_diff(double a, double b) {
  return std::fabs(a - b) / std::max(std::fabs(b), 1e-30);
}

}  // namespace lieq::testing
