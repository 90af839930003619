// compare --shard / --merge as library calls on stories260K: 4 combinations
// run unsharded and as 3 shards (0/3 and 1/3 sharing one directory, 2/3 in
// its own), merged: the same results.json apart from timing, byte-equal
// results.md and report.html; a shard rerun reusing its directory. Then merges that must fail
// (missing, duplicate, mismatched and corrupted shards) and write nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "expect_error.h"
#include "jobs/compare.h"
#include "test_support.h"
#include "util/json_file.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
namespace fs = std::filesystem;
using json = nlohmann::json;

// j without its "seconds" members (timing: the only fields a merge may change), at any depth.
json without_timing(json j) {
  if (j.is_object()) {
    j.erase("seconds");
    for (auto& [k, v] : j.items()) v = without_timing(v);
  } else if (j.is_array()) {
    for (json& v : j) v = without_timing(v);
  }
  return j;
}

class CompareShards : public ::testing::Test {
 protected:
  // One sweep, unsharded and sharded, shared by the tests of this suite.
  static void SetUpTestSuite() {
    const fs::path model = testing::shared_model("stories260K");
    const fs::path data = testing::shared_data("tinystories/valid-excerpt.txt");
    const fs::path task = testing::shared_data("tasks/piqa.jsonl");
    if (!fs::exists(model) || !fs::exists(data) || !fs::exists(task)) return;
    tmp_ = std::make_unique<testing::TempDir>();
    jobs::CompareRequest r;
    r.model = model.string();
    r.calib = {data.string(), 4, 64, 0};
    r.diag_calib = {data.string(), 2, 64, 0};
    r.targets = {3, 4};
    r.methods = {QuantMethod::kRtn};
    r.allocators = {AllocatorKind::kUniform, AllocatorKind::kLieq};
    r.group_size = 64;
    r.data = {data.string()};
    r.tasks = {task.string()};
    r.task_limit = 5;
    r.ppl_windows = 2;
    r.kld_windows = 2;
    r.ctx = 128;
    request_ = r;
    const jobs::ArtifactCache cache([](const std::string&) {});
    r.out = dir("full");
    jobs::run_compare(r, cache);
    for (int i : {0, 1, 2}) {
      r.out = dir(i < 2 ? "shared" : "own");
      r.shard = {i, 3};
      shard_rows_[i] = jobs::run_compare(r, cache).results.rows.size();
    }
  }
  static void TearDownTestSuite() { tmp_.reset(); }
  void SetUp() override {
    const fs::path model = tmp_ ? fs::path(request_.model) : fs::path();
    LIEQ_REQUIRE_PATH(model);
  }
  static fs::path dir(const std::string& name) { return tmp_->path() / name; }
  static fs::path shard_file(const std::string& d, int i) {
    return jobs::shard_results_path(dir(d), {i, 3});
  }
  static jobs::CompareOutcome merge(const std::vector<fs::path>& inputs, const fs::path& out) {
    return jobs::merge_compare({inputs, out}, jobs::ArtifactCache([](const std::string&) {}));
  }
  // A copy of shard i's file in a fresh directory, changed by `edit`.
  static fs::path edited(const std::string& name, int i, const std::function<void(json&)>& edit) {
    const std::string d = i < 2 ? "shared" : "own";
    json j = read_json_file(shard_file(d, i));
    edit(j);
    const fs::path p = jobs::shard_results_path(dir(name), {i, 3});
    fs::create_directories(p.parent_path());
    testing::write_bytes(p, j.dump(1));
    return p;
  }

  static std::unique_ptr<testing::TempDir> tmp_;
  static jobs::CompareRequest request_;
  static size_t shard_rows_[3];
};
std::unique_ptr<testing::TempDir> CompareShards::tmp_;
jobs::CompareRequest CompareShards::request_;
size_t CompareShards::shard_rows_[3];

TEST_F(CompareShards, MergedEqualsUnshardedAndShardsResume) {
  // Combinations 0..3 (rtn uniform 3, rtn lieq 3, rtn uniform 4, rtn lieq 4) by index mod 3.
  EXPECT_EQ(shard_rows_[0], 2u);
  EXPECT_EQ(shard_rows_[1], 1u);
  EXPECT_EQ(shard_rows_[2], 1u);
  for (const char* f : {"results.json", "results.md", "report.html"}) {
    EXPECT_FALSE(fs::exists(dir("shared") / f)) << f << ": a shard writes only its shard file";
    EXPECT_FALSE(fs::exists(dir("own") / f)) << f;
  }
  // The same layout as an unsharded run.
  EXPECT_TRUE(fs::exists(dir("shared") / "rows" / "rtn-uniform-3.json"));
  EXPECT_TRUE(fs::exists(dir("shared") / "rows" / "rtn-lieq-3.json"));
  EXPECT_TRUE(fs::exists(dir("shared") / "rows" / "rtn-lieq-4.json"));
  EXPECT_TRUE(fs::exists(dir("own") / "rows" / "rtn-uniform-4.json"));
  EXPECT_TRUE(fs::exists(dir("own") / "rows" / "original.json"));
  EXPECT_TRUE(fs::exists(dir("own") / "models" / "rtn-uniform-4" / "model.safetensors"));

  const jobs::CompareOutcome m = merge({dir("shared"), dir("own")}, dir("merged"));
  EXPECT_EQ(m.results.rows.size(), 4u);
  const json full = read_json_file(dir("full") / "results.json");
  const json merged = read_json_file(dir("merged") / "results.json");
  ASSERT_EQ(merged["rows"].size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(without_timing(merged["rows"][i]), without_timing(full["rows"][i])) << i;
  EXPECT_EQ(without_timing(merged), without_timing(full));
  EXPECT_EQ(testing::read_bytes(dir("merged") / "results.md"),
            testing::read_bytes(dir("full") / "results.md"));
  EXPECT_EQ(testing::read_bytes(dir("merged") / "report.html"),
            testing::read_bytes(dir("full") / "report.html"));

  // The shard files given one by one merge the same way; so does one directory twice.
  merge({shard_file("own", 2), shard_file("shared", 1), shard_file("shared", 0), dir("own")},
        dir("merged2"));
  EXPECT_EQ(without_timing(read_json_file(dir("merged2") / "results.json")), without_timing(full));

  // A shard rerun in the directory it shares: the diagnostics, the original and its row reused.
  jobs::CompareRequest r = request_;
  r.out = dir("shared");
  r.shard = {1, 3};
  std::string log;
  jobs::run_compare(r, jobs::ArtifactCache([&](const std::string& s) { log += s + "\n"; }));
  EXPECT_THAT(log, HasSubstr("diagnostics: reusing"));
  EXPECT_THAT(log, HasSubstr("original: reusing"));
  EXPECT_THAT(log, HasSubstr("already measured, reusing"));
  EXPECT_THAT(log, HasSubstr("shard 1/3: 1 combinations"));
}

TEST_F(CompareShards, BadShardsFailAndWriteNothing) {
  const fs::path out = dir("bad-out");
  auto fails = [&](const std::vector<fs::path>& inputs, std::initializer_list<std::string> want) {
    const std::string msg = testing::error_message([&] { merge(inputs, out); });
    for (const std::string& w : want) EXPECT_THAT(msg, HasSubstr(w));
    EXPECT_FALSE(fs::exists(out / "results.json")) << msg;
  };
  const fs::path s0 = shard_file("shared", 0), s1 = shard_file("shared", 1);
  fails({dir("shared")}, {"missing shard results: 2/3"});
  fails({dir("nothing-here")}, {"nothing-here", "no such file or directory (--merge)"});
  fs::create_directories(dir("empty"));
  fails({dir("empty")}, {"empty", "no shard results", "--shard I/N"});
  const fs::path twice = edited("twice", 2, [](json&) {});
  fails({dir("shared"), dir("own"), twice}, {"shard 2/3 given twice", twice.string()});
  fails({s0, s1, dir("full") / "results.json"}, {"results.json", "not a compare shard's results"});

  // Shards of other settings: the files and the first difference named.
  struct Case {
    std::string name, member, want;
  };
  for (const Case& c : std::vector<Case>{{"model", "/model", "model: "},
                                         {"targets", "/targets", "targets: "},
                                         {"methods", "/methods", "methods: "},
                                         {"data", "/eval/data", "eval.data: "}}) {
    const fs::path p = edited("other-" + c.name, 2, [&](json& j) {
      j["shard"]["settings"][json::json_pointer(c.member)] = json::array({"other"});
      if (c.name == "targets") j["shard"]["settings"]["targets"] = {3, 4.25};
    });
    fails({s0, s1, p}, {"shards of different settings", s0.string(), p.string(), c.want});
  }
  const fs::path four = edited("four", 2, [](json& j) { j["shard"]["count"] = 4; });
  fails({s0, s1, four}, {"shards of different sweeps", "(shard 2/4)"});

  // Corrupted files: the file and the problem named.
  const fs::path cut = dir("cut") / "shards" / "shard-2-of-3.json";
  fs::create_directories(cut.parent_path());
  const std::string bytes = testing::read_bytes(shard_file("own", 2));
  testing::write_bytes(cut, bytes.substr(0, bytes.size() / 2));
  fails({s0, s1, cut}, {cut.string(), "malformed JSON"});
  const fs::path no_ppl = edited("no-ppl", 2, [](json& j) { j["rows"][0].erase("ppl"); });
  fails({s0, s1, no_ppl}, {no_ppl.string(), "rows[0]", "malformed result row"});
  const fs::path wrong_rows =
      edited("wrong-rows", 2, [](json& j) { j["rows"][0]["allocator"] = "lieq"; });
  fails({s0, s1, wrong_rows},
        {wrong_rows.string(), "should hold the rows rtn-uniform-4 but holds rtn-lieq-4"});
  const fs::path no_shard = edited("no-shard", 2, [](json& j) { j["shard"].erase("settings"); });
  fails({s0, s1, no_shard}, {no_shard.string(), "malformed shard results"});

  // A failed merge leaves an earlier merge's outputs as they were.
  merge({dir("shared"), dir("own")}, out);
  const std::string before = testing::read_bytes(out / "results.json");
  EXPECT_LIEQ_ERROR(merge({s0, s1, cut}, out), "malformed JSON");
  EXPECT_EQ(testing::read_bytes(out / "results.json"), before);
}

TEST(CompareShardSpec, ParsedAndChecked) {
  const jobs::ShardSpec s = jobs::parse_shard("2/5");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  EXPECT_TRUE(s.has(7));
  EXPECT_FALSE(s.has(8));
  for (const char* bad : {"5/5", "1/0", "-1/2", "a/b", "1", "1/2/3", "/2", "1/", " 1/2"})
    EXPECT_LIEQ_ERROR(jobs::parse_shard(bad), "--shard \"", bad, "\": want I/N");
  EXPECT_EQ(jobs::shard_results_path("d", s), fs::path("d/shards/shard-2-of-5.json"));
  jobs::CompareRequest r;
  r.shard = {3, 2};
  EXPECT_LIEQ_ERROR(jobs::run_compare(r, jobs::ArtifactCache()), "--shard 3/2");
}

}  // namespace
}  // namespace lieq
