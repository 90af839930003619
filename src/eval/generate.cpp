#include "eval/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "model/forward.h"
#include "util/error.h"

namespace lieq {

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return int32_t(best);
}

static int32_t sample(const float* logits, int64_t n, double temperature, double top_p,
                      std::mt19937_64& rng) {
  std::vector<double> p(static_cast<size_t>(n));
  const float mx = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += p[size_t(i)] = std::exp(double(logits[i] - mx) / temperature);
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return p[size_t(a)] > p[size_t(b)]; });
  // Keep the smallest prefix whose mass reaches top_p.
  double kept = 0;
  size_t n_keep = 0;
  while (n_keep < idx.size() && (n_keep == 0 || kept < top_p * sum)) kept += p[size_t(idx[n_keep++])];
  std::uniform_real_distribution<double> u(0.0, kept);
  double r = u(rng);
  for (size_t i = 0; i < n_keep; ++i) {
    r -= p[size_t(idx[i])];
    if (r <= 0) return idx[i];
  }
  return idx[n_keep - 1];
}

std::vector<int32_t> generate(const Model& model, const std::vector<int32_t>& prompt,
                              const GenerateOptions& opt,
                              const std::function<void(int32_t)>& on_token) {
  const ModelConfig& c = model.config;
  check(!prompt.empty(), "generate: empty prompt (no tokens)");
  const int64_t capacity = int64_t(prompt.size()) + opt.n_new;
  check(capacity <= c.max_position_embeddings || c.max_position_embeddings <= 0,
        "generate: prompt (", prompt.size(), " tokens) + ", opt.n_new,
        " new tokens exceeds the model's context of ", c.max_position_embeddings);
  Forward fw(c);
  KVCache cache(c, capacity);
  std::mt19937_64 rng(opt.seed);
  std::vector<float> x, logits(size_t(c.vocab));
  std::vector<int32_t> out;
  fw.run(model.weights, prompt.data(), 1, int64_t(prompt.size()), 0, &cache, x);
  const float* last = x.data() + (int64_t(prompt.size()) - 1) * c.hidden;
  for (int64_t i = 0; i < opt.n_new; ++i) {
    fw.logits(model.weights, last, 1, logits.data());
    const int32_t next = opt.temperature <= 0
                             ? argmax(logits.data(), c.vocab)
                             : sample(logits.data(), c.vocab, opt.temperature, opt.top_p, rng);
    out.push_back(next);
    if (on_token) on_token(next);
    if (next == opt.stop_id || i + 1 == opt.n_new) break;
    fw.run(model.weights, &next, 1, 1, cache.n_past, &cache, x);
    last = x.data();
  }
  return out;
}

}  // namespace lieq
