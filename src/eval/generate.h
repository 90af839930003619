// Text generation with a KV cache: greedy by default, or temperature / top-p sampling.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/weights.h"

namespace lieq {

struct GenerateOptions {
  int64_t n_new = 128;        // tokens to generate at most
  double temperature = 0.0;   // 0: greedy (argmax)
  double top_p = 1.0;         // nucleus sampling mass
  uint64_t seed = 0;
  int32_t stop_id = -1;       // stop after generating this token (EOS); -1: never
};

// Generates after `prompt` (which includes any BOS). on_token(id) is called for
// each new token as it is produced. Returns the new tokens.
std::vector<int32_t> generate(const Model& model, const std::vector<int32_t>& prompt,
                              const GenerateOptions& opt,
                              const std::function<void(int32_t)>& on_token = {});

// Index of the largest logit (first one on ties).
int32_t argmax(const float* logits, int64_t n);

}  // namespace lieq
