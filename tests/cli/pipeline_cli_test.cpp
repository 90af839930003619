// The staged pipeline through the binary: diagnose -> plan -> quantize --plan,
// the one-shot quantize, and quantized outputs read by ppl/eval/kld/generate.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
using testing::run_cli;
using json = nlohmann::json;
namespace fs = std::filesystem;

TEST(PipelineCli, DiagnosePlanQuantizeThenEvaluateTheQuantizedModel) {
  const auto dir = testing::shared_model("stories260K");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(data);
  testing::TempDir tmp;
  const std::string m = dir.string(), d = data.string();
  auto r = run_cli({"diagnose", m, "--calib", d, "--samples", "4", "--seqlen", "64", "-o",
                    (tmp / "diag.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("dPPL"));
  EXPECT_TRUE(fs::exists(tmp / "diag.svg"));
  EXPECT_THAT(testing::read_bytes(tmp / "diag.svg"), HasSubstr("<svg"));

  r = run_cli({"plan", "-d", (tmp / "diag.json").string(), "--target-bpw", "3.0", "--levels",
               "2,4", "-o", (tmp / "plan.json").string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json plan = json::parse(r.out);
  EXPECT_LE(plan["linear_bpw"].get<double>(), 3.0);
  EXPECT_GT(plan["linear_bpw"].get<double>(), 2.25);

  // Far below the target (levels 2, 4 give at most every layer at int4): a warning, no failure.
  r = run_cli({"plan", "-d", (tmp / "diag.json").string(), "--target-bpw", "9", "--levels", "2,4",
               "-o", (tmp / "plan9.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: the plan reaches 4."));
  EXPECT_THAT(r.err, HasSubstr("below the target 9.0000 bpw (every layer at int4 g128 asym"));
  r = run_cli({"plan", "-d", (tmp / "diag.json").string(), "--target-bpw", "2.5", "--levels", "2,4",
               "-o", (tmp / "plan25.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("warning")));

  r = run_cli({"quantize", m, "--plan", (tmp / "plan.json").string(), "--calib", d, "--samples",
               "4", "--seqlen", "64", "-o", (tmp / "q").string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json rep = json::parse(r.out);
  EXPECT_DOUBLE_EQ(rep["linear_bpw"].get<double>(), plan["linear_bpw"].get<double>());
  EXPECT_TRUE(fs::exists(tmp / "q" / "plan.json"));

  const std::string q = (tmp / "q").string();
  r = run_cli({"ppl", q, "--data", d, "--ctx", "128", "--max-windows", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(json::parse(r.out)["ppl"].get<double>(), 1.0);
  r = run_cli({"kld", m, q, "--data", d, "--ctx", "128", "--max-windows", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(json::parse(r.out)["mean_kld"].get<double>(), 0.0);
  r = run_cli({"generate", q, "--prompt", "Once upon a time", "-n", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Once upon a time"));
  r = run_cli({"inspect", q});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // Bad plans: wrong layer count, quantized input, both --bits and --plan.
  json bad = plan;
  bad["layers"].erase(0);
  bad["model"]["num_layers"] = 4;
  for (size_t i = 0; i < bad["layers"].size(); ++i) bad["layers"][i]["layer"] = i;
  testing::write_bytes(tmp / "bad.json", bad.dump());
  r = run_cli({"quantize", m, "--plan", (tmp / "bad.json").string(), "--method", "rtn", "-o",
               (tmp / "q2").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the plan has 4 layers but the model has 5"));
  r = run_cli({"quantize", q, "--method", "rtn", "-o", (tmp / "q3").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("already a lieq quantized model"));
  r = run_cli({"quantize", m, "--bits", "3", "--plan", (tmp / "plan.json").string(), "-o",
               (tmp / "q4").string()});
  EXPECT_NE(r.exit_code, 0);
  r = run_cli({"quantize", m, "--bits", "7", "--method", "rtn", "-o", (tmp / "q5").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("bits"));
  EXPECT_FALSE(fs::exists(tmp / "q5"));
}

TEST(PipelineCli, OneShotQuantizePrintsPerplexityBeforeAndAfter) {
  const auto dir = testing::shared_model("stories260K");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(data);
  testing::TempDir tmp;
  const std::vector<std::string> args = {
      "quantize", dir.string(), "--target-bpw", "3.25", "--levels", "2,3,4", "--calib", data.string(),
      "--samples", "4", "--seqlen", "64", "--diag-samples", "2", "--diag-seqlen", "64", "--eval-data",
      data.string(), "--eval-windows", "2", "-o", (tmp / "q").string()};
  auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("original"));
  EXPECT_THAT(r.out, HasSubstr("quantized"));
  for (const char* f : {"diagnostics.json", "diagnostics.svg", "plan.json", "quantize_report.json"})
    EXPECT_TRUE(fs::exists(tmp / "q" / f)) << f;
  // The stages are kept beside the output, and a rerun with the same settings
  // resumes from them: the diagnostics are not made again, the plan is the same.
  for (const char* f : {"diagnostics.json", "diagnostics.svg", "plan.json"})
    EXPECT_TRUE(fs::exists(tmp / "q.stages" / f)) << f;
  const std::string plan = testing::read_bytes(tmp / "q.stages" / "plan.json");
  r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("diagnostics: reusing"));
  EXPECT_EQ(testing::read_bytes(tmp / "q.stages" / "plan.json"), plan);
  EXPECT_EQ(testing::read_bytes(tmp / "q" / "plan.json"), plan);
  // Other diagnostics settings: diagnosed again.
  std::vector<std::string> other = args;
  other[std::find(other.begin(), other.end(), "--diag-samples") - other.begin() + 1] = "3";
  r = run_cli(other);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("was made with other settings"));
}

}  // namespace
}  // namespace lieq
