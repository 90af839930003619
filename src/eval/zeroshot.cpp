#include "eval/zeroshot.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "eval/windows.h"
#include "model/forward.h"
#include "util/error.h"
#include "util/progress.h"

namespace lieq {

EncodedRequest encode_request(const Tokenizer& tok, const Request& raw, int64_t max_len) {
  const Request r = move_trailing_space(raw);
  std::vector<int32_t> ctx = tok.encode(r.context, tok.add_bos());
  std::vector<int32_t> whole = tok.encode(r.context + r.continuation, tok.add_bos());
  if (ctx.empty()) {
    // The harness scores an empty context after the end-of-text token.
    const int32_t eot = tok.eos_id() >= 0 ? tok.eos_id() : tok.bos_id();
    check(eot >= 0, "empty context and the tokenizer has no BOS/EOS token to start from");
    ctx.push_back(eot);
    whole.insert(whole.begin(), eot);
  }
  EncodedRequest e;
  e.n_ctx = int64_t(ctx.size());
  // As the harness: context tokens, then whole[len(ctx):] as the continuation.
  std::vector<int32_t> cont;
  if (int64_t(whole.size()) > e.n_ctx)
    cont.assign(whole.begin() + e.n_ctx, whole.end());
  else
    cont = tok.encode(r.continuation, false);  // boundary merge swallowed it: score it alone
  check(!cont.empty(), "continuation \"", r.continuation, "\" has no tokens");
  whole = ctx;
  whole.insert(whole.end(), cont.begin(), cont.end());
  // Too long for the model: keep the last max_len tokens, as the harness does.
  // At least one token stays before the continuation; a continuation longer
  // than the window is scored on its last max_len - 1 tokens.
  if (max_len > 1 && int64_t(whole.size()) > max_len) {
    const int64_t drop = int64_t(whole.size()) - max_len;
    whole.erase(whole.begin(), whole.begin() + drop);
    e.n_ctx = std::max<int64_t>(1, e.n_ctx - drop);
  }
  e.tokens = std::move(whole);
  return e;
}

std::vector<ChoiceScore> score_item(Forward& fw, const Model& model, const Tokenizer& tok,
                                    const TaskItem& item) {
  const ModelConfig& c = model.config;
  const int64_t n = int64_t(item.requests.size());
  std::vector<EncodedRequest> enc;
  for (const Request& r : item.requests)
    enc.push_back(encode_request(tok, r, c.max_position_embeddings));
  // Shared prefix P: common to all token sequences and strictly before every
  // scored position (the logit at n_ctx - 1 predicts the first continuation token).
  int64_t P = std::numeric_limits<int64_t>::max();
  for (const auto& e : enc) P = std::min(P, e.n_ctx - 1);
  for (int64_t i = 1; i < n; ++i) {
    int64_t k = 0;
    while (k < P && enc[size_t(i)].tokens[size_t(k)] == enc[0].tokens[size_t(k)]) ++k;
    P = k;
  }
  int64_t T = 0;
  for (const auto& e : enc) T = std::max(T, int64_t(e.tokens.size()) - P);

  KVCache cache(c, P + T);  // n == 1 appends its suffix to the cache
  std::vector<float> x;
  if (P > 0) fw.run(model.weights, enc[0].tokens.data(), 1, P, 0, &cache, x);
  // Suffixes as one batch of n sequences, padded to T with their last token.
  std::vector<int32_t> batch(size_t(n * T));
  for (int64_t i = 0; i < n; ++i) {
    const auto& t = enc[size_t(i)].tokens;
    for (int64_t j = 0; j < T; ++j) {
      const int64_t src = std::min<int64_t>(P + j, int64_t(t.size()) - 1);
      batch[size_t(i * T + j)] = t[size_t(src)];
    }
  }
  fw.run(model.weights, batch.data(), n, T, P, P > 0 ? &cache : nullptr, x);

  std::vector<ChoiceScore> scores(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto& e = enc[size_t(i)];
    ChoiceScore& sc = scores[size_t(i)];
    // Rows of positions [n_ctx - 1, len - 1) predict the continuation tokens.
    const int64_t first = e.n_ctx - 1, n_rows = int64_t(e.tokens.size()) - 1 - first;
    for_each_logits_row(fw, model.weights, x.data() + (i * T + first - P) * c.hidden, n_rows,
                        [&](int64_t r, const float* logits) {
      const int32_t target = e.tokens[size_t(first + r + 1)];
      sc.loglik += double(logits[target]) - log_sum_exp(logits, c.vocab);
      if (std::max_element(logits, logits + c.vocab) - logits != target) sc.greedy = false;
      ++sc.n_tokens;
    });
  }
  return scores;
}

Choice choose(const std::vector<ChoiceScore>& scores, const std::vector<std::string>& norm_texts) {
  Choice ch;
  double best_norm_v = -INFINITY;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i].loglik > scores[size_t(ch.best)].loglik) ch.best = int(i);
    const double len = double(std::max<int64_t>(1, utf8_length(norm_texts[i])));
    if (scores[i].loglik / len > best_norm_v) {
      best_norm_v = scores[i].loglik / len;
      ch.best_norm = int(i);
    }
  }
  return ch;
}

static double mean_stderr(double p, int64_t n) {
  return n > 1 ? std::sqrt(p * (1.0 - p) / double(n - 1)) : 0.0;
}

TaskResult evaluate_task(const Model& model, const Tokenizer& tok, const Task& task,
                         bool progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  TaskResult r;
  r.name = task.name;
  r.format = task_format_name(task.format);
  r.n = int64_t(task.items.size());
  int64_t correct = 0, correct_norm = 0;
  double loglik_sum = 0;
  Progress bar(task.name, r.n, progress);
  Forward fw(model.config);
  for (int64_t k = 0; k < r.n; ++k) {
    const TaskItem& item = task.items[size_t(k)];
    const std::vector<ChoiceScore> s = score_item(fw, model, tok, item);
    if (task.format == TaskFormat::kLambada) {
      correct += s[0].greedy;
      r.outcomes += s[0].greedy ? '1' : '0';
      loglik_sum += s[0].loglik;
    } else {
      const Choice ch = choose(s, item.norm_texts);
      correct += ch.best == item.gold;
      r.outcomes += ch.best == item.gold ? '1' : '0';
      correct_norm += ch.best_norm == item.gold;
    }
    bar.update(k + 1, cat("acc ", double(correct) / double(k + 1)));
  }
  r.acc = double(correct) / double(r.n);
  r.acc_stderr = mean_stderr(r.acc, r.n);
  const bool has_norm = task.format == TaskFormat::kMultipleChoice ||
                        task.format == TaskFormat::kHellaswag;
  r.acc_norm = has_norm ? double(correct_norm) / double(r.n) : nan;
  r.acc_norm_stderr = has_norm ? mean_stderr(r.acc_norm, r.n) : nan;
  r.ppl = task.format == TaskFormat::kLambada ? std::exp(-loglik_sum / double(r.n)) : nan;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bar.finish(cat("acc ", r.acc));
  return r;
}

}  // namespace lieq
