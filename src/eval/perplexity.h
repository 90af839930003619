// Perplexity by the protocols of docs/METHOD.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/windows.h"
#include "tokenizer/tokenizer.h"
#include "model/weights.h"

namespace lieq {

struct PplOptions {
  PplProtocol protocol = PplProtocol::kPlain;
  int64_t ctx = 0;           // 0: protocol default, capped by the model
  int64_t batch_rows = 4096; // rows per forward pass
  int64_t max_windows = 0;   // 0: all
  bool progress = true;
  bool keep_token_nll = false;  // fill PplResult::token_nll
};

struct PplResult {
  double ppl = 0, nll = 0;   // nll: mean negative log-likelihood (nats) per scored token
  int64_t tokens = 0;        // scored tokens
  int64_t text_tokens = 0;   // tokens of the whole text
  int64_t windows = 0, ctx = 0;
  std::string protocol;
  double seconds = 0;
  // With keep_token_nll: each scored token's NLL (nats), in window order
  // [tokens] (eval/ppl_stats.h takes its standard errors from these).
  std::vector<float> token_nll;
};

// The token stream a protocol evaluates (wikitext2: BOS once at the start when
// the tokenizer adds one).
std::vector<int32_t> protocol_tokens(const Tokenizer& tok, const std::string& file_text,
                                     PplProtocol p);

PplResult perplexity(const Model& model, const Tokenizer& tok, const std::string& file_text,
                     const PplOptions& opt);

}  // namespace lieq
