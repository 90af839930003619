// Zero-shot accuracy by lm-evaluation-harness's loglikelihood protocol
// (docs/METHOD.md): each choice is scored by the summed log-probability of its
// continuation tokens; acc = argmax of the score, acc_norm = argmax of score
// divided by the choice text's length in characters. The choices of an item
// share their common token prefix, which is computed once (KV cache) and the
// choices' remaining tokens run together as one batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/tasks.h"
#include "tokenizer/tokenizer.h"
#include "model/weights.h"

namespace lieq {

// Token ids of one request: continuation = whole[len(ctx):] as the harness does.
struct EncodedRequest {
  std::vector<int32_t> tokens;  // ctx tokens then continuation tokens (BOS first when added)
  int64_t n_ctx = 0;            // tokens before the continuation
};
EncodedRequest encode_request(const Tokenizer& tok, const Request& r, int64_t max_len);

struct ChoiceScore {
  double loglik = 0;   // sum of log-probabilities of the continuation tokens
  bool greedy = true;  // every continuation token is the argmax
  int64_t n_tokens = 0;
};

class Forward;
// Scores every request of one item (sharing the common prefix).
std::vector<ChoiceScore> score_item(Forward& fw, const Model& model, const Tokenizer& tok,
                                    const TaskItem& item);

// The harness's choice: acc picks the largest loglik; acc_norm the largest
// loglik / utf8_length(norm_text) (the choice text, no leading space).
struct Choice {
  int best = 0, best_norm = 0;
};
Choice choose(const std::vector<ChoiceScore>& scores, const std::vector<std::string>& norm_texts);

struct TaskResult {
  std::string name, format;
  int64_t n = 0;
  double acc = 0, acc_stderr = 0;
  double acc_norm = 0, acc_norm_stderr = 0;  // NaN where the task has none
  double ppl = 0;                            // LAMBADA only (NaN otherwise)
  std::string outcomes;  // per item: '1' right, '0' wrong (acc's), for paired differences
  double seconds = 0;
};

TaskResult evaluate_task(const Model& model, const Tokenizer& tok, const Task& task,
                         bool progress = true);

}  // namespace lieq
