// Standard errors of perplexity and accuracy, and the paired difference of
// two models' perplexities measured on the same tokens.
//
// Perplexity, as llama-perplexity prints it: with per-token negative
// log-likelihoods x_i (nats), i < n, mean m and population variance
// v = sum (x_i - m)^2 / n, the mean's standard error is s = sqrt(v / (n - 1))
// and PPL = exp(m) has standard error PPL * s (the delta method).
//
// Paired difference PPL(q) - PPL(r) over the same tokens (as llama-perplexity's
// KL-divergence mode): with c = sum (q_i - m_q)(r_i - m_r) / n / (n - 1) the
// covariance of the two means, its standard error is
//   sqrt(PPL(q)^2 s_q^2 + PPL(r)^2 s_r^2 - 2 PPL(q) PPL(r) c),
// far below the unpaired sqrt(se_q^2 + se_r^2) when the two models agree on
// which tokens are hard. The mean NLL difference d_i = q_i - r_i has
// standard error sqrt(var(d) / (n - 1)), var the population variance.
//
// Accuracy p over n items, as lm-evaluation-harness prints it: sqrt(p (1 - p) / (n - 1)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lieq {

struct PplError {
  double ppl = 0, ppl_se = 0;  // ppl_se NaN for fewer than 2 tokens
  double nll = 0, nll_se = 0;  // mean NLL (nats per token) and its standard error
};
PplError ppl_standard_error(const std::vector<float>& nll);

struct PairedPpl {
  double ppl_diff = 0, ppl_diff_se = 0;  // PPL(q) - PPL(r)
  double nll_diff = 0, nll_diff_se = 0;  // mean of q_i - r_i (nats per token)
};
// q and r: per-token NLLs of the same tokens (Error when their lengths differ
// or are 0); standard errors NaN for fewer than 2 tokens.
PairedPpl paired_ppl_difference(const std::vector<float>& q, const std::vector<float>& r);

// NaN for n < 2.
double acc_standard_error(double p, int64_t n);

// Paired accuracy difference acc(q) - acc(r) over the same items, from their
// outcomes ('1' right, '0' wrong): d_i = q_i - r_i, standard error
// sqrt(var(d) / (n - 1)), var the population variance (NaN for n < 2).
// Error when the lengths differ or are 0.
struct PairedAcc {
  double acc_diff = 0, acc_diff_se = 0;
};
PairedAcc paired_acc_difference(const std::string& q, const std::string& r);

}  // namespace lieq
