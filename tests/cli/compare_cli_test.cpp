// lieq compare through the binary on stories260K: every method x allocator x
// target quantized and evaluated, results.json / results.md / report.html
// consistent with the plans, a second identical run reusing everything, a
// changed evaluation setting re-measuring (but reusing the quantized model),
// and bad inputs failing before any work.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
using testing::run_cli;
using json = nlohmann::json;
namespace fs = std::filesystem;

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

std::vector<std::string> compare_args(const std::string& model, const std::string& data,
                                      const std::string& task, const std::string& out) {
  std::vector<std::string> a = {"compare", model,    "--calib", data, "--data",
                                data,      "--task", task,      "-o", out};
  std::istringstream flags(
      "--samples 4 --seqlen 64 --diag-samples 2 --diag-seqlen 64 --target-bpw 3,4 --methods "
      "rtn,gptq --allocators uniform,lieq --levels 2,4 --group-size 64 --task-limit 5 "
      "--ppl-windows 2 --kld-windows 2 --ctx 128");
  for (std::string w; flags >> w;) a.push_back(w);
  return a;
}

TEST(CompareCli, EveryCombinationReportedThenResumed) {
  const auto model = testing::shared_model("stories260K");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  const auto task = testing::shared_data("tasks/piqa.jsonl");
  LIEQ_REQUIRE_PATH(model);
  LIEQ_REQUIRE_PATH(data);
  LIEQ_REQUIRE_PATH(task);
  testing::TempDir tmp;
  const fs::path out = tmp / "cmp";
  const std::vector<std::string> args =
      compare_args(model.string(), data.string(), task.string(), out.string());
  auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("[1/8] rtn uniform 3 bpw"));
  EXPECT_THAT(r.err, HasSubstr("[8/8] gptq lieq 4 bpw"));
  EXPECT_THAT(r.out, HasSubstr("| bpw | Method | Allocator |"));

  const json res = json::parse(testing::read_bytes(out / "results.json"));
  ASSERT_EQ(res["rows"].size(), 8u);
  EXPECT_TRUE(res["baseline"]["baseline"].get<bool>());
  EXPECT_EQ(res["baseline"]["ppl"].size(), 1u);
  std::map<std::pair<std::string, double>, json> plans;
  for (const json& p : res["plans"]) plans[{p["allocator"], p["target_bpw"]}] = p;
  EXPECT_EQ(plans.size(), 4u);
  std::set<std::string> names;
  for (const json& row : res["rows"]) {
    const double target = row["target_bpw"].get<double>();
    names.insert(row["name"].get<std::string>());
    EXPECT_EQ(row["name"], row["method"].get<std::string>() + "-" +
                               row["allocator"].get<std::string>() + "-" +
                               (target == 3 ? "3" : "4"));
    const json& plan = plans.at({row["allocator"].get<std::string>(), target});
    EXPECT_DOUBLE_EQ(row["linear_bpw"].get<double>(), plan["linear_bpw"].get<double>())
        << row["name"];
    EXPECT_LE(row["linear_bpw"].get<double>(), target + 1e-9) << row["name"];
    EXPECT_EQ(row["layer_bits"], plan["bits"]) << row["name"];
    EXPECT_EQ(row["layer_bits"].size(), 5u);
    EXPECT_GT(row["file_bytes"].get<int64_t>(), 0);
    ASSERT_EQ(row["ppl"].size(), 1u);
    EXPECT_GT(row["ppl"][0].get<double>(), 1.0);
    ASSERT_EQ(row["acc"].size(), 1u);
    EXPECT_GT(row["kld_mean"].get<double>(), 0.0) << row["name"];
    EXPECT_TRUE(row["ppl_recovery_pct"].is_number());
  }
  EXPECT_EQ(names.size(), 8u);
  // uniform reaches each target by group size: int2 g64 at 3, int2 g32 at 4 (stories260K's
  // odd widths add partial groups, so both fall short of their targets: n/a there).
  EXPECT_EQ(count(r.err, "the same plan as"), 0u) << r.err;
  EXPECT_EQ(res["rows"][0]["layer_formats"][0], "int2 g64 asym");
  EXPECT_EQ(res["rows"][4]["layer_formats"][0], "int2 g32 asym");
  for (const json& row : res["rows"]) {
    const double miss = std::abs(row["linear_bpw"].get<double>() - row["target_bpw"].get<double>());
    EXPECT_EQ(row["matched_bits"].get<bool>(), miss <= 0.05 + 1e-9) << row["name"];
    EXPECT_GT(row["ppl_se"][0].get<double>(), 0.0) << row["name"];
    EXPECT_GT(row["ppl_diff_se"][0].get<double>(), 0.0) << row["name"];
    EXPECT_TRUE(row["acc_se"][0].is_number()) << row["name"];
  }
  EXPECT_FALSE(res["rows"][0]["matched_bits"].get<bool>());
  EXPECT_THAT(r.out, HasSubstr("n/a: uniform reaches 2.514 bpw"));
  EXPECT_GT(res["baseline"]["ppl_se"][0].get<double>(), 0.0);
  size_t n_models = 0;
  for (const auto& e : fs::directory_iterator(out / "models")) {
    EXPECT_TRUE(fs::exists(e.path() / "model.safetensors")) << e.path();
    ++n_models;
  }
  EXPECT_EQ(n_models, 8u);
  EXPECT_TRUE(res["diagnostics"]["layers"].is_array());
  EXPECT_TRUE(fs::exists(out / "diagnostics.json"));

  const std::string md = testing::read_bytes(out / "results.md");
  size_t table_lines = 0;
  std::istringstream is(md);
  for (std::string l; std::getline(is, l);)
    if (l.rfind("| ", 0) == 0 && l.rfind("| ---", 0) != 0) ++table_lines;
  EXPECT_EQ(table_lines, 1u + 1u + 8u) << md;  // header, original, 8 rows

  const std::string html = testing::read_bytes(out / "report.html");
  // diagnostics + 2 plan charts + per method (2): perplexity, accuracy, KLD
  EXPECT_EQ(count(html, "<svg"), 9u);
  EXPECT_EQ(count(html, "<tr class=\"baseline\">"), 1u);
  EXPECT_EQ(html.find("<script"), std::string::npos);

  // The same run again: nothing quantized or evaluated again.
  std::map<std::string, fs::file_time_type> mtimes;
  for (const auto& e : fs::directory_iterator(out / "models"))
    mtimes[e.path().filename().string()] = fs::last_write_time(e.path() / "model.safetensors");
  std::vector<std::string> again = args;
  again.push_back("--json");
  r = run_cli(again);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count(r.err, "already measured, reusing"), 8u) << r.err;
  EXPECT_THAT(r.err, HasSubstr("diagnostics: reusing"));
  EXPECT_THAT(r.err, HasSubstr("original: reusing"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("calibration:")));
  const json res2 = json::parse(r.out);
  EXPECT_EQ(res2["rows"], res["rows"]);
  for (const auto& [name, t] : mtimes)
    EXPECT_EQ(fs::last_write_time(out / "models" / name / "model.safetensors"), t) << name;

  // A changed evaluation setting re-measures the row but keeps its model.
  std::vector<std::string> changed =
      compare_args(model.string(), data.string(), task.string(), out.string());
  for (size_t i = 0; i + 1 < changed.size(); ++i) {
    if (changed[i] == "--task-limit") changed[i + 1] = "4";
    if (changed[i] == "--methods") changed[i + 1] = "rtn";
    if (changed[i] == "--allocators") changed[i + 1] = "uniform";
    if (changed[i] == "--target-bpw") changed[i + 1] = "3";
  }
  changed.push_back("--no-keep-models");
  r = run_cli(changed);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(out / "models" / "rtn-uniform-3"));
  EXPECT_THAT(r.err, HasSubstr("made with other settings"));
  EXPECT_THAT(r.err, HasSubstr("quantized model: reusing"));
  EXPECT_EQ(count(r.err, "already measured"), 0u);
  const json res3 = json::parse(testing::read_bytes(out / "results.json"));
  EXPECT_EQ(res3["rows"].size(), 1u);
  EXPECT_EQ(res3["rows"][0]["settings"]["eval"]["task_limit"], 4);
}

TEST(CompareCli, ShardsMergedThroughTheBinary) {
  const auto model = testing::shared_model("stories260K");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  const auto task = testing::shared_data("tasks/piqa.jsonl");
  LIEQ_REQUIRE_PATH(model);
  LIEQ_REQUIRE_PATH(data);
  LIEQ_REQUIRE_PATH(task);
  testing::TempDir tmp;
  auto args = [&](const fs::path& out, const std::string& shard) {
    std::vector<std::string> a = compare_args(model.string(), data.string(), task.string(), out);
    for (size_t i = 0; i + 1 < a.size(); ++i) {
      if (a[i] == "--methods") a[i + 1] = "rtn";
      if (a[i] == "--allocators") a[i + 1] = "lieq";
    }
    a.insert(a.end(), {"--shard", shard});
    return a;
  };
  for (const std::string shard : {"0/2", "1/2"}) {
    const auto r = run_cli(args(tmp / "shards", shard));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("shard " + shard + ": 1 of them")) << r.err;
    EXPECT_THAT(r.err, HasSubstr("[1/1] rtn lieq")) << r.err;
  }
  EXPECT_TRUE(fs::exists(tmp / "shards" / "shards" / "shard-1-of-2.json"));
  EXPECT_FALSE(fs::exists(tmp / "shards" / "results.json"));
  auto r = run_cli({"compare", "--merge", (tmp / "shards").string(), "-o", (tmp / "m").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("| bpw | Method | Allocator |"));
  const json res = json::parse(testing::read_bytes(tmp / "m" / "results.json"));
  ASSERT_EQ(res["rows"].size(), 2u);
  EXPECT_EQ(res["rows"][0]["name"], "rtn-lieq-3");
  EXPECT_EQ(res["rows"][1]["name"], "rtn-lieq-4");
  EXPECT_TRUE(fs::exists(tmp / "m" / "report.html"));

  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::string m = (tmp / "m2").string();
  for (const Case& c : std::vector<Case>{
           {args(tmp / "x", "2/2"), "--shard \"2/2\": want I/N"},
           {{"compare", "--merge", (tmp / "none").string(), "-o", m},
            "none: no such file or directory (--merge)"},
           {{"compare", "--merge", (tmp / "shards").string(), "--shard", "0/2", "-o", m},
            "excludes"},
           {{"compare", "--calib", data.string(), "--target-bpw", "3", "-o", m},
            "model is required"},
           {{"compare", model.string(), "--target-bpw", "3", "-o", m}, "--calib is required"},
       }) {
    r = run_cli(c.args);
    EXPECT_NE(r.exit_code, 0) << c.message;
    EXPECT_THAT(r.err, HasSubstr(c.message)) << r.err;
    EXPECT_FALSE(fs::exists(m)) << c.message;
  }
}

TEST(CompareCli, BadInputsFailBeforeAnyWork) {
  const auto model = testing::shared_model("stories260K");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  const auto task = testing::shared_data("tasks/piqa.jsonl");
  LIEQ_REQUIRE_PATH(model);
  LIEQ_REQUIRE_PATH(data);
  LIEQ_REQUIRE_PATH(task);
  testing::TempDir tmp;
  const std::string out = (tmp / "cmp").string();
  auto with = [&](const std::string& flag, const std::string& value) {
    std::vector<std::string> a = compare_args(model.string(), data.string(), task.string(), out);
    for (size_t i = 0; i + 1 < a.size(); ++i)
      if (a[i] == flag) a[i + 1] = value;
    return a;
  };
  struct Case {
    std::string flag, value, message;
  };
  for (const Case& c : std::vector<Case>{
           {"--methods", "rtn,magic", "--methods: unknown method \"magic\""},
           {"--allocators", "lieq,best", "--allocators: unknown allocator \"best\""},
           {"--data", (tmp / "missing.txt").string(), "missing.txt"},
           {"--task", (tmp / "missing.jsonl").string(), "missing.jsonl"},
           {"--calib", (tmp / "nocalib.txt").string(), "nocalib.txt: no such file (--calib)"},
           {"--target-bpw", "2.1,4", "--target-bpw 2.1: below the smallest reachable"},
           {"--levels", "2,7", "--levels 7"},
       }) {
    const auto r = run_cli(with(c.flag, c.value));
    EXPECT_EQ(r.exit_code, 1) << c.flag << " " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.flag;
    EXPECT_FALSE(fs::exists(out)) << c.flag << ": work started";
  }
}

}  // namespace
}  // namespace lieq
