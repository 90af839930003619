// The Pareto front and the verdict of a comparison (report/results_table.h),
// on hand-made rows whose answers are worked out here.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "report/html_report.h"
#include "report/results_table.h"

namespace lieq {
namespace {

ResultRow row(const std::string& method, const std::string& alloc, double target, double bpw,
              int64_t bytes, double ppl, double se) {
  ResultRow r;
  r.method = method;
  r.allocator = alloc;
  r.target_bpw = target;
  r.linear_bpw = bpw;
  r.file_bytes = bytes;
  r.ppl = {ppl};
  r.ppl_se = {se};
  r.layer_bits = {int(bpw)};
  return r;
}

ComparisonResults sample() {
  ComparisonResults r;
  r.data = {"book"};
  r.has_baseline = true;
  r.baseline = row("BF16", "", ResultRow::kNone, 16, 24'000'000, 40.0, 0.3);
  r.baseline.baseline = true;
  r.baseline.allocator.clear();
  // 2.5 bpw: lieq beats uniform clearly; uniform at 3.0 misses its target (n/a).
  r.rows.push_back(row("gptq", "uniform", 2.5, 2.5, 7'000'000, 48.0, 0.4));
  r.rows.push_back(row("gptq", "lieq", 2.5, 2.49, 7'100'000, 44.0, 0.4));
  r.rows.push_back(row("gptq", "uniform", 3.0, 2.5, 7'000'000, 48.0, 0.4));
  r.rows.push_back(row("gptq", "lieq", 3.0, 3.0, 8'000'000, 42.0, 0.3));
  // Another tool's file: a bit bigger than lieq at 3.0, about as good.
  ResultRow f = row("", "", ResultRow::kNone, 3.1, 8'200'000, 42.2, 0.3);
  f.file = "/x/tinylm-Q3_K_M.gguf";
  f.format = "gguf";
  r.rows.push_back(f);
  sort_rows(r.rows);
  mark_matched_bits(r);
  mark_pareto(r);
  make_verdict(r);
  return r;
}

TEST(Pareto, FrontOfSizeAgainstPerplexity) {
  const ComparisonResults r = sample();
  ASSERT_EQ(r.rows.size(), 5u);
  EXPECT_EQ(r.rows.back().name(), "file-tinylm-Q3_K_M");  // files last
  EXPECT_TRUE(r.rows.back().matched_bits);
  EXPECT_FALSE(r.rows[2].matched_bits);  // uniform at 3.0 reaches 2.5
  // uniform 2.5 is smallest (on), lieq 2.5 is bigger and better (on), lieq 3.0 (on),
  // the file is bigger and worse than lieq 3.0 (off), the n/a row is not compared.
  EXPECT_TRUE(r.rows[0].pareto);
  EXPECT_TRUE(r.rows[1].pareto);
  EXPECT_FALSE(r.rows[2].pareto);
  EXPECT_TRUE(r.rows[3].pareto);
  EXPECT_FALSE(r.rows[4].pareto);
  EXPECT_FALSE(r.baseline.pareto);
  EXPECT_EQ(r.pareto_metric, "ppl:book");
}

TEST(Verdict, BestAtEachBudgetWithTheNextBest) {
  const ComparisonResults r = sample();
  // Budgets: target 2.5 (7.1 MB), target 3 (8.0 MB; the n/a row does not count), the file.
  ASSERT_EQ(r.verdict.size(), 3u);
  const VerdictLine& a = r.verdict[0];
  EXPECT_EQ(a.budget_bytes, 7'100'000);
  EXPECT_EQ(a.pick, "gptq-lieq-2.5");
  EXPECT_EQ(a.runner_up, "gptq-uniform-2.5");
  EXPECT_DOUBLE_EQ(a.diff, 4.0);
  EXPECT_NEAR(a.diff_se, std::sqrt(0.4 * 0.4 * 2), 1e-12);
  EXPECT_FALSE(a.within_noise);
  EXPECT_NE(a.text.find("At 7.10 MB (target 2.5): pick gptq-lieq-2.5"), std::string::npos)
      << a.text;
  const VerdictLine& c = r.verdict[2];
  EXPECT_EQ(c.budget_bytes, 8'200'000);
  EXPECT_EQ(c.pick, "gptq-lieq-3");
  EXPECT_EQ(c.runner_up, "file-tinylm-Q3_K_M");
  // 0.2 < 2 sqrt(0.3^2 + 0.3^2) = 0.85: within noise, and warned about.
  EXPECT_TRUE(c.within_noise);
  EXPECT_NE(c.text.find("within noise"), std::string::npos) << c.text;
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings[0].find("gptq-lieq-3 and file-tinylm-Q3_K_M"), std::string::npos);
}

TEST(Verdict, PairedErrorReplacesTheUnpairedOne) {
  ComparisonResults r = sample();
  // Paired over the same tokens the error is 0.05: 0.2 is then 4 standard errors, not noise.
  make_verdict(r, [](const ResultRow&, const ResultRow&) { return 0.05; });
  EXPECT_TRUE(r.verdict[2].paired);
  EXPECT_DOUBLE_EQ(r.verdict[2].diff_se, 0.05);
  EXPECT_FALSE(r.verdict[2].within_noise);
  EXPECT_NE(r.verdict[2].text.find("(paired)"), std::string::npos) << r.verdict[2].text;
  EXPECT_TRUE(r.warnings.empty());
  // Unknown (NaN): the unpaired error stays.
  make_verdict(r, [](const ResultRow&, const ResultRow&) { return ResultRow::kNone; });
  EXPECT_FALSE(r.verdict[2].paired);
  EXPECT_TRUE(r.verdict[2].within_noise);
}

TEST(Verdict, RoundTripsThroughJson) {
  const ComparisonResults r = sample();
  const ComparisonResults b = results_from_json(results_to_json(r), "test");
  ASSERT_EQ(b.verdict.size(), r.verdict.size());
  EXPECT_EQ(b.verdict[2].text, r.verdict[2].text);
  EXPECT_EQ(b.warnings, r.warnings);
  EXPECT_EQ(b.rows[4].file, r.rows[4].file);
  EXPECT_EQ(b.rows[4].format, "gguf");
  EXPECT_TRUE(b.rows[1].pareto);
  EXPECT_TRUE(results_to_json(r)["rows"][4]["baseline"].get<bool>());  // another tool's file
  EXPECT_FALSE(b.rows[4].baseline);
  // The table marks the front and lists the file by name; results.md leads with the verdict.
  const std::string md = results_markdown(r);
  EXPECT_EQ(md.rfind("Verdict (by perplexity on book):", 0), 0u) << md;
  EXPECT_NE(md.find("| file | /x/tinylm-Q3_K_M.gguf | - |"), std::string::npos) << md;
  EXPECT_NE(md.find("◆"), std::string::npos);
  // report.html leads with the verdict and its warnings, before the results table.
  const std::string html = comparison_html(r, "");
  const size_t verdict = html.find("id=\"verdict\""), results = html.find("id=\"results\"");
  ASSERT_NE(verdict, std::string::npos);
  EXPECT_LT(verdict, results);
  EXPECT_NE(html.find("class=\"warning\""), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"group-start pareto\">"), std::string::npos);
}

}  // namespace
}  // namespace lieq
