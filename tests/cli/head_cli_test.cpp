// The head's type under a size target through the binary: the measured
// allocator chooses it end to end by default, `--output-type rule` takes
// llama.cpp's rule, a type is taken as given, and the score allocators take
// `measured` when asked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
using ::testing::Not;
using testing::run_cli;
using json = nlohmann::json;

TEST(HeadCli, MeasuredAllocatorChoosesTheHeadEndToEndByDefault) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(data);
  testing::TempDir tmp;
  const std::string diag = (tmp / "diag.json").string();
  auto r = run_cli({"diagnose", dir.string(), "--calib", data.string(), "--samples", "4",
                    "--seqlen", "64", "-o", diag});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Between the all-Q2_K and the all-Q4_K file; Q6_K does not fit.
  const std::vector<std::string> plan = {
      "plan",  "-d",        diag, "--gguf",   "--levels", "Q2_K,Q4_K", "--target-size",
      "4.9MB", "--samples", "4",  "--seqlen", "64",       "-o",        (tmp / "plan.json").string(),
      "--json"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = plan;
    a.insert(a.end(), extra.begin(), extra.end());
    return run_cli(a);
  };
  r = with({"--allocator", "measured"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("head type (end to end"));
  const std::string chosen = json::parse(r.out)["output_type"].get<std::string>();
  EXPECT_THAT(r.err, HasSubstr("-> " + chosen));

  r = with({"--allocator", "measured", "--output-type", "rule"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("end to end")));
  const std::string rule = json::parse(r.out)["output_type"].get<std::string>();
  EXPECT_EQ(rule, "Q5_K");  // the layers below 3.1 bpw

  r = with({"--allocator", "measured", "--output-type", "Q4_K"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["output_type"], "Q4_K");

  r = with({"--allocator", "lieq"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("end to end")));
  // Opt-in for the score allocators.
  r = with({"--allocator", "lieq", "--output-type", "measured"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("head type (end to end"));
}

}  // namespace
}  // namespace lieq
