// Bit allocation: exact budgets (2.25 bpw is uniform int2 g128 asym), greedy
// promotion by score (order, skipping what does not fit), uniform, positional
// scores against llama.cpp's rule written out by hand, and the exact
// multiple-choice knapsack against brute force on many random problems.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "expect_error.h"
#include "lieq/allocate.h"

namespace lieq {
namespace {

// 256x512 and 512x256: 262144 weights, 2048 groups of 128 per layer; at int2
// g128 asym that is 2 + 32 * 2048 / 262144 = 2.25 bpw, at int4 4.25.
LayerShapes small_layer() { return LayerShapes{{{256, 512}, {512, 256}}}; }

AllocProblem equal_layers(int n, std::vector<int> levels, double target) {
  AllocProblem p;
  p.layers.assign(static_cast<size_t>(n), small_layer());
  p.levels = grid_formats(levels, 128, false);
  p.target_bpw = target;
  return p;
}

// A decoder layer shaped like Qwen3-4B's (hidden 2560, 32 q heads and 8 kv
// heads of 128, intermediate 9728).
LayerShapes qwen3_4b_layer() {
  return LayerShapes{{{4096, 2560}, {1024, 2560}, {1024, 2560}, {2560, 4096}, {9728, 2560}, {9728, 2560},
                      {2560, 9728}}};
}

int count_at(const Allocation& a, int k) { return int(std::count(a.level.begin(), a.level.end(), k)); }

double total_error(const std::vector<std::vector<double>>& e, const std::vector<int>& level) {
  double s = 0;
  for (size_t l = 0; l < level.size(); ++l) s += e[l][size_t(level[l])];
  return s;
}

// ------------------------------------------------------------------- budgets

TEST(AllocBudget, ShapesAndBits) {
  const LayerShapes s = small_layer();
  EXPECT_EQ(s.params(), 262144);
  const AllocProblem p = equal_layers(3, {2, 4}, 2.25);
  EXPECT_EQ(p.linear_params(), 3 * 262144);
  EXPECT_EQ(p.layer_bits(0, 0), 2 * 262144 + 32 * 2048);
  EXPECT_EQ(p.layer_bits(2, 1), 4 * 262144 + 32 * 2048);
  const QuantSpec int2{2, 128, false};
  EXPECT_EQ(p.layer_bits(1, 0), int2.storage_bits(256, 512) + int2.storage_bits(512, 256));
  AllocProblem sym = p;
  sym.levels = grid_formats({2, 4}, 128, true);
  EXPECT_EQ(sym.layer_bits(0, 0), 2 * 262144 + 16 * 2048);  // no zero points
  AllocProblem per_channel = p;
  per_channel.levels = grid_formats({2, 4}, 0, false);  // one group per row: 256 + 512 rows
  EXPECT_EQ(per_channel.layer_bits(0, 0), 2 * 262144 + 32 * 768);
  // Partial last group: 100 columns in groups of 64 = 2 groups per row.
  AllocProblem odd = p;
  odd.layers = {LayerShapes{{{3, 100}}}};
  odd.levels = grid_formats({2, 4}, 64, false);
  EXPECT_EQ(odd.layer_bits(0, 1), 4 * 300 + 32 * 6);
  EXPECT_LIEQ_ERROR(p.layer_bits(3, 0), "layer 3 out of range");
  EXPECT_LIEQ_ERROR(p.layer_bits(0, 2), "level index 2 out of range");
}

TEST(AllocBudget, GgmlLevelsCostTheirBytes) {
  // Q2_K: 84 bytes per 256 weights (2.625 bpw); Q4_K: 144 (4.5 bpw). A row of
  // 100 values is a multiple of neither 256 nor 32: both fall back to F16.
  AllocProblem p;
  p.layers = {small_layer(), LayerShapes{{{3, 100}}}};
  p.levels = {StorageFormat::ggml(GgmlType::Q2_K), StorageFormat::ggml(GgmlType::Q4_K)};
  EXPECT_EQ(p.layer_bits(0, 0), 262144 / 256 * 84 * 8);
  EXPECT_EQ(p.layer_bits(0, 1), 262144 / 256 * 144 * 8);
  EXPECT_EQ(p.layer_bits(1, 0), 300 * 16);
  EXPECT_EQ(p.layer_bits(1, 1), 300 * 16);
  // A 96-column row takes Q2_K's fallback IQ4_NL (18 bytes per 32) and Q4_K's Q5_0 (22).
  p.layers = {LayerShapes{{{2, 96}}}};
  EXPECT_EQ(p.layer_bits(0, 0), 2 * 3 * 18 * 8);
  EXPECT_EQ(p.layer_bits(0, 1), 2 * 3 * 22 * 8);
  // Mixed families in one problem: an integer grid next to a ggml type.
  p.layers = {small_layer()};
  p.levels = {StorageFormat::grid({2, 128, false}), StorageFormat::ggml(GgmlType::Q4_K)};
  EXPECT_EQ(p.layer_bits(0, 0), 2 * 262144 + 32 * 2048);
  EXPECT_EQ(p.layer_bits(0, 1), 262144 / 256 * 144 * 8);
  p.target_bpw = 4.5;
  EXPECT_EQ(allocate_uniform(p).level, std::vector<int>{1});
  p.target_bpw = 2.0;
  EXPECT_LIEQ_ERROR(allocate_uniform(p), "minimum achievable 2.25 bpw", "int2 g128 asym");
}

TEST(AllocBudget, TargetIsExactBits) {
  const AllocProblem p = equal_layers(12, {2, 4}, 2.25);
  EXPECT_EQ(p.budget_bits(), 12 * p.layer_bits(0, 0));
  // Decimal targets that are not exact doubles still give the intended integer.
  for (int n : {7, 12, 36}) {
    AllocProblem q = equal_layers(n, {2, 4}, (2.25 * (n - 1) + 4.25) / n);
    EXPECT_EQ(q.budget_bits(), (n - 1) * q.layer_bits(0, 0) + q.layer_bits(0, 1)) << n;
    q.target_bpw = 2.3;
    EXPECT_EQ(q.budget_bits(), int64_t(n) * 262144 * 23 / 10) << n;
  }
  // Real shapes: 36 Qwen3-4B-like layers at 2.25 is exactly uniform int2 g128.
  AllocProblem q;
  q.layers.assign(36, qwen3_4b_layer());
  q.levels = grid_formats({2, 4}, 128, false);
  q.target_bpw = 2.25;
  EXPECT_EQ(q.budget_bits(), 36 * q.layer_bits(0, 0));
  const Allocation u = allocate_uniform(q);
  EXPECT_EQ(u.level, std::vector<int>(36, 0));
  EXPECT_EQ(u.bpw, 2.25);
  q.target_bpw = (2.25 * 35 + 4.25) / 36;  // one layer at 4 bits
  const Allocation a = allocate_by_score(q, positional_scores(36));
  EXPECT_EQ(count_at(a, 1), 1);
  EXPECT_EQ(a.level[0], 1);
  EXPECT_EQ(a.bpw, q.target_bpw);
  EXPECT_LIEQ_ERROR((void)equal_layers(2, {2, 4}, 0).budget_bits(), "positive");
}

TEST(AllocBudget, MakeAllocation) {
  const AllocProblem p = equal_layers(4, {2, 4}, 3.0);
  const Allocation a = make_allocation(p, {0, 1, 1, 0});
  EXPECT_EQ(a.bits, 2 * p.layer_bits(0, 0) + 2 * p.layer_bits(0, 1));
  EXPECT_EQ(a.bpw, 3.25);
  EXPECT_LIEQ_ERROR(make_allocation(p, {0, 1, 0}), "3 levels assigned for 4 layers");
  EXPECT_LIEQ_ERROR(make_allocation(p, {0, 2, 0, 0}), "layer 1 level index 2 out of range");
}

// -------------------------------------------------------------------- greedy

TEST(AllocGreedy, UniformTwoBitsAtTwoPointTwoFive) {
  const AllocProblem p = equal_layers(12, {2, 4}, 2.25);
  std::vector<double> score(12);
  for (int i = 0; i < 12; ++i) score[size_t(i)] = double((i * 5) % 12);
  const Allocation a = allocate_by_score(p, score);
  EXPECT_EQ(a.level, std::vector<int>(12, 0));
  EXPECT_EQ(a.bits, p.budget_bits());
  EXPECT_EQ(a.bpw, 2.25);
}

TEST(AllocGreedy, OneLayerPromotedExactly) {
  const double target = (2.25 * 11 + 4.25) / 12;
  AllocProblem p = equal_layers(12, {2, 4}, target);
  std::vector<double> score(12);
  for (int i = 0; i < 12; ++i) score[size_t(i)] = double((i * 5) % 12);  // layer 7 scores 11
  const Allocation a = allocate_by_score(p, score);
  std::vector<int> want(12, 0);
  want[7] = 1;
  EXPECT_EQ(a.level, want);
  EXPECT_EQ(a.bits, p.budget_bits());
  EXPECT_EQ(a.bpw, target);
  // Just below: nothing fits any more.
  p.target_bpw = target - 1e-9;
  const Allocation b = allocate_by_score(p, score);
  EXPECT_EQ(b.level, std::vector<int>(12, 0));
  EXPECT_EQ(b.bpw, 2.25);
}

TEST(AllocGreedy, PromotesInScoreOrderTiesByIndex) {
  // Three of eight layers fit at 4 bits; scores tie between layers 2, 5, 6.
  const AllocProblem p = equal_layers(8, {2, 4}, (2.25 * 5 + 4.25 * 3) / 8);
  const std::vector<double> score{0.1, 0.3, 0.9, 0.2, 0.0, 0.9, 0.9, 0.5};
  const Allocation a = allocate_by_score(p, score);
  EXPECT_EQ(a.level, (std::vector<int>{0, 0, 1, 0, 0, 1, 1, 0}));
  const std::vector<double> score2{0.1, 0.3, 0.9, 0.2, 0.0, 0.9, 0.4, 0.95};
  EXPECT_EQ(allocate_by_score(p, score2).level, (std::vector<int>{0, 0, 1, 0, 0, 1, 0, 1}));
}

TEST(AllocGreedy, SkipsALayerThatDoesNotFit) {
  // Layer 0 has 4x the weights of layers 1 and 2 and the highest score; the
  // budget holds both small promotions but not the big one.
  AllocProblem p;
  p.layers = {LayerShapes{{{1024, 512}}}, LayerShapes{{{256, 512}}}, LayerShapes{{{512, 256}}}};
  p.levels = grid_formats({2, 4}, 128, false);
  int64_t min_bits = 0;
  for (size_t l = 0; l < 3; ++l) min_bits += p.layer_bits(l, 0);
  const int64_t small_delta = p.layer_bits(1, 1) - p.layer_bits(1, 0);
  ASSERT_EQ(p.layer_bits(2, 1) - p.layer_bits(2, 0), small_delta);
  ASSERT_EQ(p.layer_bits(0, 1) - p.layer_bits(0, 0), 4 * small_delta);
  const std::vector<double> score{3, 2, 1};
  p.target_bpw = double(min_bits + 2 * small_delta) / double(p.linear_params());
  EXPECT_EQ(p.budget_bits(), min_bits + 2 * small_delta);
  Allocation a = allocate_by_score(p, score);
  EXPECT_EQ(a.level, (std::vector<int>{0, 1, 1}));
  EXPECT_EQ(a.bits, p.budget_bits());
  p.target_bpw = double(min_bits + 2 * small_delta - 1) / double(p.linear_params());
  EXPECT_EQ(allocate_by_score(p, score).level, (std::vector<int>{0, 1, 0}));
  p.target_bpw = double(min_bits + 4 * small_delta) / double(p.linear_params());
  EXPECT_EQ(allocate_by_score(p, score).level, (std::vector<int>{1, 0, 0}));
}

TEST(AllocGreedy, LevelByLevel) {
  // Levels {2, 3, 4}: first every layer that fits goes to 3 bits in score
  // order, then to 4 bits in score order.
  AllocProblem p = equal_layers(4, {2, 3, 4}, 0);
  const int64_t b2 = p.layer_bits(0, 0), b3 = p.layer_bits(0, 1), b4 = p.layer_bits(0, 2);
  const std::vector<double> score{0.2, 0.8, 0.5, 0.1};
  auto with_budget = [&](int64_t bits) {
    p.target_bpw = double(bits) / double(p.linear_params());
    EXPECT_EQ(p.budget_bits(), bits);
    return allocate_by_score(p, score).level;
  };
  EXPECT_EQ(with_budget(2 * b2 + 2 * b3), (std::vector<int>{0, 1, 1, 0}));
  EXPECT_EQ(with_budget(4 * b3), (std::vector<int>{1, 1, 1, 1}));
  EXPECT_EQ(with_budget(3 * b3 + b4), (std::vector<int>{1, 2, 1, 1}));
  // Three first promotions fit, the fourth does not; no second one fits.
  EXPECT_EQ(with_budget(b2 + 2 * b3 + b4 - 1), (std::vector<int>{1, 1, 1, 0}));
  EXPECT_EQ(with_budget(4 * b4), (std::vector<int>{2, 2, 2, 2}));
  EXPECT_EQ(with_budget(4 * b4 + 12345), (std::vector<int>{2, 2, 2, 2}));
}

TEST(AllocGreedy, Errors) {
  AllocProblem p = equal_layers(4, {2, 4}, 2.0);
  const std::vector<double> score(4, 0.0);
  EXPECT_LIEQ_ERROR(allocate_by_score(p, score), "target 2 bpw", "minimum achievable 2.25 bpw");
  EXPECT_LIEQ_ERROR(allocate_uniform(p), "target 2 bpw", "minimum achievable 2.25 bpw");
  p.target_bpw = 3;
  EXPECT_LIEQ_ERROR(allocate_by_score(p, {1.0, 2.0}), "2 scores for 4 layers");
  EXPECT_LIEQ_ERROR(allocate_by_score(p, {1.0, 2.0, NAN, 0.0}), "score of layer 2");
  p.levels = grid_formats({2, 2}, 128, false);
  EXPECT_LIEQ_ERROR(allocate_by_score(p, score), "int2 g128 asym", "given twice");
  p.levels = {};
  EXPECT_LIEQ_ERROR(allocate_by_score(p, score), "no levels");
  EXPECT_LIEQ_ERROR(grid_formats({2, 7}, 128, false), "bits 7");
  p.levels = grid_formats({2, 4}, 128, false);
  p.layers.clear();
  EXPECT_LIEQ_ERROR(allocate_by_score(p, {}), "no layers");
}

// ------------------------------------------------------------------- uniform

TEST(AllocUniform, HighestLevelThatFits) {
  AllocProblem p = equal_layers(6, {2, 3, 4, 8}, 3.5);
  EXPECT_EQ(allocate_uniform(p).level, std::vector<int>(6, 1));
  EXPECT_EQ(allocate_uniform(p).bpw, 3.25);
  p.target_bpw = 4.25;
  EXPECT_EQ(allocate_uniform(p).level, std::vector<int>(6, 2));
  p.target_bpw = 8.2;
  EXPECT_EQ(allocate_uniform(p).level, std::vector<int>(6, 2));
  p.target_bpw = 8.25;
  EXPECT_EQ(allocate_uniform(p).level, std::vector<int>(6, 3));
  p.target_bpw = 100;
  EXPECT_EQ(allocate_uniform(p).level, std::vector<int>(6, 3));
  p.target_bpw = 2.25;
  EXPECT_EQ(allocate_uniform(p).level, std::vector<int>(6, 0));
  p.target_bpw = 2.2499;
  EXPECT_LIEQ_ERROR(allocate_uniform(p), "below the minimum achievable 2.25 bpw");
}

// ---------------------------------------------------------------- positional

std::vector<double> indicator(int n, const std::vector<int>& ones) {
  std::vector<double> v(static_cast<size_t>(n), 0.0);
  for (int i : ones) v[size_t(i)] = 1.0;
  return v;
}

TEST(AllocPositional, MatchesLlamaCppRule) {
  // n = 12: n/8 = 1, 7n/8 = 10: {0} u {10, 11} u {i : (i - 1) % 3 == 2} = {3, 6, 9}.
  EXPECT_EQ(positional_scores(12), indicator(12, {0, 3, 6, 9, 10, 11}));
  // n = 36: n/8 = 4, 7n/8 = 31: {0..3} u {31..35} u {6, 9, ..., 30}.
  EXPECT_EQ(positional_scores(36), indicator(36, {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 31, 32,
                                                  33, 34, 35}));
  // n = 28: n/8 = 3, 7n/8 = 24: {0, 1, 2} u {24..27} u {5, 8, ..., 23}.
  EXPECT_EQ(positional_scores(28), indicator(28, {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27}));
  // n = 4: n/8 = 0, 7n/8 = 3: {3} u {2}.
  EXPECT_EQ(positional_scores(4), indicator(4, {2, 3}));
  EXPECT_TRUE(positional_scores(0).empty());
  EXPECT_LIEQ_ERROR(positional_scores(-1), "negative");
}

TEST(AllocPositional, GreedyPrefersEarlierLayersAmongEqualScores) {
  // Three promotions on 12 layers: the first three layers scoring 1 (0, 3, 6).
  const AllocProblem p = equal_layers(12, {2, 4}, (2.25 * 9 + 4.25 * 3) / 12);
  EXPECT_EQ(allocate_by_score(p, positional_scores(12)).level,
            (std::vector<int>{1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0}));
}

// ------------------------------------------------------------------ knapsack

// A random problem: 2..7 layers of varying shapes, one of the level sets,
// integer-valued errors (so that sums are exact and ties happen) or real ones,
// monotone (falling with the level) or not, a budget between the fewest and
// the most bits (sometimes beyond).
struct RandomProblem {
  AllocProblem p;
  std::vector<std::vector<double>> error;
};

RandomProblem random_problem(std::mt19937_64& rng, int case_index) {
  static const std::vector<std::vector<int>> level_sets{{2, 3, 4}, {2, 4}, {2, 3, 4, 8}};
  static const std::vector<int64_t> dims{64, 100, 128, 192, 256, 300, 384};
  static const std::vector<int> group_sizes{128, 64, 0, 32};
  auto pick = [&](int64_t n) { return int64_t(rng() % uint64_t(n)); };
  RandomProblem r;
  AllocProblem& p = r.p;
  const std::vector<int>& bits = level_sets[size_t(case_index) % level_sets.size()];
  const int group_size = group_sizes[size_t(pick(4))];
  const bool symmetric = pick(2) == 0;
  p.levels = grid_formats(bits, group_size, symmetric);
  const int n = 2 + int(pick(6));
  for (int l = 0; l < n; ++l) {
    LayerShapes s;
    const int n_lin = 1 + int(pick(3));
    for (int j = 0; j < n_lin; ++j)
      s.linears.emplace_back(dims[size_t(pick(int64_t(dims.size())))], dims[size_t(pick(int64_t(dims.size())))]);
    p.layers.push_back(s);
  }
  const bool integer = (case_index / 3) % 2 == 0, monotone = (case_index / 6) % 2 == 0;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int l = 0; l < n; ++l) {
    std::vector<double> e(p.levels.size());
    for (double& x : e) x = integer ? double(pick(6)) : u(rng);
    if (monotone) std::sort(e.begin(), e.end(), std::greater<double>());
    r.error.push_back(e);
  }
  int64_t lo = 0, hi = 0;
  for (size_t l = 0; l < p.layers.size(); ++l) {
    lo += p.layer_bits(l, 0);
    hi += p.layer_bits(l, p.levels.size() - 1);
  }
  const int64_t budget = lo + int64_t(double(hi - lo) * u(rng) * 1.1);
  p.target_bpw = double(budget) / double(p.linear_params());
  return r;
}

TEST(Knapsack, MatchesBruteForceOnRandomProblems) {
  std::mt19937_64 rng(20250807);
  for (int c = 0; c < 600; ++c) {
    const RandomProblem r = random_problem(rng, c);
    const Allocation k = allocate_knapsack(r.p, r.error);
    const Allocation b = allocate_brute_force(r.p, r.error);
    const int64_t budget = r.p.budget_bits();
    ASSERT_LE(k.bits, budget) << "case " << c;
    ASSERT_LE(b.bits, budget) << "case " << c;
    EXPECT_EQ(total_error(r.error, k.level), total_error(r.error, b.level)) << "case " << c;
    // Same tie-breaking (fewer bits, then the lexicographically smaller levels).
    EXPECT_EQ(k.level, b.level) << "case " << c;
    EXPECT_EQ(k.bits, b.bits) << "case " << c;
    EXPECT_EQ(k.bits, make_allocation(r.p, k.level).bits);
  }
}

TEST(Knapsack, TiesPreferFewerBitsThenLowerLevels) {
  AllocProblem p = equal_layers(3, {2, 3, 4}, 4.25);
  // Every layer's error is flat: nothing is worth bits, so all stay at 2.
  const std::vector<std::vector<double>> flat(3, std::vector<double>{1, 1, 1});
  EXPECT_EQ(allocate_knapsack(p, flat).level, (std::vector<int>{0, 0, 0}));
  // Promoting any one of the layers gains as much: the lexicographically
  // smallest level vector among {1,0,0}, {0,1,0}, {0,0,1} wins.
  p.target_bpw = (2.25 * 2 + 3.25) / 3;
  const std::vector<std::vector<double>> same(3, std::vector<double>{2, 1, 1});
  EXPECT_EQ(allocate_knapsack(p, same).level, (std::vector<int>{0, 0, 1}));
  EXPECT_EQ(allocate_brute_force(p, same).level, (std::vector<int>{0, 0, 1}));
  // Room for two steps up, every step worth the same: of the six level vectors
  // with equal error and bits, {0,0,2} is the lexicographically smallest.
  p.target_bpw = (2.25 + 3.25 * 2) / 3;
  const std::vector<std::vector<double>> even(3, std::vector<double>{4, 3, 2});
  EXPECT_EQ(allocate_knapsack(p, even).level, (std::vector<int>{0, 0, 2}));
  EXPECT_EQ(allocate_brute_force(p, even).level, (std::vector<int>{0, 0, 2}));
}

TEST(Knapsack, SpendsWhereErrorFalls) {
  // Exact optimum differs from greedy-by-score: two small layers beat one big.
  AllocProblem p;
  p.layers = {LayerShapes{{{1024, 512}}}, LayerShapes{{{256, 512}}}, LayerShapes{{{512, 256}}}};
  p.levels = grid_formats({2, 4}, 128, false);
  const int64_t small_delta = p.layer_bits(1, 1) - p.layer_bits(1, 0);
  int64_t min_bits = 0;
  for (size_t l = 0; l < 3; ++l) min_bits += p.layer_bits(l, 0);
  p.target_bpw = double(min_bits + 4 * small_delta) / double(p.linear_params());
  const std::vector<std::vector<double>> e{{10, 7}, {5, 3}, {5, 3}};  // big: -3; small: -2 each
  EXPECT_EQ(allocate_knapsack(p, e).level, (std::vector<int>{0, 1, 1}));
  const std::vector<std::vector<double>> e2{{10, 5}, {5, 3}, {5, 3}};  // big: -5 > -4
  EXPECT_EQ(allocate_knapsack(p, e2).level, (std::vector<int>{1, 0, 0}));
}

TEST(Knapsack, Errors) {
  AllocProblem p = equal_layers(3, {2, 4}, 2.0);
  const std::vector<std::vector<double>> e(3, std::vector<double>{1, 0});
  EXPECT_LIEQ_ERROR(allocate_knapsack(p, e), "minimum achievable 2.25 bpw");
  p.target_bpw = 3;
  EXPECT_LIEQ_ERROR(allocate_knapsack(p, {{1, 0}, {1, 0}}), "2 rows of layer errors for 3 layers");
  EXPECT_LIEQ_ERROR(allocate_knapsack(p, {{1, 0}, {1}, {1, 0}}), "layer 1 has 1 error values for 2 levels");
  EXPECT_LIEQ_ERROR(allocate_knapsack(p, {{1, 0}, {1, 0}, {INFINITY, 0}}), "not finite");
  const AllocProblem big = equal_layers(40, {2, 4}, 3.0);
  EXPECT_LIEQ_ERROR(allocate_brute_force(big, std::vector<std::vector<double>>(40, {1, 0})), "too large");
}

// Greedy by error drop per bit: the usual heuristic the exact solver must match or beat.
std::vector<int> greedy_by_ratio(const AllocProblem& p, const std::vector<std::vector<double>>& e) {
  const size_t n = p.layers.size(), K = p.levels.size();
  std::vector<int> level(n, 0);
  int64_t total = 0;
  for (size_t l = 0; l < n; ++l) total += p.layer_bits(l, 0);
  const int64_t budget = p.budget_bits();
  for (;;) {
    double best = 0;
    size_t best_l = n;
    for (size_t l = 0; l < n; ++l) {
      const size_t k = size_t(level[l]);
      if (k + 1 >= K) continue;
      const int64_t db = p.layer_bits(l, k + 1) - p.layer_bits(l, k);
      if (total + db > budget) continue;
      const double gain = (e[l][k] - e[l][k + 1]) / double(db);
      if (gain > best) {
        best = gain;
        best_l = l;
      }
    }
    if (best_l == n) return level;
    total += p.layer_bits(best_l, size_t(level[best_l]) + 1) - p.layer_bits(best_l, size_t(level[best_l]));
    ++level[best_l];
  }
}

TEST(Knapsack, ThirtySixLayersFastAndNoWorseThanGreedy) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (const std::vector<int>& levels : {std::vector<int>{2, 3, 4}, std::vector<int>{2, 3, 4, 5, 6}}) {
    for (int trial = 0; trial < 4; ++trial) {
      AllocProblem p;
      p.layers.assign(36, qwen3_4b_layer());
      // A few layers with another shape, so that bit totals do not all coincide.
      for (int l = 0; l < 36; l += 5) p.layers[size_t(l)] = LayerShapes{{{2560, 2560}, {9728, 2560}}};
      p.levels = grid_formats(levels, 128, false);
      p.target_bpw = 2.3 + 0.4 * double(trial);
      std::vector<std::vector<double>> e(36);
      for (auto& row : e) {
        double x = 0.5 + u(rng);
        for (size_t k = 0; k < levels.size(); ++k) {
          row.push_back(x);
          x *= 0.2 + 0.4 * u(rng);
        }
      }
      const auto t0 = std::chrono::steady_clock::now();
      const Allocation a = allocate_knapsack(p, e);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_LT(secs, 2.0) << levels.size() << " levels, trial " << trial;
      EXPECT_LE(a.bits, p.budget_bits());
      const std::vector<int> g = greedy_by_ratio(p, e);
      EXPECT_LE(make_allocation(p, g).bits, p.budget_bits());
      EXPECT_LE(total_error(e, a.level), total_error(e, g) + 1e-12);
    }
  }
}

}  // namespace
}  // namespace lieq
