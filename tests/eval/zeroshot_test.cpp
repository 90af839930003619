// Zero-shot scoring: known answers on a real model, the acc_norm length rule,
// and the shared-prefix batching against scoring each choice alone.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/zeroshot.h"
#include "model/forward.h"
#include "model/load.h"
#include "test_support.h"

namespace lieq {
namespace {

TEST(ZeroShotChoose, AccNormDividesByChoiceLengthInCharacters) {
  // acc: -10 > -12 picks 0; acc_norm: -10/2 = -5 < -12/8 = -1.5 picks 1.
  std::vector<ChoiceScore> s(2);
  s[0].loglik = -10;
  s[1].loglik = -12;
  Choice c = choose(s, {"ab", "abcdefgh"});
  EXPECT_EQ(c.best, 0);
  EXPECT_EQ(c.best_norm, 1);
  // Characters, not bytes: "éé" is 2 characters (4 bytes).
  // chars: -2.1/2 = -1.05 < -3/3 = -1 picks 1; bytes would give -0.525 and pick 0.
  s[0].loglik = -2.1;
  s[1].loglik = -3;
  c = choose(s, {"éé", "abc"});
  EXPECT_EQ(c.best_norm, 1);
}

class ZeroShotModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::shared_model("tinylm-llama-12m");
    LIEQ_REQUIRE_PATH(dir_);
    model_ = std::make_unique<Model>(load_model(dir_));
    tok_ = std::make_unique<Tokenizer>(load_tokenizer(*model_));
  }
  std::filesystem::path dir_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(ZeroShotModel, ChoiceRepeatingTheContextScoresHigherInEveryFormat) {
  testing::TempDir dir;
  const std::string ctx = "The little dog ran to the park. The little dog ran to the";
  testing::write_bytes(dir / "mc.jsonl",
                       "{\"query\": \"" + ctx + "\", \"choices\": [\"quantum sandwich\", \"park.\"], \"gold\": 1}\n");
  testing::write_bytes(dir / "wg.jsonl",
                       "{\"context_options\": [\"The little dog ran to the park. The little dog\", "
                       "\"The little dog ran to the park. The purple theorem\"], "
                       "\"continuation\": \"ran to the park.\", \"gold\": 0}\n");
  testing::write_bytes(dir / "hs.txt", ctx + "\n2\nquantum sandwich\nof seven\npark.\nzebra tax\n");
  for (const char* f : {"mc.jsonl", "wg.jsonl", "hs.txt"}) {
    const Task t = load_task(dir / f);
    const TaskResult r = evaluate_task(*model_, *tok_, t, false);
    EXPECT_EQ(r.acc, 1.0) << f;
  }
  // LAMBADA: the repeated word is the greedy continuation.
  testing::write_bytes(dir / "lambada.jsonl",
                       "{\"context\": \"Tom had a red ball. He loved his red ball. One day, Tom "
                       "lost his red\", \"continuation\": \"ball\"}\n");
  const TaskResult r = evaluate_task(*model_, *tok_, load_task(dir / "lambada.jsonl"), false);
  EXPECT_EQ(r.acc, 1.0);
  EXPECT_GT(r.ppl, 1.0);
  EXPECT_LT(r.ppl, 2.0);  // greedy and confident
}

TEST_F(ZeroShotModel, SharedPrefixBatchEqualsScoringEachChoiceAlone) {
  TaskItem item;
  item.requests = {{"Once upon a time there was a", " little girl"},
                   {"Once upon a time there was a", " big dog named Max"},
                   {"Once upon a time there lived", " a king"}};
  item.norm_texts = {"little girl", "big dog named Max", "a king"};
  Forward fw(model_->config);
  const std::vector<ChoiceScore> together = score_item(fw, *model_, *tok_, item);
  for (size_t i = 0; i < item.requests.size(); ++i) {
    TaskItem one;
    one.requests = {item.requests[i]};
    one.norm_texts = {item.norm_texts[i]};
    const std::vector<ChoiceScore> alone = score_item(fw, *model_, *tok_, one);
    EXPECT_NEAR(together[i].loglik, alone[0].loglik, 1e-3) << i;
    EXPECT_EQ(together[i].n_tokens, alone[0].n_tokens);
    EXPECT_EQ(together[i].greedy, alone[0].greedy);
  }
}

TEST_F(ZeroShotModel, ContinuationTokensAreWholeMinusContext) {
  const EncodedRequest e = encode_request(*tok_, {"Hello", " world"}, 0);
  const std::vector<int32_t> whole = tok_->encode("Hello world", false);
  EXPECT_EQ(e.tokens, whole);
  EXPECT_EQ(e.n_ctx, int64_t(tok_->encode("Hello", false).size()));
}

}  // namespace
}  // namespace lieq

namespace lieq {
namespace {
TEST_F(ZeroShotModel, RequestsLongerThanTheContextKeepTheirEnd) {
  std::string ctx = "word";
  for (int i = 0; i < 200; ++i) ctx += " word";
  const EncodedRequest e = encode_request(*tok_, {ctx, " end of the story"}, 64);
  EXPECT_EQ(int64_t(e.tokens.size()), 64);
  const std::vector<int32_t> cont = tok_->encode(" end of the story", false);
  EXPECT_EQ(std::vector<int32_t>(e.tokens.end() - int64_t(cont.size()), e.tokens.end()), cont);
  EXPECT_EQ(e.n_ctx, 64 - int64_t(cont.size()));
  // A continuation longer than the window keeps its last 63 tokens and one before.
  const EncodedRequest f = encode_request(*tok_, {"a", " " + ctx}, 64);
  EXPECT_EQ(int64_t(f.tokens.size()), 64);
  EXPECT_EQ(f.n_ctx, 1);
}
}  // namespace
}  // namespace lieq
