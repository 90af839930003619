// The compare job as a library call on stories260K: its rows and outputs, a
// second identical run reusing every artifact, a changed evaluation setting
// re-measuring the rows but reusing the quantized models, a changed
// calibration re-diagnosing, and bad requests failing before any work.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "expect_error.h"
#include "jobs/compare.h"
#include "test_support.h"
#include "util/json_file.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
namespace fs = std::filesystem;

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

class CompareJob : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path model = testing::shared_model("stories260K");
    const fs::path data = testing::shared_data("tinystories/valid-excerpt.txt");
    const fs::path task = testing::shared_data("tasks/piqa.jsonl");
    LIEQ_REQUIRE_PATH(model);
    LIEQ_REQUIRE_PATH(data);
    LIEQ_REQUIRE_PATH(task);
    r_.model = model.string();
    r_.out = tmp_ / "cmp";
    r_.calib = {data.string(), 4, 64, 0};
    r_.diag_calib = {data.string(), 2, 64, 0};
    r_.targets = {3, 4};
    r_.methods = {QuantMethod::kRtn};
    r_.allocators = {AllocatorKind::kUniform, AllocatorKind::kLieq};
    r_.levels = {2, 4};
    r_.group_size = 64;
    r_.data = {data.string()};
    r_.tasks = {task.string()};
    r_.task_limit = 5;
    r_.ppl_windows = 2;
    r_.kld_windows = 2;
    r_.ctx = 128;
  }
  jobs::CompareOutcome run() {
    log_.clear();
    return jobs::run_compare(
        r_, jobs::ArtifactCache([this](const std::string& s) { log_ += s + "\n"; }));
  }
  testing::TempDir tmp_;
  jobs::CompareRequest r_;
  std::string log_;
};

TEST_F(CompareJob, RowsThenEverythingReused) {
  const jobs::CompareOutcome a = run();
  auto a_baseline_ppl = [&] { return a.results.baseline.ppl.at(0); };
  EXPECT_EQ(a.n_combos, 4u);
  ASSERT_EQ(a.results.rows.size(), 4u);
  for (const ResultRow& row : a.results.rows) {
    EXPECT_EQ(row.ppl.size(), 1u) << row.name();
    EXPECT_EQ(row.acc.size(), 1u) << row.name();
    EXPECT_GT(row.linear_bpw, 2.0) << row.name();
    EXPECT_LE(row.linear_bpw, row.target_bpw + 1e-9) << row.name();
    EXPECT_TRUE(fs::exists(r_.out / "rows" / (row.name() + ".json"))) << row.name();
    ASSERT_EQ(row.layer_formats.size(), row.layer_bits.size()) << row.name();
    // uniform: one grid for every layer, its group size the one that reaches the target.
    for (size_t l = 0; l < row.layer_bits.size(); ++l)
      if (row.allocator == "uniform")
        EXPECT_EQ(row.layer_formats[l], row.layer_formats[0]) << row.name();
      else
        EXPECT_EQ(row.layer_formats[l], "int" + std::to_string(row.layer_bits[l]) + " g64 asym")
            << row.name();
    EXPECT_EQ(row.matched_bits, std::abs(row.linear_bpw - row.target_bpw) <= 0.05 + 1e-9)
        << row.name();
    ASSERT_EQ(row.ppl_se.size(), 1u) << row.name();
    EXPECT_GT(row.ppl_se[0], 0.0) << row.name();
    ASSERT_EQ(row.ppl_diff.size(), 1u) << row.name();
    // From per-token NLLs kept as float32 (relative error 2^-24 each): ppl to ~1e-7.
    EXPECT_NEAR(row.ppl_diff[0], row.ppl[0] - a_baseline_ppl(), 1e-6 * row.ppl[0]) << row.name();
    EXPECT_GT(row.ppl_diff_se[0], 0.0) << row.name();
    ASSERT_EQ(row.acc_se.size(), 1u) << row.name();
  }
  EXPECT_TRUE(a.results.has_baseline);
  for (const char* f :
       {"results.json", "results.md", "report.html", "diagnostics.json", "diagnostics.svg"})
    EXPECT_TRUE(fs::exists(r_.out / f)) << f;
  EXPECT_EQ(read_json_file(r_.out / "results.json")["rows"], a.json["rows"]);
  EXPECT_THAT(a.markdown, HasSubstr("| bpw | Method | Allocator |"));
  // The report's plan grids name each width's storage format.
  EXPECT_THAT(testing::read_bytes(r_.out / "report.html"), HasSubstr("2-bit, int2 g64 asym"));

  const jobs::CompareOutcome b = run();
  EXPECT_EQ(b.n_reused, 4u) << log_;
  EXPECT_EQ(count(log_, "already measured, reusing"), 4u) << log_;
  EXPECT_THAT(log_, HasSubstr("diagnostics: reusing"));
  EXPECT_THAT(log_, HasSubstr("original: reusing"));
  EXPECT_EQ(b.json["rows"], a.json["rows"]);

  // Another evaluation setting: rows measured again, models reused.
  r_.task_limit = 4;
  const jobs::CompareOutcome c = run();
  EXPECT_EQ(count(log_, "already measured"), 0u) << log_;
  EXPECT_GE(count(log_, "quantized model: reusing"), 1u) << log_;
  EXPECT_THAT(log_, HasSubstr("diagnostics: reusing"));
  EXPECT_EQ(c.results.rows[0].settings["eval"]["task_limit"], 4);

  // Another diagnostics calibration: diagnosed again.
  r_.diag_calib.samples = 3;
  run();
  EXPECT_THAT(log_, HasSubstr("diagnostics.json was made with other settings"));
}

TEST_F(CompareJob, BadRequestsFailFirst) {
  jobs::CompareRequest bad = r_;
  bad.methods.clear();
  EXPECT_LIEQ_ERROR(jobs::run_compare(bad, jobs::ArtifactCache()), "--methods");
  bad = r_;
  bad.levels = {2, 7};
  EXPECT_LIEQ_ERROR(jobs::run_compare(bad, jobs::ArtifactCache()), "--levels 7");
  bad = r_;
  bad.calib.file = (tmp_ / "absent.txt").string();
  EXPECT_LIEQ_ERROR(jobs::run_compare(bad, jobs::ArtifactCache()), "absent.txt", "--calib");
  bad = r_;
  bad.targets = {1.5};
  EXPECT_LIEQ_ERROR(jobs::run_compare(bad, jobs::ArtifactCache()), "below the smallest reachable");
  EXPECT_FALSE(fs::exists(r_.out / "rows" / "original.json"));
}

}  // namespace
}  // namespace lieq
