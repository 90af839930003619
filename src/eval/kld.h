// KL divergence of a model's next-token distributions from a base model's,
// over the same evaluation windows (as llama-perplexity's --kl-divergence).
#pragma once

#include <cstdint>
#include <string>

#include "eval/perplexity.h"

namespace lieq {

struct KldResult {
  double mean_kld = 0, median_kld = 0, p99_kld = 0, max_kld = 0;  // nats per token
  double top1_agreement = 0;                                      // fraction of tokens
  double ppl_base = 0, ppl_model = 0;
  int64_t tokens = 0, windows = 0, ctx = 0;
  std::string protocol;
  double seconds = 0;
};

// Both models must share the tokenizer's vocabulary. Windows as in perplexity().
KldResult kl_divergence(const Model& base, const Model& model, const Tokenizer& tok,
                        const std::string& file_text, const PplOptions& opt);

}  // namespace lieq
