// The comparison report layer: HTML escaping, inline SVG, the results table in
// Markdown and HTML (the original on top, rows grouped by bpw, one cell per
// column, escaped names, "-" for missing values), recovery, the row JSON round
// trip, and the whole HTML report (its charts counted by <svg> and classes,
// nothing fetched from elsewhere).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "report/html_report.h"
#include "report/results_table.h"
#include "report/svg_chart.h"
#include "util/error.h"

namespace lieq {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  for (std::string l; std::getline(is, l);) out.push_back(l);
  return out;
}

ResultRow row(const std::string& method, const std::string& alloc, double bpw, double real,
              std::vector<int> bits, std::vector<double> ppl, std::vector<double> acc, double kld) {
  ResultRow r;
  r.method = method;
  r.allocator = alloc;
  r.target_bpw = bpw;
  r.linear_bpw = real;
  r.file_bytes = 1234567;
  r.layer_bits = std::move(bits);
  r.ppl = std::move(ppl);
  r.acc = std::move(acc);
  double s = 0;
  for (double a : r.acc) s += a;
  r.avg_acc = r.acc.empty() ? ResultRow::kNone : s / double(r.acc.size());
  r.kld_mean = kld;
  return r;
}

ComparisonResults sample() {
  ComparisonResults r;
  r.model = "models/<tiny> & \"co\"";
  r.data = {"wiki", "c4|x"};
  r.tasks = {"piqa", "arc_easy"};
  r.kld_data = "wiki";
  r.settings = {{"Model", r.model}, {"Levels", "2, 4 bits"}};
  r.has_baseline = true;
  r.baseline.baseline = true;
  r.baseline.method = "BF16";
  r.baseline.linear_bpw = 16;
  r.baseline.file_bytes = 5000000;
  r.baseline.ppl = {10, 20};
  r.baseline.acc = {0.8, 0.6};
  r.baseline.avg_acc = 0.7;
  // Given out of order: sort_rows groups by bpw, keeping method/allocator order.
  r.rows.push_back(row("rtn", "uniform", 4.25, 4.25, {4, 4, 4}, {12, 25}, {0.7, 0.5}, 0.05));
  r.rows.push_back(row("rtn", "uniform", 2.5, 2.25, {2, 2, 2}, {40, 80}, {0.5, 0.4}, 0.9));
  r.rows.push_back(
      row("rtn", "lieq", 2.5, 2.92, {4, 2, 2}, {30, ResultRow::kNone}, {0.6, 0.4}, 0.5));
  r.rows.push_back(row("gptq", "uniform", 4.25, 4.25, {4, 4, 4}, {11, 22}, {0.8, 0.6}, 0.02));
  r.rows.push_back(row("gptq", "lieq", 4.25, 4.25, {4, 4, 4}, {11, 22}, {0.75, 0.55}, 0.02));
  sort_rows(r.rows);
  compute_recovery(r);
  return r;
}

TEST(HtmlReport, EscapesText) {
  EXPECT_EQ(html_escape("a<b>&\"c\"'d'"), "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
  EXPECT_EQ(html_escape(std::string("x\x01y\tz\n", 7)), "xy\tz\n");
  EXPECT_EQ(html_escape("naïve — ok"), "naïve — ok");  // UTF-8 passes through
}

TEST(HtmlReport, InlineSvgDropsTheXmlDeclaration) {
  EXPECT_EQ(inline_svg("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg a=\"1\"></svg>"),
            "<svg a=\"1\"></svg>");
  EXPECT_EQ(inline_svg("<svg></svg>"), "<svg></svg>");
}

TEST(ResultsTable, SortsGroupsAndComputesRecovery) {
  const ComparisonResults r = sample();
  ASSERT_EQ(r.rows.size(), 5u);
  EXPECT_EQ(r.rows[0].name(), "rtn-uniform-2.5");
  EXPECT_EQ(r.rows[1].name(), "rtn-lieq-2.5");
  EXPECT_EQ(r.rows[2].name(), "rtn-uniform-4.25");
  EXPECT_EQ(r.rows[3].name(), "gptq-uniform-4.25");
  EXPECT_DOUBLE_EQ(r.baseline.acc_recovery, 100.0);
  EXPECT_DOUBLE_EQ(r.baseline.ppl_recovery, 100.0);
  EXPECT_NEAR(r.rows[3].acc_recovery, 100.0, 1e-12);  // same average as FP
  EXPECT_NEAR(r.rows[2].ppl_recovery, 100.0 * (10.0 / 12 + 20.0 / 25) / 2, 1e-12);
  EXPECT_NEAR(r.rows[0].acc_recovery, 100.0 * 0.45 / 0.7, 1e-12);
  EXPECT_TRUE(std::isnan(r.rows[1].ppl_recovery));  // a missing perplexity propagates
  EXPECT_EQ(bpw_text(2.5), "2.5");
  EXPECT_EQ(bpw_text(4.25), "4.25");
  EXPECT_EQ(bpw_text(3), "3");
}

TEST(ResultsTable, MarkdownLayout) {
  const ComparisonResults r = sample();
  const std::vector<std::string> lines = lines_of(results_markdown(r));
  // header, separator, original, 5 rows, blank, legend
  ASSERT_GE(lines.size(), 10u);
  const size_t n_cols = count(lines[0], " |");
  // bpw, method, allocator, linear bpw, size, front, 2 ppl, 2 ppl differences, 2 tasks, avg,
  // avg difference, acc rec, ppl rec, kld
  EXPECT_EQ(n_cols, 17u) << lines[0];
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(count(lines[i], " |"), n_cols) << lines[i];
  EXPECT_NE(lines[0].find("PPL c4\\|x"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("---:"), std::string::npos);
  EXPECT_EQ(lines[2].rfind("| 16 | BF16 | - |", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("| 2.5 | rtn | uniform | 2.250 |", 0), 0u) << lines[3];
  EXPECT_EQ(lines[4].rfind("|  | rtn | lieq | 2.920 |", 0), 0u) << lines[4];  // same group
  EXPECT_EQ(lines[5].rfind("| 4.25 | rtn | uniform |", 0), 0u) << lines[5];
  EXPECT_NE(lines[4].find("| - |"), std::string::npos);                 // the missing perplexity
  EXPECT_NE(lines[3].find("| 45.0 |"), std::string::npos) << lines[3];  // avg acc in %
  EXPECT_TRUE(lines[8].empty());
  EXPECT_NE(lines[9].find("PPL rec."), std::string::npos);
}

TEST(ResultsTable, RowJsonRoundTrip) {
  const ComparisonResults r = sample();
  ResultRow a = r.rows[1];
  a.settings = {{"eval", {{"data", {"x"}}}}};
  a.seconds["total"] = 1.5;
  const ResultRow b = row_from_json(nlohmann::json::parse(row_to_json(a).dump()), "test");
  EXPECT_EQ(b.name(), a.name());
  EXPECT_EQ(b.layer_bits, a.layer_bits);
  EXPECT_DOUBLE_EQ(b.ppl[0], a.ppl[0]);
  EXPECT_TRUE(std::isnan(b.ppl[1]));
  EXPECT_DOUBLE_EQ(b.avg_acc, a.avg_acc);
  EXPECT_EQ(b.settings, a.settings);
  EXPECT_DOUBLE_EQ(b.seconds.at("total"), 1.5);
  EXPECT_THROW(row_from_json(nlohmann::json::object(), "x.json"), Error);
  // A damaged row names its file and the problem.
  nlohmann::json bad = row_to_json(a);
  bad["ppl"] = "oops";
  try {
    row_from_json(bad, "rows/gptq-lieq-3.json");
    ADD_FAILURE() << "accepted a malformed row";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rows/gptq-lieq-3.json: malformed result row"),
              std::string::npos)
        << e.what();
  }
  // Layer formats round-trip, and must be one per layer.
  a.layer_formats.assign(a.layer_bits.size(), "int2 g128 asym");
  EXPECT_EQ(row_from_json(row_to_json(a), "test").layer_formats, a.layer_formats);
  bad = row_to_json(a);
  bad["layer_formats"].push_back("Q4_K");
  try {
    row_from_json(bad, "rows/gptq-lieq-3.json");
    ADD_FAILURE() << "accepted a row with more formats than layers";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rows/gptq-lieq-3.json: " + std::to_string(a.layer_bits.size() + 1) +
                                         " layer formats for"),
              std::string::npos)
        << e.what();
  }
  const nlohmann::json all = results_to_json(r);
  EXPECT_EQ(all["rows"].size(), 5u);
  EXPECT_TRUE(all["baseline"]["baseline"].get<bool>());
}

TEST(HtmlReport, ComparisonReportIsSelfContainedWithItsCharts) {
  const ComparisonResults r = sample();
  BarChart diag;
  diag.title = "diagnostics";
  diag.categories = {"L0", "L1", "L2"};
  diag.series = {{"score", {0.1, 0.5, 0.9}}};
  const std::string html = comparison_html(r, render_bar_chart(diag));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count(html, "<?xml"), 0u);
  // diagnostics 1 + plans 2 (targets) + ppl 2 methods x 2 files + accuracy 2 + kld 2
  EXPECT_EQ(count(html, "<svg"), 11u);
  EXPECT_EQ(count(html, "<svg"), count(html, "</svg>"));
  EXPECT_EQ(count(html, "<figure class=\"chart\">"), 11u);
  EXPECT_EQ(count(html, "<table class=\"results\">"), 1u);
  EXPECT_EQ(count(html, "<tr class=\"baseline\">"), 1u);
  EXPECT_EQ(count(html, "class=\"group-start\""), 2u);
  EXPECT_EQ(count(html, "class=\"bar\""), 3u);
  EXPECT_GE(count(html, "class=\"series\""), 8u);
  // plan at 2.5: two allocators x 3 layers; at 4.25: two allocators x 3 layers
  EXPECT_EQ(count(html, "class=\"cell\""), 12u);
  for (const char* id : {"results", "diagnostics", "plans", "ppl", "accuracy", "kld"})
    EXPECT_NE(html.find(std::string("<section id=\"") + id + "\">"), std::string::npos) << id;
  // Escaped model name, nothing loaded from elsewhere.
  EXPECT_EQ(html.find("<tiny>"), std::string::npos);
  EXPECT_NE(html.find("models/&lt;tiny&gt; &amp; &quot;co&quot;"), std::string::npos);
  // The title names the model, not its path on this machine.
  EXPECT_NE(html.find("<h1>lieq compare: &lt;tiny&gt; &amp; &quot;co&quot;</h1>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  // Without tasks, KLD or diagnostics those sections are left out.
  ComparisonResults bare = r;
  bare.tasks.clear();
  bare.kld_data.clear();
  for (ResultRow& x : bare.rows) x.acc.clear();
  const std::string h2 = comparison_html(bare, "");
  EXPECT_EQ(count(h2, "<svg"), 6u);
  EXPECT_EQ(h2.find("id=\"accuracy\""), std::string::npos);
  EXPECT_EQ(h2.find("id=\"kld\""), std::string::npos);
  EXPECT_EQ(h2.find("id=\"diagnostics\""), std::string::npos);
}

}  // namespace
}  // namespace lieq
