#include "model/random_init.h"

#include <cmath>
#include <random>

namespace lieq {

void fill_normal(float* out, int64_t n, double std, uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Uniform in (0, 1] from the top 53 bits.
  auto uniform = [&] { return (double(rng() >> 11) + 1.0) * (1.0 / 9007199254740992.0); };
  for (int64_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double t = 2.0 * M_PI * uniform();
    out[i] = float(std * r * std::cos(t));
    if (i + 1 < n) out[i + 1] = float(std * r * std::sin(t));
  }
}

ModelWeights random_weights(const ModelConfig& c, uint64_t seed) {
  uint64_t stream = seed * 1000003ULL;
  auto normal = [&](std::vector<int64_t> shape) {
    Tensor t;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    t.shape = std::move(shape);
    t.data.resize(size_t(n));
    fill_normal(t.data.data(), n, c.initializer_range, ++stream);
    return t;
  };
  auto constant = [](std::vector<int64_t> shape, float v) {
    Tensor t;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    t.shape = std::move(shape);
    t.data.assign(size_t(n), v);
    return t;
  };
  ModelWeights w;
  w.embed = normal({c.vocab, c.hidden});
  w.final_norm = constant({c.hidden}, 1.0f);
  if (!c.tie_word_embeddings) w.lm_head = normal({c.vocab, c.hidden});
  w.layers.resize(size_t(c.n_layers));
  for (auto& lw : w.layers) {
    for (const RoleSpec& r : role_table()) {
      if (!role_present(r.role, c)) continue;
      const auto shape = role_shape(r.role, c);
      if (r.is_linear)
        lw[r.role] = normal(shape);
      else if (r.role == Role::kBq || r.role == Role::kBk || r.role == Role::kBv)
        lw[r.role] = constant(shape, 0.0f);
      else
        lw[r.role] = constant(shape, 1.0f);  // norms
    }
  }
  return w;
}

}  // namespace lieq
