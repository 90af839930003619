// The decoder chain, step by step, and the regex wrapper under it.
#include "tokenizer/decoder.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "expect_error.h"
#include "tokenizer/patterns.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace lieq {
namespace {

using Tokens = std::vector<std::string>;
using ::testing::ElementsAre;

std::string decode(std::vector<DecoderStep> steps, Tokens tokens) {
  return Decoder(steps, "test").decode(std::move(tokens));
}

TEST(Decoder, NoDecoderJoinsWithSpaces) {
  EXPECT_EQ(Decoder(std::nullopt, "test").decode({"a", "b", "c"}), "a b c");
  EXPECT_EQ(decode({}, {"a", "b"}), "ab");  // a decoder with no steps: concatenation
}

TEST(Decoder, ByteLevelMapsTheAlphabetBackToBytes) {
  const std::string space = unicode::bytes_to_gpt2(" ");  // "Ġ"
  EXPECT_EQ(decode({ByteLevelDecoder{}}, {"Hi", space + "there", unicode::bytes_to_gpt2("\xFF")}),
            "Hi there\xFF");
  // A token with a character outside the alphabet is kept as it is.
  EXPECT_EQ(decode({ByteLevelDecoder{}}, {"a\xE2\x96\x81", space}), "a\xE2\x96\x81 ");
}

TEST(Decoder, ByteFallbackJoinsRunsOfByteTokens) {
  EXPECT_EQ(decode({ByteFallbackDecoder{}, ReplaceDecoder{TextPattern{"\xC3\xA9", false}, "E"}},
                   {"<0xC3>", "<0xA9>", "x", "<0x41>", "<0xzz>", "<0x4"}),
            "Ex"
            "A"
            "<0xzz><0x4");
  // Each step sees tokens: after ByteFallback the run is one token.
  EXPECT_EQ(decode({ByteFallbackDecoder{}, StripDecoder{"\xC3", 1, 0}}, {"<0xC3>", "<0xA9>"}),
            "\xA9");
}

TEST(Decoder, ReplaceStripFuseMetaspace) {
  const std::string m(patterns::kMetaspaceChar);
  EXPECT_EQ(decode({ReplaceDecoder{TextPattern{"o+", true}, "0"}}, {"foo",
                                                                    "bo\xFF"
                                                                    "o"}),
            "f0bo\xFF"
            "o");  // a regex skips an invalid token
  EXPECT_EQ(decode({StripDecoder{" ", 1, 0}}, {"  a", " b "}), " ab ");
  EXPECT_EQ(decode({StripDecoder{"ab", 2, 1}}, {"ababxab", "ab"}), "x");
  EXPECT_EQ(decode({FuseDecoder{}, StripDecoder{" ", 1, 0}}, {" a", " b"}), "a b");
  EXPECT_EQ(decode({MetaspaceDecoder{m, true}}, {m + "a", m + "b"}), "a b");
  EXPECT_EQ(decode({MetaspaceDecoder{m, false}}, {m + "a", m + "b"}), " a b");
}

TEST(Regex, MatchesStepOverEmptyMatches) {
  const Regex x("x*", "test", "where");
  std::vector<std::pair<size_t, size_t>> matches;
  x.for_each_match("axxbx", [&](size_t b, size_t e) { matches.emplace_back(b, e); });
  EXPECT_THAT(matches,
              ElementsAre(std::pair<size_t, size_t>{1, 3}, std::pair<size_t, size_t>{4, 5}));
  EXPECT_EQ(x.replace_all("axxbx", "-"), "a-b-");
  EXPECT_EQ(x.pattern(), "x*");
  const Regex word(std::string(patterns::kWordChar), "test", "where");
  EXPECT_TRUE(word.matches_whole("\xCC\x81"));  // a combining mark is a word character
  EXPECT_FALSE(word.matches_whole("a "));
}

TEST(Regex, InvalidPatternsNameTheFileAndThePlace) {
  EXPECT_LIEQ_ERROR(Regex("(a", "dir/tokenizer.json", "pre_tokenizer[2]"), "dir/tokenizer.json",
                    "pre_tokenizer[2]", "invalid regex \"(a\"", "at offset 2");
  EXPECT_LIEQ_ERROR(Regex::check("a{2,1}", "f.json", "normalizer"), "f.json", "normalizer",
                    "invalid regex");
  EXPECT_NO_THROW(Regex::check(R"(\p{L}+)", "f.json", "normalizer"));
}

}  // namespace
}  // namespace lieq
