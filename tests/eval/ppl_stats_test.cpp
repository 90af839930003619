// Standard errors of perplexity (llama-perplexity's), of the paired
// perplexity difference and of accuracy (lm-evaluation-harness's), against
// cases worked by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "eval/ppl_stats.h"
#include "expect_error.h"

namespace lieq {
namespace {

// q = {1, 2, 3}, r = {1, 1, 2} nats (exact in float). By hand:
//   m_q = 2, population var 2/3, var of the mean 2/3 / 2 = 1/3
//   m_r = 4/3, population var 2/9, var of the mean 1/9
//   covariance: ((-1)(-1/3) + 0 + (1)(2/3)) / 3 = 1/3, of the means 1/6
//   d = q - r = {0, 1, 1}: mean 2/3, population var 2/9, se sqrt(1/9) = 1/3
//   PPL(q) - PPL(r) = e^2 - e^(4/3),
//   se^2 = e^4 / 3 + e^(8/3) / 9 - 2 e^2 e^(4/3) / 6
TEST(PplStats, HandComputedCase) {
  const std::vector<float> q = {1, 2, 3}, r = {1, 1, 2};
  const PplError eq = ppl_standard_error(q);
  EXPECT_NEAR(eq.nll, 2.0, 1e-15);
  EXPECT_NEAR(eq.ppl, std::exp(2.0), 1e-12);
  EXPECT_NEAR(eq.nll_se, std::sqrt(1.0 / 3), 1e-15);
  EXPECT_NEAR(eq.ppl_se, std::exp(2.0) * std::sqrt(1.0 / 3), 1e-12);  // 4.26608
  const PplError er = ppl_standard_error(r);
  EXPECT_NEAR(er.nll_se, 1.0 / 3, 1e-15);

  const PairedPpl d = paired_ppl_difference(q, r);
  EXPECT_NEAR(d.nll_diff, 2.0 / 3, 1e-15);
  EXPECT_NEAR(d.nll_diff_se, 1.0 / 3, 1e-15);
  EXPECT_NEAR(d.ppl_diff, std::exp(2.0) - std::exp(4.0 / 3), 1e-12);  // 3.59539
  const double se2 = std::exp(4.0) / 3 + std::exp(8.0 / 3) / 9 - std::exp(10.0 / 3) / 3;
  EXPECT_NEAR(d.ppl_diff_se, std::sqrt(se2), 1e-12);  // 3.23336
  EXPECT_NEAR(d.ppl_diff_se, 3.23336, 1e-5);
  // The same tokens against themselves: no difference, no uncertainty.
  const PairedPpl self = paired_ppl_difference(q, q);
  EXPECT_EQ(self.ppl_diff, 0.0);
  EXPECT_EQ(self.ppl_diff_se, 0.0);
}

TEST(PplStats, PairingRemovesTheSharedVariance) {
  // A model a little worse on every token: the unpaired error bars overlap,
  // the paired difference is many standard errors from 0.
  std::mt19937 rng(7);
  std::gamma_distribution<float> hard(2.0f, 1.0f);
  std::normal_distribution<float> jitter(0.05f, 0.02f);
  std::vector<float> ref(4000), q(4000);
  for (size_t i = 0; i < ref.size(); ++i) {
    ref[i] = hard(rng);
    q[i] = ref[i] + jitter(rng);
  }
  const PplError a = ppl_standard_error(q), b = ppl_standard_error(ref);
  const PairedPpl d = paired_ppl_difference(q, ref);
  const double unpaired = std::hypot(a.ppl_se, b.ppl_se);
  EXPECT_LT(d.ppl_diff, 2 * unpaired);
  EXPECT_LT(d.ppl_diff_se, unpaired / 10);
  EXPECT_GT(d.ppl_diff, 10 * d.ppl_diff_se);
}

TEST(PplStats, EdgesAndErrors) {
  EXPECT_TRUE(std::isnan(ppl_standard_error({1.5f}).ppl_se));
  EXPECT_NEAR(ppl_standard_error({1.5f}).ppl, std::exp(1.5), 1e-12);
  EXPECT_TRUE(std::isnan(paired_ppl_difference({1}, {2}).ppl_diff_se));
  EXPECT_LIEQ_ERROR(ppl_standard_error({}), "no tokens");
  EXPECT_LIEQ_ERROR(paired_ppl_difference({1, 2}, {1, 2, 3}), "2 tokens against 3");
}

TEST(AccStats, AsLmEvaluationHarness) {
  // sqrt(p (1 - p) / (n - 1)): the sample standard deviation over sqrt(n).
  EXPECT_NEAR(acc_standard_error(0.4, 41), std::sqrt(0.24 / 40), 1e-15);  // 0.0775
  EXPECT_NEAR(acc_standard_error(0.5, 5), std::sqrt(0.25 / 4), 1e-15);
  EXPECT_EQ(acc_standard_error(1.0, 10), 0.0);
  EXPECT_TRUE(std::isnan(acc_standard_error(1.0, 1)));
}

}  // namespace
}  // namespace lieq

namespace lieq {
namespace {
TEST(PairedAcc, HandComputed) {
  // d = 0, 1, 0, 0: mean 0.25; population variance (3 x 0.25^2 + 0.75^2) / 4 = 0.1875;
  // standard error sqrt(0.1875 / 3) = 0.25. Unpaired it would be about 0.35.
  const PairedAcc a = paired_acc_difference("1101", "1001");
  EXPECT_DOUBLE_EQ(a.acc_diff, 0.25);
  EXPECT_DOUBLE_EQ(a.acc_diff_se, 0.25);
  // Identical outcomes: no difference, no error.
  const PairedAcc same = paired_acc_difference("1010", "1010");
  EXPECT_EQ(same.acc_diff, 0);
  EXPECT_EQ(same.acc_diff_se, 0);
  EXPECT_TRUE(std::isnan(paired_acc_difference("1", "0").acc_diff_se));
  EXPECT_THROW(paired_acc_difference("10", "1"), Error);
  EXPECT_THROW(paired_acc_difference("", ""), Error);
}
}  // namespace
}  // namespace lieq
