#include "eval/ppl_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.h"

namespace lieq {
namespace {
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

double mean_of(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += double(v);
  return s / double(x.size());
}

// sum (a_i - ma)(b_i - mb) / n: two passes, so no cancellation of E[ab] - ma mb.
double population_cov(const std::vector<float>& a, double ma, const std::vector<float>& b,
                      double mb) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - ma) * (double(b[i]) - mb);
  return s / double(a.size());
}
}  // namespace

PplError ppl_standard_error(const std::vector<float>& nll) {
  check(!nll.empty(), "perplexity standard error: no tokens");
  PplError e;
  e.nll = mean_of(nll);
  e.ppl = std::exp(e.nll);
  const double n = double(nll.size());
  e.nll_se = nll.size() < 2 ? kNan : std::sqrt(population_cov(nll, e.nll, nll, e.nll) / (n - 1));
  e.ppl_se = e.ppl * e.nll_se;
  return e;
}

PairedPpl paired_ppl_difference(const std::vector<float>& q, const std::vector<float>& r) {
  check(!q.empty() && q.size() == r.size(), "paired perplexity difference: ", q.size(),
        " tokens against ", r.size(), " (the same windows are needed)");
  const double mq = mean_of(q), mr = mean_of(r), n = double(q.size());
  const double pq = std::exp(mq), pr = std::exp(mr);
  PairedPpl d;
  d.ppl_diff = pq - pr;
  d.nll_diff = mq - mr;
  if (q.size() < 2) {
    d.ppl_diff_se = d.nll_diff_se = kNan;
    return d;
  }
  // Variances and covariance of the two means.
  const double vq = population_cov(q, mq, q, mq) / (n - 1);
  const double vr = population_cov(r, mr, r, mr) / (n - 1);
  const double c = population_cov(q, mq, r, mr) / (n - 1);
  d.ppl_diff_se = std::sqrt(std::max(0.0, pq * pq * vq + pr * pr * vr - 2 * pq * pr * c));
  d.nll_diff_se = std::sqrt(std::max(0.0, vq + vr - 2 * c));
  return d;
}

double acc_standard_error(double p, int64_t n) {
  return n < 2 ? kNan : std::sqrt(p * (1 - p) / double(n - 1));
}

PairedAcc paired_acc_difference(const std::string& q, const std::string& r) {
  check(!q.empty() && q.size() == r.size(), "paired accuracy difference: ", q.size(),
        " items against ", r.size(), " (the same items are needed)");
  const double n = double(q.size());
  double sum = 0;
  for (size_t i = 0; i < q.size(); ++i) sum += double(q[i] == '1') - double(r[i] == '1');
  PairedAcc a;
  a.acc_diff = sum / n;
  if (q.size() < 2) {
    a.acc_diff_se = kNan;
    return a;
  }
  double v = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    const double d = double(q[i] == '1') - double(r[i] == '1') - a.acc_diff;
    v += d * d;
  }
  a.acc_diff_se = std::sqrt(v / n / (n - 1));
  return a;
}

}  // namespace lieq
