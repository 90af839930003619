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

// The same model piece by piece, value for value, so that a random reference
// of a 4B-shaped config never needs its 16 GB at once:
// decoder layer `layer` of random_weights(c, seed) ...
LayerWeights random_layer(const ModelConfig& c, uint64_t seed, int layer);
// ... and rows ids[0, n) of its embedding, out [n, hidden] (the embedding is
// generated in order and only the asked-for rows are kept).
void random_embedding_rows(const ModelConfig& c, uint64_t seed, const int32_t* ids, int64_t n,
                           float* out);

}  // namespace lieq
