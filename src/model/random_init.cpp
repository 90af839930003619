#include "model/random_init.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "util/error.h"

namespace lieq {

namespace {

// N(0, std^2) values by Box-Muller over mt19937_64, continued across calls:
// fill(a) then fill(b) gives what one fill of a + b would (a even).
class NormalStream {
 public:
  explicit NormalStream(uint64_t seed) : rng_(seed) {}
  void fill(float* out, int64_t n, double std) {
    // Uniform in (0, 1] from the top 53 bits.
    auto uniform = [&] { return (double(rng_() >> 11) + 1.0) * (1.0 / 9007199254740992.0); };
    for (int64_t i = 0; i < n; i += 2) {
      const double r = std::sqrt(-2.0 * std::log(uniform()));
      const double t = 2.0 * M_PI * uniform();
      out[i] = float(std * r * std::cos(t));
      if (i + 1 < n) out[i + 1] = float(std * r * std::sin(t));
    }
  }

 private:
  std::mt19937_64 rng_;
};

// Each normal tensor has its own generator: seed * 1000003 + its index in
// the order embedding, lm_head (untied only), then every layer's linears in
// role_table order.
uint64_t stream_seed(uint64_t seed, uint64_t index) { return seed * 1000003ULL + index; }

Tensor constant(std::vector<int64_t> shape, float v) {
  Tensor t;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  t.shape = std::move(shape);
  t.data.assign(size_t(n), v);
  return t;
}

Tensor normal(const ModelConfig& c, std::vector<int64_t> shape, uint64_t stream) {
  Tensor t;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  t.shape = std::move(shape);
  t.data.resize(size_t(n));
  fill_normal(t.data.data(), n, c.initializer_range, stream);
  return t;
}

}  // namespace

void fill_normal(float* out, int64_t n, double std, uint64_t seed) {
  NormalStream(seed).fill(out, n, std);
}

LayerWeights random_layer(const ModelConfig& c, uint64_t seed, int layer) {
  int64_t n_linear = 0;
  for (const RoleSpec& r : role_table()) n_linear += role_present(r.role, c) && r.is_linear;
  uint64_t index = (c.tie_word_embeddings ? 1 : 2) + uint64_t(layer) * uint64_t(n_linear);
  LayerWeights lw;
  for (const RoleSpec& r : role_table()) {
    if (!role_present(r.role, c)) continue;
    const auto shape = role_shape(r.role, c);
    if (r.is_linear)
      lw[r.role] = normal(c, shape, stream_seed(seed, ++index));
    else if (r.role == Role::kBq || r.role == Role::kBk || r.role == Role::kBv)
      lw[r.role] = constant(shape, 0.0f);
    else
      lw[r.role] = constant(shape, 1.0f);  // norms
  }
  return lw;
}

void random_embedding_rows(const ModelConfig& c, uint64_t seed, const int32_t* ids, int64_t n,
                           float* out) {
  const int64_t d = c.hidden;
  std::vector<std::vector<int64_t>> wanted(size_t(c.vocab));  // token -> positions in ids
  for (int64_t i = 0; i < n; ++i) {
    check(ids[i] >= 0 && ids[i] < c.vocab, "token id ", ids[i], " out of range [0, ", c.vocab, ")");
    wanted[size_t(ids[i])].push_back(i);
  }
  // Two rows per step keep every fill but the last of an even length.
  NormalStream gen(stream_seed(seed, 1));
  std::vector<float> rows(static_cast<size_t>(2 * d));
  for (int64_t t = 0; t < c.vocab; t += 2) {
    const int64_t m = std::min<int64_t>(2, c.vocab - t);
    gen.fill(rows.data(), m * d, c.initializer_range);
    for (int64_t j = 0; j < m; ++j)
      for (int64_t i : wanted[size_t(t + j)])
        std::copy_n(rows.data() + j * d, d, out + i * d);
  }
}

ModelWeights random_weights(const ModelConfig& c, uint64_t seed) {
  ModelWeights w;
  w.embed = normal(c, {c.vocab, c.hidden}, stream_seed(seed, 1));
  w.final_norm = constant({c.hidden}, 1.0f);
  if (!c.tie_word_embeddings) w.lm_head = normal(c, {c.vocab, c.hidden}, stream_seed(seed, 2));
  for (int l = 0; l < int(c.n_layers); ++l) w.layers.push_back(random_layer(c, seed, l));
  return w;
}

}  // namespace lieq
