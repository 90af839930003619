// Calibration samples: counts, BOS, determinism, and short texts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "eval/calibration.h"
#include "test_support.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;

TEST(Calibration, SamplesAreDistinctWindowsOfTheText) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  const auto data = testing::shared_data("calibration/tiny.utf8");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(data);
  const Tokenizer tok = Tokenizer::load(dir);
  const std::string text = read_text_file(data);
  const CalibSet c = make_calibration(tok, text, {16, 128, 7}, 256, "tiny");
  EXPECT_EQ(c.n_samples, 16);
  EXPECT_EQ(c.seqlen, 128);
  EXPECT_TRUE(c.warning.empty());
  ASSERT_EQ(int64_t(c.tokens.size()), 16 * 128);
  // Each sample is a contiguous piece of the token stream, no two the same.
  const std::vector<int32_t> stream = tok.encode(text, false);
  for (int s = 0; s < 16; ++s) {
    auto first = c.tokens.begin() + s * 128;
    auto it = std::search(stream.begin(), stream.end(), first, first + 128);
    EXPECT_NE(it, stream.end()) << s;
    EXPECT_EQ((it - stream.begin()) % 128, 0) << "windows sit on the slot grid";
  }
  // Same seed, same samples; another seed, others.
  EXPECT_EQ(make_calibration(tok, text, {16, 128, 7}, 256, "tiny").tokens, c.tokens);
  EXPECT_NE(make_calibration(tok, text, {16, 128, 8}, 256, "tiny").tokens, c.tokens);
}

TEST(Calibration, SeqlenIsCappedAndBosStartsEachSample) {
  const auto dir = testing::shared_model("stories260K");  // add_bos_token: true, 512 positions
  LIEQ_REQUIRE_PATH(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  std::string text;
  for (int i = 0; i < 400; ++i) text += "Once upon a time there was a little dog. ";
  const CalibSet c = make_calibration(tok, text, {4, 2048, 0}, 512, "t");
  EXPECT_EQ(c.seqlen, 512);
  for (int s = 0; s < c.n_samples; ++s) EXPECT_EQ(c.tokens[size_t(s * 512)], tok.bos_id());
}

TEST(Calibration, ShortTextWarnsAndSaysWhatWasUsed) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  std::string text;
  for (int i = 0; i < 30; ++i) text += "The cat sat on the mat. ";  // ~210 tokens
  const CalibSet c = make_calibration(tok, text, {128, 64, 0}, 256, "short.txt");
  EXPECT_EQ(c.n_samples, c.text_tokens / 64);
  EXPECT_THAT(c.warning, HasSubstr("short.txt: calibration text has"));
  EXPECT_THAT(c.warning, HasSubstr("using " + std::to_string(c.n_samples) + " samples of 64 tokens"));
  // Shorter than one sample: one sample of the whole text.
  const CalibSet d = make_calibration(tok, "The cat sat on the mat.", {8, 64, 0}, 256, "tiny.txt");
  EXPECT_EQ(d.n_samples, 1);
  EXPECT_EQ(d.seqlen, d.text_tokens);
  EXPECT_FALSE(d.warning.empty());
  EXPECT_THROW(make_calibration(tok, "", {8, 64, 0}, 256, "empty.txt"), Error);
}

}  // namespace
}  // namespace lieq
