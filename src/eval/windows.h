// Cutting a token stream into evaluation windows, and running a model over
// them in batches. Shared by perplexity and KL divergence.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/forward.h"

namespace lieq {

enum class PplProtocol : uint8_t {
  kPlain,      // whole file, non-overlapping windows, all but the first token scored
  kWikitext2,  // GPTQ literature: rows joined by "\n\n", BOS once, windows of ctx
  kLlamaCpp,   // llama-perplexity: ctx 512, only the second half of each window scored
};

const char* protocol_name(PplProtocol p);
bool parse_protocol(const std::string& s, PplProtocol* out);

// Non-overlapping windows over a token stream. Window w covers
// stream[w * stride, w * stride + len(w) - bos) after an optional BOS; logits
// at positions [first_scored, len(w) - 1) predict the token at the next
// position. Only the plain protocol keeps a final partial window.
struct WindowPlan {
  int64_t ctx = 0;           // positions per full window, BOS included
  int64_t n_windows = 0;     // including a final partial window
  int64_t last_len = 0;      // positions of the last window (== ctx unless partial)
  int64_t first_scored = 0;  // first position whose next-token prediction is scored
  bool bos_per_window = false;      // a BOS is prepended to each window
  bool bos_replaces_first = false;  // the window's first token is overwritten by BOS
  int32_t bos_id = -1;
  int64_t stream_stride() const { return bos_per_window ? ctx - 1 : ctx; }
  int64_t window_len(int64_t w) const { return w + 1 == n_windows ? last_len : ctx; }
  int64_t scored_in(int64_t len) const { return len - 1 - first_scored; }
  // Limits the plan to its first n windows (n <= 0: all).
  void truncate(int64_t n);
};

// Text as the protocol reads a file (wikitext2: rows joined with "\n\n").
std::string protocol_text(const std::string& file_text, PplProtocol p);

// The plan for a token stream. ctx <= 0 picks the protocol default (2048, or
// 512 for llama.cpp), capped by max_positions. Throws when the stream is
// shorter than one window.
WindowPlan make_window_plan(PplProtocol p, int64_t n_tokens, int64_t ctx, int64_t max_positions,
                            bool add_bos, int32_t bos_id);

// Tokens of window w ([window_len(w)]).
void window_tokens(const WindowPlan& plan, const std::vector<int32_t>& stream, int64_t w,
                   int32_t* out);

// Runs the model over windows [0, n_windows) in batches of about batch_rows
// token rows, windows of one batch all of length len. For each batch calls
// on_batch(w0, nb, len, hidden) with the final normed hidden states of windows
// [w0, w0 + nb): [nb * len, hidden].
using WindowBatchFn =
    std::function<void(int64_t w0, int64_t nb, int64_t len, const float* hidden)>;
void run_window_batches(Forward& fw, const ModelWeights& weights, const WindowPlan& plan,
                        const std::vector<int32_t>& stream, int64_t batch_rows,
                        const WindowBatchFn& on_batch);

// Computes logits of hidden rows [rows, hidden] in chunks (bounded memory for
// large vocabularies) and calls on_row(r, logits_row[vocab]) for each row.
using LogitsRowFn = std::function<void(int64_t r, const float* logits)>;
void for_each_logits_row(Forward& fw, const ModelWeights& weights, const float* hidden,
                         int64_t rows, const LogitsRowFn& on_row);

// log-softmax helpers on one logits row [vocab].
double log_sum_exp(const float* logits, int64_t n);

}  // namespace lieq
