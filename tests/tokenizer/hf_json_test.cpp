// The tokenizer.json reader: each section becomes the spec steps it names,
// with their fields; the fixed pre-tokenizers become regex splits; special
// tokens resolve as transformers does; errors name the file that is wrong.
#include "tokenizer/hf_json.h"

#include <string>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "expect_error.h"
#include "tokenizer/patterns.h"
#include "util/json_file.h"

namespace lieq {
namespace {

using ::testing::ElementsAre;

const std::string kSpace(patterns::kMetaspaceChar);

// A small SentencePiece-style tokenizer.json: <unk> <s> </s> a b ab ▁.
json sp_tokenizer() {
  return {{"model",
           {{"type", "BPE"},
            {"vocab",
             {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"a", 3}, {"b", 4}, {"ab", 5}, {kSpace, 6}}},
            {"merges", {"a b"}},
            {"unk_token", "<unk>"},
            {"byte_fallback", true},
            {"fuse_unk", true}}},
          {"added_tokens",
           {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
            {{"id", 1}, {"content", "<s>"}, {"special", true}},
            {{"id", 2}, {"content", "</s>"}, {"special", true}},
            {{"id", 7}, {"content", ""}, {"special", true}}}}};
}

TokenizerSpec read(const json& j, const json* config = nullptr) {
  return read_hf_tokenizer(j, config, "t/tokenizer.json", "t/tokenizer_config.json", {});
}

TEST(HfJsonReader, ModelVocabMergesAndSentencePieceDefaults) {
  const TokenizerSpec spec = read(sp_tokenizer());
  EXPECT_EQ(spec.origin, "t/tokenizer.json");
  EXPECT_EQ(spec.kind, TokenizerKind::kSentencePieceBpe);  // no ByteLevel anywhere
  ASSERT_EQ(spec.model.vocab.size(), 7u);
  EXPECT_EQ(spec.model.vocab[0], (VocabEntry{"</s>", 2}));  // the file's (key-sorted) order
  EXPECT_THAT(spec.model.merges, ElementsAre(BpeMerge{"a", "b"}));
  EXPECT_TRUE(spec.model.merge_ranks.empty());
  EXPECT_TRUE(spec.model.byte_fallback);
  EXPECT_TRUE(spec.model.fuse_unk);
  EXPECT_EQ(spec.model.unk_id, 0);
  // The empty added token is dropped; the id space still ends at ab.
  ASSERT_EQ(spec.added_tokens.size(), 3u);
  EXPECT_EQ(spec.added_tokens[1], (AddedToken{"<s>", 1, true, false, false, false}));
  EXPECT_EQ(id_space(spec), 7u);
  // No config: "<s>" / "</s>" and BOS, as transformers does for SentencePiece.
  EXPECT_EQ(spec.bos_id, 1);
  EXPECT_EQ(spec.eos_id, 2);
  EXPECT_EQ(spec.unk_id, 0);
  EXPECT_EQ(spec.pad_id, -1);
  EXPECT_TRUE(spec.add_bos);
  EXPECT_FALSE(spec.decoders.has_value());  // no decoder: tokens joined with spaces
}

TEST(HfJsonReader, NormalizersAsTypedSteps) {
  json j = sp_tokenizer();
  j["normalizer"] = {
      {"type", "Sequence"},
      {"normalizers",
       {{{"type", "Prepend"}, {"prepend", kSpace}},
        {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}},
        {{"type", "Sequence"},
         {"normalizers",
          {{{"type", "Replace"}, {"pattern", {{"Regex", "[0-9]+"}}}, {"content", "#"}},
           {{"type", "NFC"}}}}},
        {{"type", "NFD"}},
        {{"type", "Strip"}, {"strip_right", false}}}}};
  const TokenizerSpec spec = read(j);
  ASSERT_EQ(spec.normalizers.size(), 6u);  // nested Sequences flattened
  EXPECT_EQ(std::get<PrependNormalizer>(spec.normalizers[0]).prefix, kSpace);
  EXPECT_EQ(std::get<ReplaceNormalizer>(spec.normalizers[1]),
            (ReplaceNormalizer{TextPattern{" ", false}, kSpace}));
  EXPECT_EQ(std::get<ReplaceNormalizer>(spec.normalizers[2]),
            (ReplaceNormalizer{TextPattern{"[0-9]+", true}, "#"}));
  EXPECT_TRUE(std::holds_alternative<NfcNormalizer>(spec.normalizers[3]));
  EXPECT_TRUE(std::holds_alternative<NfdNormalizer>(spec.normalizers[4]));
  EXPECT_EQ(std::get<StripNormalizer>(spec.normalizers[5]), (StripNormalizer{true, false}));
}

TEST(HfJsonReader, FixedPreTokenizersBecomeRegexSplits) {
  json j = sp_tokenizer();
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Digits"}, {"individual_digits", true}},
        {{"type", "WhitespaceSplit"}},
        {{"type", "Whitespace"}},
        {{"type", "Punctuation"}, {"behavior", "Contiguous"}},
        {{"type", "Split"}, {"pattern", "x"}, {"behavior", "MergedWithNext"}, {"invert", true}},
        {{"type", "Metaspace"}, {"prepend_scheme", "first"}, {"split", false}}}}};
  const TokenizerSpec spec = read(j);
  ASSERT_EQ(spec.pre_tokenizers.size(), 6u);
  auto split = [&](size_t i) { return std::get<SplitPreTokenizer>(spec.pre_tokenizers[i]); };
  EXPECT_EQ(split(0), (SplitPreTokenizer{TextPattern{std::string(patterns::kDigit), true},
                                         SplitBehavior::kIsolated, false}));
  EXPECT_EQ(split(1), (SplitPreTokenizer{TextPattern{std::string(patterns::kWhitespaceSplit), true},
                                         SplitBehavior::kRemoved, false}));
  EXPECT_EQ(split(2), (SplitPreTokenizer{TextPattern{std::string(patterns::kWhitespace), true},
                                         SplitBehavior::kRemoved, true}));
  EXPECT_EQ(split(3), (SplitPreTokenizer{TextPattern{std::string(patterns::kPunctuation), true},
                                         SplitBehavior::kContiguous, false}));
  EXPECT_EQ(split(4),
            (SplitPreTokenizer{TextPattern{"x", false}, SplitBehavior::kMergedWithNext, true}));
  EXPECT_EQ(std::get<MetaspacePreTokenizer>(spec.pre_tokenizers[5]),
            (MetaspacePreTokenizer{kSpace, PrependScheme::kFirst, false}));
  EXPECT_THAT(split_patterns(spec),
              ElementsAre(std::string(patterns::kDigit), std::string(patterns::kWhitespaceSplit),
                          std::string(patterns::kWhitespace), std::string(patterns::kPunctuation),
                          "\\Qx\\E"));
}

TEST(HfJsonReader, ByteLevelKindDecodersAndConfig) {
  json j = sp_tokenizer();
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}};
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "ByteLevel"}},
                    {{"type", "Replace"}, {"pattern", {{"Regex", "a+"}}}, {"content", "b"}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}},
                    {{"type", "Strip"}, {"content", "x"}, {"start", 2}},
                    {{"type", "Metaspace"}, {"prepend_scheme", "never"}}}}};
  const json config = {
      {"add_bos_token", false},
      {"bos_token", {{"content", "</s>"}}},
      {"eos_token", "<s>"},
      {"pad_token", "<not in the vocabulary>"},
      {"chat_template",
       {{{"name", "tool"}, {"template", "T"}}, {{"name", "default"}, {"template", "D"}}}}};
  const TokenizerSpec spec = read(j, &config);
  EXPECT_EQ(spec.kind, TokenizerKind::kByteLevelBpe);
  EXPECT_EQ(std::get<ByteLevelPreTokenizer>(spec.pre_tokenizers[0]),
            (ByteLevelPreTokenizer{false, true}));
  EXPECT_THAT(split_patterns(spec), ElementsAre(std::string(patterns::kGpt2)));
  ASSERT_TRUE(spec.decoders.has_value());
  EXPECT_THAT(*spec.decoders,
              ElementsAre(DecoderStep{ByteLevelDecoder{}},
                          DecoderStep{ReplaceDecoder{TextPattern{"a+", true}, "b"}},
                          DecoderStep{ByteFallbackDecoder{}}, DecoderStep{FuseDecoder{}},
                          DecoderStep{StripDecoder{"x", 2, 0}},
                          DecoderStep{MetaspaceDecoder{kSpace, false}}));
  EXPECT_EQ(spec.bos_id, 2);
  EXPECT_EQ(spec.eos_id, 1);
  EXPECT_EQ(spec.pad_id, -1);  // pad_token outside the vocabulary is ignored
  EXPECT_FALSE(spec.add_bos);
  EXPECT_EQ(spec.chat_template, "D");
}

TEST(HfJsonReader, MergeRanksAreKept) {
  const std::vector<int32_t> ranks = {4};
  const TokenizerSpec spec =
      read_hf_tokenizer(sp_tokenizer(), nullptr, "mem", "mem", std::span<const int32_t>(ranks));
  EXPECT_THAT(spec.model.merge_ranks, ElementsAre(4));
  const std::vector<int32_t> two = {1, 2};
  EXPECT_LIEQ_ERROR(read_hf_tokenizer(sp_tokenizer(), nullptr, "mem", "mem", two), "mem",
                    "2 merge ranks for 1 merges");
}

// Each error names the file at fault: tokenizer.json for its own sections,
// tokenizer_config.json for the config.
TEST(HfJsonReader, ErrorsNameTheFile) {
  auto with = [](const char* key, json value) {
    json j = sp_tokenizer();
    j[key] = std::move(value);
    return j;
  };
  EXPECT_LIEQ_ERROR(read(with("normalizer", {{"type", "Lowercase"}})), "t/tokenizer.json",
                    "normalizer: unsupported normalizer type \"Lowercase\"");
  EXPECT_LIEQ_ERROR(
      read(with("pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "(a"}}}})),
      "t/tokenizer.json", "pre_tokenizer: invalid regex \"(a\"");
  EXPECT_LIEQ_ERROR(read(with("decoder", {{"type", "Strip"}, {"content", ""}})), "t/tokenizer.json",
                    "decoder: empty Strip content");
  EXPECT_LIEQ_ERROR(read(with("decoder", {{"type", "Replace"}, {"pattern", "a"}})),
                    "t/tokenizer.json", "unexpected tokenizer.json structure");
  EXPECT_LIEQ_ERROR(
      read(with("pre_tokenizer",
                {{"type", "Sequence"},
                 {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "Digits"}}}}})),
      "t/tokenizer.json", "pre_tokenizer[1]", "after ByteLevel");
  json bad = sp_tokenizer();
  bad["model"]["merges"] = {"ab"};
  EXPECT_LIEQ_ERROR(read(bad), "t/tokenizer.json", "model.merges[0]", "separated by a space");
  const json config = {{"unk_token", "<none>"}};
  EXPECT_LIEQ_ERROR(read(sp_tokenizer(), &config), "t/tokenizer_config.json",
                    "unk_token \"<none>\" is not in the vocabulary of t/tokenizer.json");
  const json not_bool = {{"add_bos_token", 1}};
  EXPECT_LIEQ_ERROR(read(sp_tokenizer(), &not_bool), "t/tokenizer_config.json",
                    "add_bos_token must be true or false");
}

}  // namespace
}  // namespace lieq
