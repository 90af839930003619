#include "eval/windows.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kernels/vec.h"
#include "util/error.h"

namespace lieq {

const char* protocol_name(PplProtocol p) {
  switch (p) {
    case PplProtocol::kPlain: return "plain";
    case PplProtocol::kWikitext2: return "wikitext2";
    case PplProtocol::kLlamaCpp: return "llamacpp";
  }
  return "?";
}

bool parse_protocol(const std::string& s, PplProtocol* out) {
  for (PplProtocol p : {PplProtocol::kPlain, PplProtocol::kWikitext2, PplProtocol::kLlamaCpp}) {
    if (s == protocol_name(p)) {
      *out = p;
      return true;
    }
  }
  return false;
}

std::string protocol_text(const std::string& file_text, PplProtocol p) {
  if (p != PplProtocol::kWikitext2) return file_text;
  // Hugging Face's wikitext rows: one per line, the line with its "\n", or ""
  // for a line holding only whitespace; the GPTQ evaluation joins them with "\n\n".
  std::string out;
  size_t pos = 0;
  bool first = true;
  while (pos < file_text.size()) {
    size_t nl = file_text.find('\n', pos);
    const size_t end = nl == std::string::npos ? file_text.size() : nl + 1;
    const std::string line = file_text.substr(pos, end - pos);
    const bool blank = line.find_first_not_of(" \t\r\n") == std::string::npos;
    if (!first) out += "\n\n";
    if (!blank) out += line;
    first = false;
    pos = end;
  }
  return out;
}

WindowPlan make_window_plan(PplProtocol p, int64_t n_tokens, int64_t ctx, int64_t max_positions,
                            bool add_bos, int32_t bos_id) {
  WindowPlan plan;
  const bool explicit_ctx = ctx > 0;
  if (ctx <= 0) ctx = p == PplProtocol::kLlamaCpp ? 512 : 2048;
  if (max_positions > 0 && ctx > max_positions) {
    if (explicit_ctx)
      std::fprintf(stderr, "lieq: warning: ctx %lld exceeds the model's %lld positions; using %lld\n",
                   (long long)ctx, (long long)max_positions, (long long)max_positions);
    ctx = max_positions;
  }
  check(ctx >= 2, "context of ", ctx, " tokens is too short to score anything");
  plan.ctx = ctx;
  plan.bos_id = bos_id;
  switch (p) {
    case PplProtocol::kPlain:
      plan.bos_per_window = add_bos && bos_id >= 0;
      plan.first_scored = 0;
      break;
    case PplProtocol::kWikitext2:
      // The BOS (if any) was added once to the whole stream by the caller.
      plan.bos_per_window = false;
      plan.first_scored = 0;
      break;
    case PplProtocol::kLlamaCpp:
      // llama-perplexity replaces the first token of every chunk by BOS (when
      // the model adds one) and scores the second half of the chunk.
      plan.bos_per_window = false;
      plan.bos_replaces_first = add_bos && bos_id >= 0;
      plan.first_scored = ctx / 2;
      break;
  }
  plan.n_windows = n_tokens / plan.stream_stride();
  plan.last_len = ctx;
  // The plain protocol scores the tail too: a final window of the remaining
  // tokens when it predicts at least one.
  const int64_t rest = n_tokens - plan.n_windows * plan.stream_stride();
  const int64_t rest_len = rest + (plan.bos_per_window ? 1 : 0);
  if (p == PplProtocol::kPlain && rest > 0 && rest_len >= 2) {
    ++plan.n_windows;
    plan.last_len = rest_len;
  }
  check(plan.n_windows > 0, "text has ", n_tokens, " tokens, fewer than one window of ", ctx);
  return plan;
}

void WindowPlan::truncate(int64_t n) {
  if (n <= 0 || n >= n_windows) return;
  n_windows = n;
  last_len = ctx;
}

void window_tokens(const WindowPlan& plan, const std::vector<int32_t>& stream, int64_t w,
                   int32_t* out) {
  const int64_t start = w * plan.stream_stride();
  int64_t o = 0;
  if (plan.bos_per_window) out[o++] = plan.bos_id;
  const int64_t len = plan.window_len(w);
  for (int64_t i = 0; o < len; ++i) out[o++] = stream[size_t(start + i)];
  if (plan.bos_replaces_first) out[0] = plan.bos_id;
}

void run_window_batches(Forward& fw, const ModelWeights& weights, const WindowPlan& plan,
                        const std::vector<int32_t>& stream, int64_t batch_rows,
                        const WindowBatchFn& on_batch) {
  const int64_t per_batch = std::max<int64_t>(1, batch_rows / plan.ctx);
  const int64_t n_full = plan.last_len == plan.ctx ? plan.n_windows : plan.n_windows - 1;
  std::vector<int32_t> tokens;
  std::vector<float> x;
  auto run = [&](int64_t w0, int64_t nb, int64_t len) {
    tokens.resize(size_t(nb * len));
    for (int64_t b = 0; b < nb; ++b) window_tokens(plan, stream, w0 + b, tokens.data() + b * len);
    fw.run(weights, tokens.data(), nb, len, 0, nullptr, x);
    on_batch(w0, nb, len, x.data());
  };
  for (int64_t w0 = 0; w0 < n_full; w0 += per_batch) run(w0, std::min(per_batch, n_full - w0), plan.ctx);
  if (n_full < plan.n_windows) run(n_full, 1, plan.last_len);
}

void for_each_logits_row(Forward& fw, const ModelWeights& weights, const float* hidden,
                         int64_t rows, const LogitsRowFn& on_row) {
  const int64_t vocab = fw.config().vocab, d = fw.config().hidden;
  // About 32 MB of logits at a time.
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(rows, (int64_t(8) << 20) / vocab));
  float* logits = fw.logits_buffer(chunk * vocab);
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t n = std::min(chunk, rows - r0);
    fw.logits(weights, hidden + r0 * d, n, logits);
    for (int64_t i = 0; i < n; ++i) on_row(r0 + i, logits + i * vocab);
  }
}

double log_sum_exp(const float* logits, int64_t n) {
  return vec().log_sum_exp(logits, n);
}

}  // namespace lieq
