// End-to-end checks of the lieq binary: exact outputs on tiny models, JSON
// shapes, and bad input giving a clear error and a non-zero exit code.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
using testing::run_cli;
using json = nlohmann::json;

TEST(Cli, GenerateReproducesGoldenGreedyText) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  // 200 positions in all: BOS + 4 prompt tokens + 195 forwarded + the last sampled = 196 new.
  const auto r = run_cli({"generate", dir.string(), "--prompt", "Once upon a time", "-n", "196"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, testing::read_bytes(dir / "golden_greedy.txt"));
}

TEST(Cli, TokenizeJsonMatchesGoldenIds) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  const json golden = json::parse(testing::read_bytes(dir / "golden_tokens.json"));
  const auto& c = golden["cases"][1];
  const auto r = run_cli({"tokenize", dir.string(), "--text", c["text"], "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ids"], c["ids"]);
  // And back.
  std::string ids;
  for (const auto& id : c["ids"]) ids += std::to_string(id.get<int>()) + " ";
  const auto d = run_cli({"tokenize", dir.string(), "--decode", "--text", ids});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(d.out, c["text"].get<std::string>());
}

TEST(Cli, InspectJson) {
  const auto dir = testing::shared_model("random-qwen3");
  LIEQ_REQUIRE_PATH(dir);
  const auto r = run_cli({"inspect", dir.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["architecture"], "Qwen3ForCausalLM");
  EXPECT_EQ(j["head_dim"], 48);
  EXPECT_EQ(j["qk_norm"], true);
  EXPECT_EQ(j["stored_dtypes"].begin().key(), "BF16");
  EXPECT_EQ(j["tokenizer"]["kind"], "byte-level BPE");
  EXPECT_GT(j["parameters"]["total"].get<int64_t>(), 0);
}

TEST(Cli, PplJsonShape) {
  const auto dir = testing::shared_model("stories260K");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(data);
  const auto r = run_cli({"ppl", dir.string(), "--data", data.string(), "--ctx", "128",
                          "--max-windows", "8", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  for (const char* k : {"ppl", "nll", "tokens", "windows", "ctx", "protocol"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["ctx"], 128);
  EXPECT_EQ(j["windows"], 8);
  EXPECT_EQ(j["tokens"], 8 * 127);  // BOS per window: every text token scored
  EXPECT_NEAR(std::log(j["ppl"].get<double>()), j["nll"].get<double>(), 1e-9);
  EXPECT_GT(j["ppl"].get<double>(), 1.0);
  EXPECT_LT(j["ppl"].get<double>(), 20.0);  // a real TinyStories model on TinyStories text
}

TEST(Cli, KldOfAModelAgainstItselfIsZero) {
  const auto dir = testing::shared_model("stories260K");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(data);
  const auto r = run_cli({"kld", dir.string(), dir.string(), "--data", data.string(), "--ctx",
                          "256", "--max-windows", "4", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_NEAR(j["mean_kld"].get<double>(), 0.0, 1e-9);
  EXPECT_NEAR(j["p99_kld"].get<double>(), 0.0, 1e-9);
  EXPECT_EQ(j["top1_agreement"].get<double>(), 1.0);
  EXPECT_EQ(j["ppl_base"].get<double>(), j["ppl_model"].get<double>());
}

TEST(Cli, EvalJsonOnHandMadeTasks) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  testing::write_bytes(tmp / "mc.jsonl",
                       "{\"query\": \"Lily went to the park. Lily went to the\", \"choices\": "
                       "[\"park.\", \"moon cheese bank.\"], \"gold\": 0}\n");
  const auto r = run_cli({"eval", dir.string(), "--task", (tmp / "mc.jsonl").string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["tasks"]["mc"]["n"], 1);
  EXPECT_EQ(j["tasks"]["mc"]["acc"], 1.0);
  EXPECT_EQ(j["average_acc"], 1.0);
}

struct BadInput {
  std::vector<std::string> args;
  std::string expect;  // substring of stderr
};

TEST(Cli, BadInputGivesAClearErrorAndNonZeroExit) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  testing::write_bytes(tmp / "bad.jsonl", "{\"query\": \"Q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\nnot json\n");
  testing::write_bytes(tmp / "empty.jsonl", "");
  testing::write_bytes(tmp / "empty.txt", "");
  testing::copy_dir(dir, tmp / "broken");
  testing::write_bytes(tmp / "broken" / "config.json", "{\"architectures\": [\"LlamaForCausalLM\",");
  const std::string d = dir.string();
  const std::vector<BadInput> cases = {
      {{"inspect", (tmp / "nope").string()}, "nope"},
      {{"ppl", (tmp / "broken").string(), "--data", (tmp / "bad.jsonl").string()},
       "config.json: malformed JSON"},
      {{"ppl", d, "--data", (tmp / "missing.txt").string()}, "missing.txt: no such file"},
      {{"ppl", d, "--data", (tmp / "empty.txt").string()}, "empty.txt: empty file"},
      {{"ppl", d, "--data", (tmp / "bad.jsonl").string(), "--protocol", "fancy"}, "unknown protocol"},
      {{"eval", d, "--task", (tmp / "bad.jsonl").string()}, "bad.jsonl:2: malformed JSON"},
      {{"eval", d, "--task", (tmp / "empty.jsonl").string()}, "empty.jsonl: empty task file"},
      {{"tokenize", d, "--decode", "--text", "1 2 x"}, "\"x\" is not a token id"},
      {{"tokenize", d, "--decode", "--text", "999999"}, "out of range"},
      {{"generate", d, "--prompt", "hi", "-n", "100000"}, "exceeds the model's context"},
      {{"frobnicate"}, ""},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args[0] << " " << c.expect;
    EXPECT_LT(r.exit_code, 128) << "crashed: " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.expect));
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

}  // namespace
}  // namespace lieq
