// Bit allocation across decoder layers under an average bits-per-weight
// budget (docs/METHOD.md, "Allocation"). One width per decoder layer for all
// its linear weights; widths come from a small set of levels (e.g. {2, 4}).
// Levels are storage formats (format/storage_format.h: integer grids or ggml
// types); costs are their exact storage bits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "format/storage_format.h"

namespace lieq {

// Shapes of one decoder layer's linear weights ([rows, cols] each).
struct LayerShapes {
  std::vector<std::pair<int64_t, int64_t>> linears;
  int64_t params() const;
};

// Everything the allocator needs to know about the model.
struct AllocProblem {
  std::vector<LayerShapes> layers;
  // The formats a layer may get, cheapest first (e.g. int2 g128, int4 g128;
  // or Q2_K, Q4_K), all distinct.
  std::vector<StorageFormat> levels;
  double target_bpw = 0;       // average over the quantized linear weights
  // Storage bits of layer l at level index k.
  int64_t layer_bits(size_t l, size_t k) const;
  int64_t linear_params() const;
  // The budget in bits: floor(target_bpw * linear_params).
  int64_t budget_bits() const;
};

struct Allocation {
  std::vector<int> level;  // per layer: index into problem.levels
  int64_t bits = 0;        // total storage bits of the linear weights
  double bpw = 0;          // bits / linear params
};

// Total bits and bpw of an assignment.
Allocation make_allocation(const AllocProblem& p, std::vector<int> level);

// Greedy promotion by score (LieQ, positional, LIM, ZD): every layer starts at
// the lowest level; then, level by level, layers are promoted to the next
// level in order of decreasing score while the total stays within the budget
// (a layer that does not fit is skipped, smaller ones after it may still fit).
// Ties in score keep the lower layer index first. Throws Error when even the
// lowest level exceeds the budget.
Allocation allocate_by_score(const AllocProblem& p, const std::vector<double>& score);

// Every layer at the highest level that fits the budget.
Allocation allocate_uniform(const AllocProblem& p);

// The group sizes an integer grid may have (validate_spec): 0 (per output
// channel) and the powers of two 16 .. 1024.
inline constexpr int kGridGroupSizes[] = {0, 16, 32, 64, 128, 256, 512, 1024};

// How a user reaches a bpw target with one integer grid for every layer: the
// grid among the levels' bit widths x kGridGroupSizes (the levels' symmetry)
// with the most total bits within the budget, e.g. int2 g64 asym (2.5 bpw)
// for 2.5 and int4 g128 asym (4.25) for 4.25 with levels 2, 4. Ties keep the
// lower width, then the level's own group size. Empty when a level is not an
// integer grid (ggml types: allocate_uniform picks among the levels) or when
// nothing fits the budget.
std::optional<StorageFormat> uniform_grid(const AllocProblem& p);

// llama.cpp's positional preference: i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2
// score 1, the rest 0 (then by position).
std::vector<double> positional_scores(int n_layers);

// Multiple-choice knapsack, solved exactly: minimise sum_l error[l][k_l]
// subject to sum_l layer_bits(l, k_l) <= budget. error[l][k] is layer l's
// measured error at level k. Dynamic programming over Pareto frontiers of
// (bits, error); ties broken toward fewer bits.
Allocation allocate_knapsack(const AllocProblem& p, const std::vector<std::vector<double>>& error);

// Exhaustive search over all assignments (tests; small problems only).
Allocation allocate_brute_force(const AllocProblem& p, const std::vector<std::vector<double>>& error);

}  // namespace lieq
