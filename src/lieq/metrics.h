// Layer-wise diagnostics (docs/METHOD.md, "The three diagnostics") as pure
// functions of activations and weights, each checkable on constructed inputs.
#pragma once

#include <cstdint>
#include <vector>

namespace lieq {

// Accumulates the Gram matrix G = sum_t z_t z_t^T of token rows z_t [dim]
// (optionally centred and L2-normalised per row first), in double.
class GramAccumulator {
 public:
  GramAccumulator(int64_t dim, bool centre_and_normalise_rows);
  void add(const float* z, int64_t rows);  // z: [rows, dim]
  int64_t dim() const { return dim_; }
  int64_t n_rows() const { return n_rows_; }
  const std::vector<double>& gram() const { return g_; }  // [dim, dim], symmetric

 private:
  int64_t dim_;
  bool normalise_;
  int64_t n_rows_ = 0;
  std::vector<double> g_;
  std::vector<float> buf_;
};

// Eigenvalues of a symmetric matrix [n, n] (LAPACK), ascending; tiny negative
// round-off values are clamped to 0.
std::vector<double> symmetric_eigenvalues(const std::vector<double>& a, int64_t n);

// Spectral entropy H = -sum p log p with p = eig / sum(eig); RC = exp(-H), the
// inverse effective rank: 1 for rank one, 1 / n for a flat spectrum.
double spectral_entropy(const std::vector<double>& eig);
double representational_compactness(const std::vector<double>& eig);

// Share of the spectrum's energy in its k largest eigenvalues.
double top_k_energy_share(const std::vector<double>& eig, int64_t k);

// Default k for Top-k Energy Gain: 1% of the hidden size, at least 8 (and at most dim).
int64_t default_energy_k(int64_t hidden);

// Mean over tokens of 1 - cos(input_t, output_t); x_in, x_out: [rows, dim].
double lim_score(const float* x_in, const float* x_out, int64_t rows, int64_t dim);

// Fraction of weights whose z-score (w - mean) / std within their own matrix
// exceeds 1 in magnitude, pooled over the given matrices.
double zd_score(const std::vector<const std::vector<float>*>& matrices);

// Min-max normalisation to [0, 1]; a constant vector maps to all zeros.
std::vector<double> min_max_normalise(const std::vector<double>& v);

// Rank normalisation to [0, 1]: the smallest value 0, the largest 1, ties
// sharing their mean rank; insensitive to how far an outlier lies.
std::vector<double> rank_normalise(const std::vector<double>& v);

}  // namespace lieq
