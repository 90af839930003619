// Randomly initialised weights for a config, as Hugging Face initialises a
// fresh model: projections and embeddings ~ N(0, initializer_range), norms 1,
// biases 0. Deterministic for a seed on every platform (own Box-Muller over
// mt19937_64), so diagnostics that compare against a random model repeat.
#pragma once

#include <cstdint>
#include <vector>

#include "model/weights.h"

namespace lieq {

// Fills n values with N(0, std^2) from a generator seeded with `seed`.
void fill_normal(float* out, int64_t n, double std, uint64_t seed);

ModelWeights random_weights(const ModelConfig& c, uint64_t seed);

}  // namespace lieq
