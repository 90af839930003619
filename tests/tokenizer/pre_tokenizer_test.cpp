// The text stages: split_text's five behaviours (the tokenizers library's
// SplitDelimiterBehavior, expected pieces worked out from its definition),
// properties of every split on random texts, the normalizers and the
// pre-tokenizer steps.
#include "tokenizer/pre_tokenizer.h"

#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tokenizer/patterns.h"

namespace lieq {
namespace {

using ::testing::ElementsAre;
using Pieces = std::vector<std::pair<std::string, bool>>;  // piece, at_start

Pieces split(const Regex* regex, std::string_view literal, SplitBehavior behavior, bool invert,
             std::string_view text, bool at_start = true) {
  Pieces out;
  split_text(regex, literal, behavior, invert, text, at_start,
             [&](std::string_view p, bool first) { out.emplace_back(p, first); });
  return out;
}

std::vector<std::string> texts(const Pieces& pieces) {
  std::vector<std::string> out;
  for (const auto& [p, first] : pieces) out.push_back(p);
  return out;
}

TEST(SplitText, EachBehaviorOnALiteral) {
  const std::string text = "a,b,,c";
  auto pieces = [&](SplitBehavior b, bool invert) {
    return texts(split(nullptr, ",", b, invert, text));
  };
  EXPECT_THAT(pieces(SplitBehavior::kIsolated, false), ElementsAre("a", ",", "b", ",", ",", "c"));
  EXPECT_THAT(pieces(SplitBehavior::kRemoved, false), ElementsAre("a", "b", "c"));
  EXPECT_THAT(pieces(SplitBehavior::kMergedWithPrevious, false), ElementsAre("a,", "b,", ",", "c"));
  EXPECT_THAT(pieces(SplitBehavior::kMergedWithNext, false), ElementsAre("a", ",b", ",", ",c"));
  EXPECT_THAT(pieces(SplitBehavior::kContiguous, false), ElementsAre("a", ",", "b", ",,", "c"));
  // Inverted: the gaps are the delimiters.
  EXPECT_THAT(pieces(SplitBehavior::kRemoved, true), ElementsAre(",", ",", ","));
  EXPECT_THAT(pieces(SplitBehavior::kMergedWithNext, true), ElementsAre("a,", "b,", ",", "c"));
  // Only the piece that begins the text is at the start.
  const Pieces iso = split(nullptr, ",", SplitBehavior::kIsolated, false, text);
  EXPECT_TRUE(iso[0].second);
  EXPECT_FALSE(iso[1].second);
  EXPECT_FALSE(split(nullptr, ",", SplitBehavior::kIsolated, false, text, false)[0].second);
  // An empty literal and no regex: the text is one piece.
  EXPECT_THAT(texts(split(nullptr, "", SplitBehavior::kRemoved, false, text)), ElementsAre(text));
}

TEST(SplitText, InvalidUtf8BytesAreGapsBetweenRegexRuns) {
  const Regex letters(R"(\p{L}+)", "test", "letters");
  EXPECT_THAT(texts(split(&letters, {}, SplitBehavior::kIsolated, false,
                          "ab\xFF"
                          "cd \xC3")),
              ElementsAre("ab", "\xFF", "cd", " \xC3"));
  EXPECT_THAT(texts(split(&letters, {}, SplitBehavior::kRemoved, false, "\xE2\x96x\xFFy")),
              ElementsAre("\xE2\x96", "\xFF"));
}

// For random texts and every behaviour: pieces are non-empty and in order;
// Isolated, the Merged* and Contiguous lose nothing (they concatenate to the
// text); Removed keeps the gaps, and inverted the matches: together, every byte.
TEST(SplitText, PiecesCoverTheTextInOrder) {
  const Regex regex(R"(\s+|\p{N})", "test", "regex");
  const std::vector<std::string> alphabet = {"a", "b", " ", "  ", "1", "\xC3\xA9", "\xFF", "\n"};
  auto bytes = [](const Pieces& pieces) {
    size_t n = 0;
    for (const auto& [p, first] : pieces) n += p.size();
    return n;
  };
  std::mt19937 rng(7);
  for (int trial = 0; trial < 400; ++trial) {
    std::string text;
    for (int i = static_cast<int>(rng() % 12); i > 0; --i)
      text += alphabet[rng() % alphabet.size()];
    SCOPED_TRACE(text);
    for (const Regex* re : {&regex, static_cast<const Regex*>(nullptr)}) {
      for (bool invert : {false, true}) {
        for (SplitBehavior b : {SplitBehavior::kIsolated, SplitBehavior::kMergedWithPrevious,
                                SplitBehavior::kMergedWithNext, SplitBehavior::kContiguous}) {
          std::string joined;
          for (const auto& [p, first] : split(re, " ", b, invert, text)) {
            ASSERT_FALSE(p.empty());
            EXPECT_EQ(first, joined.empty());
            joined += p;
          }
          EXPECT_EQ(joined, text) << "behavior " << static_cast<int>(b) << " invert " << invert;
        }
      }
      EXPECT_EQ(bytes(split(re, " ", SplitBehavior::kRemoved, false, text)) +
                    bytes(split(re, " ", SplitBehavior::kRemoved, true, text)),
                text.size());
    }
  }
}

std::string normalize(std::vector<NormalizerStep> steps, std::string_view text) {
  return Normalizer(steps, "test").apply(text);
}

TEST(Normalizer, EachStep) {
  const std::string space(patterns::kMetaspaceChar);
  EXPECT_EQ(normalize({PrependNormalizer{space}}, "a b"), space + "a b");
  EXPECT_EQ(normalize({PrependNormalizer{space}}, ""), "");
  EXPECT_EQ(normalize({ReplaceNormalizer{TextPattern{" ", false}, space}}, " a  b"),
            space + "a" + space + space + "b");
  EXPECT_EQ(normalize({ReplaceNormalizer{TextPattern{"[0-9]+", true}, "#"}}, "a12b3"), "a#b#");
  // A regex never sees invalid UTF-8: such a text is left as it is.
  EXPECT_EQ(normalize({ReplaceNormalizer{TextPattern{"[0-9]+", true}, "#"}}, "a1\xFF"), "a1\xFF");
  EXPECT_EQ(normalize({NfcNormalizer{}}, "e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(normalize({NfdNormalizer{}}, "\xC3\xA9"), "e\xCC\x81");
  // Strip takes White_Space (U+3000 too), never an invalid byte.
  const std::string padded = " \t\xE3\x80\x80x y\n\xC2\xA0";
  EXPECT_EQ(normalize({StripNormalizer{true, true}}, padded), "x y");
  EXPECT_EQ(normalize({StripNormalizer{true, false}}, padded), "x y\n\xC2\xA0");
  EXPECT_EQ(normalize({StripNormalizer{false, true}}, padded), " \t\xE3\x80\x80x y");
  EXPECT_EQ(normalize({StripNormalizer{true, true}}, " \xFF "), "\xFF");
  // In order.
  EXPECT_EQ(normalize({ReplaceNormalizer{TextPattern{"a", false}, "b"},
                       ReplaceNormalizer{TextPattern{"b", false}, "c"}},
                      "ab"),
            "cc");
}

Pieces pre_tokenize(std::vector<PreTokenizerStep> steps, std::string_view text,
                    bool at_start = true) {
  Pieces out;
  PreTokenizer(steps, "test").split(text, at_start, [&](std::string_view p, bool first) {
    out.emplace_back(p, first);
  });
  return out;
}

TEST(PreTokenizer, ByteLevelPrefixAndRegex) {
  EXPECT_THAT(texts(pre_tokenize({ByteLevelPreTokenizer{true, true}}, "Hi there's 42")),
              ElementsAre(" Hi", " there", "'s", " 42"));
  EXPECT_THAT(texts(pre_tokenize({ByteLevelPreTokenizer{true, false}}, " Hi you")),
              ElementsAre(" Hi you"));
  EXPECT_THAT(texts(pre_tokenize({ByteLevelPreTokenizer{false, false}}, "Hi")), ElementsAre("Hi"));
  EXPECT_TRUE(pre_tokenize({ByteLevelPreTokenizer{true, true}}, "").empty());
}

TEST(PreTokenizer, StepsApplyToEveryPieceOfThePrevious) {
  const std::vector<PreTokenizerStep> steps = {
      SplitPreTokenizer{TextPattern{std::string(patterns::kWhitespaceSplit), true},
                        SplitBehavior::kRemoved, false},
      SplitPreTokenizer{TextPattern{std::string(patterns::kDigit), true}, SplitBehavior::kIsolated,
                        false}};
  EXPECT_THAT(texts(pre_tokenize(steps, "ab12 c3")), ElementsAre("ab", "1", "2", "c", "3"));
}

TEST(PreTokenizer, MetaspaceSchemes) {
  const std::string m(patterns::kMetaspaceChar);
  auto pieces = [&](PrependScheme scheme, bool split, bool at_start) {
    return texts(pre_tokenize({MetaspacePreTokenizer{m, scheme, split}}, "a b", at_start));
  };
  EXPECT_THAT(pieces(PrependScheme::kAlways, true, false), ElementsAre(m + "a", m + "b"));
  EXPECT_THAT(pieces(PrependScheme::kFirst, true, true), ElementsAre(m + "a", m + "b"));
  EXPECT_THAT(pieces(PrependScheme::kFirst, true, false), ElementsAre("a", m + "b"));
  EXPECT_THAT(pieces(PrependScheme::kNever, true, true), ElementsAre("a", m + "b"));
  EXPECT_THAT(pieces(PrependScheme::kAlways, false, true), ElementsAre(m + "a" + m + "b"));
  // No second replacement before a text that starts with one.
  EXPECT_THAT(texts(pre_tokenize({MetaspacePreTokenizer{m, PrependScheme::kAlways, false}}, " a")),
              ElementsAre(m + "a"));
}

}  // namespace
}  // namespace lieq
