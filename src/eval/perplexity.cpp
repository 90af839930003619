#include "eval/perplexity.h"

#include <chrono>
#include <cmath>
#include <utility>

#include "util/error.h"
#include "util/progress.h"

namespace lieq {

std::vector<int32_t> protocol_tokens(const Tokenizer& tok, const std::string& file_text,
                                     PplProtocol p) {
  const std::string text = protocol_text(file_text, p);
  // plain adds BOS per window (in the plan); the others tokenize with BOS once.
  return tok.encode(text, p == PplProtocol::kPlain ? false : tok.add_bos());
}

PplResult perplexity(const Model& model, const Tokenizer& tok, const std::string& file_text,
                     const PplOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> stream = protocol_tokens(tok, file_text, opt.protocol);
  WindowPlan plan = make_window_plan(opt.protocol, int64_t(stream.size()), opt.ctx,
                                     model.config.max_position_embeddings, tok.add_bos(),
                                     tok.bos_id());
  plan.truncate(opt.max_windows);
  const int64_t vocab = model.config.vocab;
  Forward fw(model.config);
  double nll_sum = 0;
  int64_t n_scored = 0;
  std::vector<float> token_nll;
  Progress progress("ppl", plan.n_windows, opt.progress);
  std::vector<int32_t> win(size_t(plan.ctx));
  const int64_t d = model.config.hidden;
  run_window_batches(fw, model.weights, plan, stream, opt.batch_rows,
                     [&](int64_t w0, int64_t nb, int64_t len, const float* hidden) {
    for (int64_t b = 0; b < nb; ++b) {
      window_tokens(plan, stream, w0 + b, win.data());
      // Row i predicts token i + 1; rows [first_scored, len - 1) are scored.
      for_each_logits_row(fw, model.weights, hidden + (b * len + plan.first_scored) * d,
                          plan.scored_in(len), [&](int64_t r, const float* row) {
        const int64_t i = plan.first_scored + r;
        const double nll = log_sum_exp(row, vocab) - double(row[win[size_t(i + 1)]]);
        nll_sum += nll;
        if (opt.keep_token_nll) token_nll.push_back(float(nll));
        ++n_scored;
      });
    }
    progress.update(w0 + nb, cat("ppl ", std::exp(nll_sum / double(std::max<int64_t>(1, n_scored)))));
  });
  PplResult r;
  r.nll = nll_sum / double(n_scored);
  r.ppl = std::exp(r.nll);
  r.tokens = n_scored;
  r.text_tokens = int64_t(stream.size());
  r.windows = plan.n_windows;
  r.ctx = plan.ctx;
  r.protocol = protocol_name(opt.protocol);
  r.token_nll = std::move(token_nll);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  progress.finish(cat("PPL ", r.ppl));
  return r;
}

}  // namespace lieq
