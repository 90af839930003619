#include "lieq/allocate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "util/error.h"

namespace lieq {

namespace {

// Storage bits of every layer at every level: table[l][k].
using BitTable = std::vector<std::vector<int64_t>>;

void validate_levels(const AllocProblem& p) {
  check(!p.levels.empty(), "allocation: no levels given");
  for (size_t k = 0; k < p.levels.size(); ++k)
    for (size_t j = 0; j < k; ++j)
      check(!(p.levels[j] == p.levels[k]), "allocation: level ", k, " (", p.levels[k].name(),
            ") is given twice");
}

// Validates the problem (levels, shapes, target) and returns its bit table.
BitTable bit_table(const AllocProblem& p) {
  validate_levels(p);
  check(!p.layers.empty(), "allocation: the model has no layers");
  check(p.linear_params() > 0, "allocation: the layers have no linear weights");
  check(std::isfinite(p.target_bpw) && p.target_bpw > 0, "allocation: target bits per weight ",
        p.target_bpw, " must be a positive number");
  BitTable t(p.layers.size(), std::vector<int64_t>(p.levels.size()));
  for (size_t l = 0; l < p.layers.size(); ++l)
    for (size_t k = 0; k < p.levels.size(); ++k) t[l][k] = p.layer_bits(l, k);
  return t;
}

// One correctly rounded division of two exactly representable integers (both
// far below 2^53), so e.g. 29 * n / (12 * n) is exactly the double 29.0 / 12.0.
double bpw_of(int64_t bits, int64_t params) { return double(bits) / double(params); }

// Throws when even every layer at the lowest level exceeds the budget.
void check_min_fits(const AllocProblem& p, const BitTable& t, int64_t budget) {
  int64_t min_bits = 0;
  for (const auto& row : t) min_bits += row[0];
  if (min_bits <= budget) return;
  fail("allocation: target ", p.target_bpw, " bpw is below the minimum achievable ",
       bpw_of(min_bits, p.linear_params()), " bpw (every layer at ", p.levels[0].name(), ": ", min_bits,
       " bits for a budget of ", budget, ")");
}

void validate_errors(const AllocProblem& p, const std::vector<std::vector<double>>& error) {
  check(error.size() == p.layers.size(), "allocation: ", error.size(), " rows of layer errors for ",
        p.layers.size(), " layers");
  for (size_t l = 0; l < error.size(); ++l) {
    check(error[l].size() == p.levels.size(), "allocation: layer ", l, " has ", error[l].size(),
          " error values for ", p.levels.size(), " levels");
    for (size_t k = 0; k < error[l].size(); ++k)
      check(std::isfinite(error[l][k]), "allocation: layer ", l, " level ", p.levels[k].name(),
            ": error is not finite (", error[l][k], ")");
  }
}

}  // namespace

int64_t LayerShapes::params() const {
  int64_t n = 0;
  for (const auto& [rows, cols] : linears) n += rows * cols;
  return n;
}

// Bits of layer l's linear weights (shapes s) stored in format f.
static int64_t layer_storage_bits(const LayerShapes& s, size_t l, const StorageFormat& f) {
  int64_t bits = 0;
  for (const auto& [rows, cols] : s.linears) {
    check(rows > 0 && cols > 0, "allocation: layer ", l, " has a linear weight of shape [", rows, ", ",
          cols, "]");
    bits += f.storage_bits(rows, cols);
  }
  return bits;
}

int64_t AllocProblem::layer_bits(size_t l, size_t k) const {
  check(l < layers.size(), "allocation: layer ", l, " out of range (", layers.size(), " layers)");
  check(k < levels.size(), "allocation: level index ", k, " out of range (", levels.size(), " levels)");
  return layer_storage_bits(layers[l], l, levels[k]);
}

int64_t AllocProblem::linear_params() const {
  int64_t n = 0;
  for (const LayerShapes& s : layers) n += s.params();
  return n;
}

int64_t AllocProblem::budget_bits() const {
  check(std::isfinite(target_bpw) && target_bpw > 0, "allocation: target bits per weight ", target_bpw,
        " must be a positive number");
  const long double exact = static_cast<long double>(target_bpw) * static_cast<long double>(linear_params());
  // A target written as a decimal (2.25, 29/12, ...) is rounded to the nearest
  // double, possibly just below the intended value; a relative slack far above
  // that rounding (2^-53) and far below any meaningful bit keeps floor() from
  // losing the last bit of a budget that is meant to be an integer.
  const long double slack = std::max(exact * 1e-12L, 1e-9L);
  return static_cast<int64_t>(std::floor(exact + slack));
}

Allocation make_allocation(const AllocProblem& p, std::vector<int> level) {
  check(level.size() == p.layers.size(), "allocation: ", level.size(), " levels assigned for ",
        p.layers.size(), " layers");
  const int64_t params = p.linear_params();
  check(params > 0, "allocation: the layers have no linear weights");
  Allocation a;
  for (size_t l = 0; l < level.size(); ++l) {
    check(level[l] >= 0 && size_t(level[l]) < p.levels.size(), "allocation: layer ", l, " level index ",
          level[l], " out of range (", p.levels.size(), " levels)");
    a.bits += p.layer_bits(l, size_t(level[l]));
  }
  a.level = std::move(level);
  a.bpw = bpw_of(a.bits, params);
  return a;
}

Allocation allocate_by_score(const AllocProblem& p, const std::vector<double>& score) {
  const BitTable t = bit_table(p);
  check(score.size() == p.layers.size(), "allocation: ", score.size(), " scores for ", p.layers.size(),
        " layers");
  for (size_t l = 0; l < score.size(); ++l)
    check(std::isfinite(score[l]), "allocation: score of layer ", l, " is not finite (", score[l], ")");
  const int64_t budget = p.budget_bits();
  check_min_fits(p, t, budget);

  const size_t n = p.layers.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });

  std::vector<int> level(n, 0);
  int64_t total = 0;
  for (size_t l = 0; l < n; ++l) total += t[l][0];
  for (size_t k = 0; k + 1 < p.levels.size(); ++k) {
    for (size_t l : order) {
      if (size_t(level[l]) != k) continue;
      const int64_t delta = t[l][k + 1] - t[l][k];
      if (total + delta <= budget) {
        total += delta;
        level[l] = int(k + 1);
      }
    }
  }
  return make_allocation(p, std::move(level));
}

Allocation allocate_uniform(const AllocProblem& p) {
  const BitTable t = bit_table(p);
  const int64_t budget = p.budget_bits();
  for (size_t k = p.levels.size(); k-- > 0;) {
    int64_t total = 0;
    for (const auto& row : t) total += row[k];
    if (total <= budget) return make_allocation(p, std::vector<int>(p.layers.size(), int(k)));
  }
  check_min_fits(p, t, budget);
  fail("allocation: no uniform level fits the budget");  // unreachable: check_min_fits threw
}

std::optional<StorageFormat> uniform_grid(const AllocProblem& p) {
  validate_levels(p);
  for (const StorageFormat& f : p.levels)
    if (!f.is_grid()) return std::nullopt;
  const int64_t budget = p.budget_bits();
  std::optional<StorageFormat> best;
  int64_t best_bits = -1;
  for (const StorageFormat& level : p.levels) {
    // The level's own group size first, so it wins a tie.
    std::vector<int> sizes = {level.spec().group_size};
    for (int g : kGridGroupSizes)
      if (g != level.spec().group_size) sizes.push_back(g);
    for (int g : sizes) {
      QuantSpec s = level.spec();
      s.group_size = g;
      const StorageFormat f = StorageFormat::grid(s);
      int64_t total = 0;
      for (size_t l = 0; l < p.layers.size(); ++l) total += layer_storage_bits(p.layers[l], l, f);
      if (total <= budget && total > best_bits) {
        best_bits = total;
        best = f;
      }
    }
  }
  return best;
}

std::vector<double> positional_scores(int n_layers) {
  check(n_layers >= 0, "positional scores: negative layer count ", n_layers);
  const int n = n_layers;
  std::vector<double> s(static_cast<size_t>(n), 0.0);
  for (int i = 0; i < n; ++i) {
    // i < n/8 comes first, so (i - n/8) is never negative in the last clause.
    const bool more = i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
    s[size_t(i)] = more ? 1.0 : 0.0;
  }
  return s;
}

Allocation allocate_knapsack(const AllocProblem& p, const std::vector<std::vector<double>>& error) {
  const BitTable t = bit_table(p);
  validate_errors(p, error);
  const int64_t budget = p.budget_bits();
  check_min_fits(p, t, budget);

  const size_t n = p.layers.size(), K = p.levels.size();
  // min_rest[l]: fewest bits layers l.. can take; a partial state must leave room for them.
  std::vector<int64_t> min_rest(n + 1, 0);
  for (size_t l = n; l-- > 0;) min_rest[l] = min_rest[l + 1] + *std::min_element(t[l].begin(), t[l].end());

  // One state per Pareto-optimal (bits, error) pair of the layers seen so far.
  // `lex` ranks the states of one layer by their level vectors (lexicographic),
  // so that exact ties keep the lexicographically smallest assignment.
  struct State {
    int64_t bits;
    double err;
    int32_t parent;  // index into the previous layer's states
    int32_t choice;  // level index of this layer
    int32_t lex;
  };
  std::vector<std::vector<State>> frontier(n);
  std::vector<State> prev{State{0, 0.0, -1, -1, 0}};
  std::vector<State> cand;
  std::vector<size_t> idx;
  for (size_t l = 0; l < n; ++l) {
    cand.clear();
    const int64_t limit = budget - min_rest[l + 1];
    for (size_t s = 0; s < prev.size(); ++s) {
      for (size_t k = 0; k < K; ++k) {
        const int64_t b = prev[s].bits + t[l][k];
        if (b > limit) continue;
        cand.push_back(State{b, prev[s].err + error[l][k], int32_t(s), int32_t(k), 0});
      }
    }
    // Sort by bits, then error, then level vector; keep each state whose error
    // is strictly below that of every state with fewer (or as many) bits.
    std::sort(cand.begin(), cand.end(), [&](const State& a, const State& b) {
      if (a.bits != b.bits) return a.bits < b.bits;
      if (a.err != b.err) return a.err < b.err;
      const int32_t la = prev[size_t(a.parent)].lex, lb = prev[size_t(b.parent)].lex;
      if (la != lb) return la < lb;
      return a.choice < b.choice;
    });
    std::vector<State>& cur = frontier[l];
    cur.clear();
    for (const State& c : cand)
      if (cur.empty() || c.err < cur.back().err) cur.push_back(c);
    check(!cur.empty(), "allocation: knapsack found no feasible state at layer ", l);  // min fits: unreachable
    // Lexicographic ranks of the survivors' level vectors (parent's rank, then choice).
    idx.resize(cur.size());
    std::iota(idx.begin(), idx.end(), size_t(0));
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      const int32_t la = prev[size_t(cur[a].parent)].lex, lb = prev[size_t(cur[b].parent)].lex;
      if (la != lb) return la < lb;
      return cur[a].choice < cur[b].choice;
    });
    for (size_t r = 0; r < idx.size(); ++r) cur[idx[r]].lex = int32_t(r);
    prev = cur;
  }

  // The frontier's error falls strictly as bits grow: its last state has the
  // least error, and no other state has that error.
  std::vector<int> level(n, 0);
  int32_t s = int32_t(frontier[n - 1].size() - 1);
  for (size_t l = n; l-- > 0;) {
    const State& st = frontier[l][size_t(s)];
    level[l] = st.choice;
    s = st.parent;
  }
  return make_allocation(p, std::move(level));
}

Allocation allocate_brute_force(const AllocProblem& p, const std::vector<std::vector<double>>& error) {
  const BitTable t = bit_table(p);
  validate_errors(p, error);
  const int64_t budget = p.budget_bits();
  check_min_fits(p, t, budget);

  const size_t n = p.layers.size(), K = p.levels.size();
  constexpr double kMaxAssignments = 2e6;
  double count = 1;
  for (size_t l = 0; l < n; ++l) count *= double(K);
  check(count <= kMaxAssignments, "allocation: brute force over ", K, "^", n,
        " assignments is too large (at most ", kMaxAssignments, ")");

  // Odometer over level vectors in lexicographic order: the first feasible
  // assignment with strictly less error (or as much with fewer bits) wins.
  std::vector<int> cur(n, 0), best;
  double best_err = 0;
  int64_t best_bits = 0;
  for (;;) {
    int64_t bits = 0;
    double err = 0;
    for (size_t l = 0; l < n; ++l) {
      bits += t[l][size_t(cur[l])];
      err += error[l][size_t(cur[l])];
    }
    if (bits <= budget &&
        (best.empty() || err < best_err || (err == best_err && bits < best_bits))) {
      best = cur;
      best_err = err;
      best_bits = bits;
    }
    size_t l = n;
    while (l > 0 && size_t(cur[l - 1]) + 1 == K) cur[--l] = 0;
    if (l == 0) break;
    ++cur[l - 1];
  }
  return make_allocation(p, std::move(best));
}

}  // namespace lieq
