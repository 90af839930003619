#include "eval/kld.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "util/error.h"
#include "util/progress.h"

namespace lieq {

KldResult kl_divergence(const Model& base, const Model& model, const Tokenizer& tok,
                        const std::string& file_text, const PplOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  check(base.config.vocab == model.config.vocab, "kld: vocabularies differ (", base.config.vocab,
        " vs ", model.config.vocab, " tokens)");
  const std::vector<int32_t> stream = protocol_tokens(tok, file_text, opt.protocol);
  WindowPlan plan = make_window_plan(
      opt.protocol, int64_t(stream.size()), opt.ctx,
      std::min(base.config.max_position_embeddings, model.config.max_position_embeddings),
      tok.add_bos(), tok.bos_id());
  plan.truncate(opt.max_windows);
  const int64_t vocab = base.config.vocab, ctx = plan.ctx;
  Forward fw_base(base.config), fw_model(model.config);
  std::vector<double> kld;
  kld.reserve(size_t(plan.n_windows * plan.scored_in(ctx)));
  double nll_base = 0, nll_model = 0;
  int64_t agree = 0;
  std::vector<int32_t> win(static_cast<size_t>(ctx));
  // Logit rows per chunk: about 16 MB per model.
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(ctx, (int64_t(4) << 20) / vocab));
  std::vector<float> x_model, lp_buf(static_cast<size_t>(chunk * vocab)),
      lq_buf(static_cast<size_t>(chunk * vocab));
  std::vector<int32_t> tokens;
  Progress bar("kld", plan.n_windows, opt.progress);
  // Base and model run on the same batch of windows; logits are compared row by row.
  run_window_batches(fw_base, base.weights, plan, stream, opt.batch_rows,
                     [&](int64_t w0, int64_t nb, int64_t len, const float* hidden_base) {
    tokens.resize(size_t(nb * len));
    for (int64_t b = 0; b < nb; ++b) window_tokens(plan, stream, w0 + b, tokens.data() + b * len);
    fw_model.run(model.weights, tokens.data(), nb, len, 0, nullptr, x_model);
    for (int64_t b = 0; b < nb; ++b) {
      const int32_t* win_tokens = tokens.data() + b * len;
      const int64_t row0 = b * len + plan.first_scored;
      const int64_t n_scored = plan.scored_in(len);
      // Both models' logits in the same row chunks (identical arithmetic when
      // the models are identical).
      for (int64_t r0 = 0; r0 < n_scored; r0 += chunk) {
        const int64_t n = std::min(chunk, n_scored - r0);
        fw_base.logits(base.weights, hidden_base + (row0 + r0) * base.config.hidden, n, lp_buf.data());
        fw_model.logits(model.weights, x_model.data() + (row0 + r0) * model.config.hidden, n,
                        lq_buf.data());
        for (int64_t i = 0; i < n; ++i) {
          const float* lp = lp_buf.data() + i * vocab;
          const float* lq = lq_buf.data() + i * vocab;
          const double zp = log_sum_exp(lp, vocab), zq = log_sum_exp(lq, vocab);
          double kl = 0;
          for (int64_t v = 0; v < vocab; ++v) {
            const double a = double(lp[v]) - zp;
            kl += std::exp(a) * (a - (double(lq[v]) - zq));
          }
          kld.push_back(std::max(0.0, kl));
          const int32_t target = win_tokens[plan.first_scored + r0 + i + 1];
          nll_base += zp - double(lp[target]);
          nll_model += zq - double(lq[target]);
          agree += (std::max_element(lp, lp + vocab) - lp) == (std::max_element(lq, lq + vocab) - lq);
        }
      }
    }
    bar.update(w0 + nb);
  });
  KldResult r;
  r.tokens = int64_t(kld.size());
  check(r.tokens > 0, "kld: nothing was scored");
  double sum = 0;
  for (double v : kld) sum += v;
  r.mean_kld = sum / double(r.tokens);
  std::sort(kld.begin(), kld.end());
  auto quantile = [&](double q) {
    const double pos = q * double(r.tokens - 1);
    const size_t i = size_t(pos);
    const double f = pos - double(i);
    return i + 1 < kld.size() ? kld[i] * (1 - f) + kld[i + 1] * f : kld[i];
  };
  r.median_kld = quantile(0.5);
  r.p99_kld = quantile(0.99);
  r.max_kld = kld.back();
  r.top1_agreement = double(agree) / double(r.tokens);
  r.ppl_base = std::exp(nll_base / double(r.tokens));
  r.ppl_model = std::exp(nll_model / double(r.tokens));
  r.windows = plan.n_windows;
  r.ctx = ctx;
  r.protocol = protocol_name(opt.protocol);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bar.finish(cat("KLD ", r.mean_kld));
  return r;
}

}  // namespace lieq
