#include "eval/calibration.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "util/error.h"

namespace lieq {

CalibSet make_calibration(const Tokenizer& tok, const std::string& text, const CalibOptions& opt,
                          int64_t max_positions, const std::string& source) {
  check(opt.n_samples > 0 && opt.seqlen > 1, source, ": calibration needs samples > 0 and seqlen > 1");
  const std::vector<int32_t> stream = tok.encode(text, false);
  const bool bos = tok.add_bos() && tok.bos_id() >= 0;
  CalibSet c;
  c.text_tokens = int64_t(stream.size());
  c.seqlen = max_positions > 0 ? std::min(opt.seqlen, max_positions) : opt.seqlen;
  int64_t body = c.seqlen - (bos ? 1 : 0);  // text tokens per sample
  int64_t slots = c.text_tokens / body;
  if (slots == 0) {
    check(c.text_tokens >= 2, source, ": calibration text has ", c.text_tokens,
          " tokens; at least 2 are needed");
    body = c.text_tokens;
    c.seqlen = body + (bos ? 1 : 0);
    slots = 1;
  }
  c.n_samples = std::min(opt.n_samples, slots);
  if (c.n_samples < opt.n_samples || c.seqlen < std::min(opt.seqlen, max_positions > 0 ? max_positions : opt.seqlen))
    c.warning = cat(source, ": calibration text has ", c.text_tokens, " tokens, fewer than the ",
                    opt.n_samples, " x ", std::min(opt.seqlen, max_positions > 0 ? max_positions : opt.seqlen),
                    " requested; using ", c.n_samples, " samples of ", c.seqlen, " tokens");
  // Seeded Fisher-Yates over the slots (mt19937_64 is specified exactly, so
  // the choice is the same on every platform).
  std::vector<int64_t> order(static_cast<size_t>(slots));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(opt.seed);
  for (int64_t i = slots - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng() % uint64_t(i + 1))]);
  std::sort(order.begin(), order.begin() + c.n_samples);
  c.tokens.reserve(size_t(c.rows()));
  for (int64_t s = 0; s < c.n_samples; ++s) {
    if (bos) c.tokens.push_back(tok.bos_id());
    const int64_t start = order[size_t(s)] * body;
    c.tokens.insert(c.tokens.end(), stream.begin() + start, stream.begin() + start + body);
  }
  return c;
}

}  // namespace lieq
