// Tokenizer tests: the golden token files of the shared models, hand-made
// tokenizer.json files for each pipeline feature, and the error paths.
//
// The expected ids of the hand-made tokenizers were produced by the Hugging
// Face tokenizers library (Rust, 0.23) from the identical tokenizer.json.
#include "tokenizer/tokenizer.h"

#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "expect_error.h"
#include "test_support.h"
#include "tokenizer/unicode.h"
#include "util/json_file.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using Ids = std::vector<int32_t>;

constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kSpace = "\xE2\x96\x81";  // '▁'

// ---------------------------------------------------------------------------
// Hand-made tokenizer.json files.

json split_byte_level(const std::string& pattern) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern", {{"Regex", pattern}}},
             {"behavior", "Isolated"},
             {"invert", false}},
            {{"type", "ByteLevel"},
             {"add_prefix_space", false},
             {"trim_offsets", false},
             {"use_regex", false}}}}};
}

struct ByteLevelSpec {
  std::vector<std::pair<std::string, std::string>>
      merges;  // raw text, mapped to the GPT-2 alphabet
  json pre_tokenizer;
  json normalizer = nullptr;
  std::vector<std::pair<std::string, bool>> added;  // content, special
  bool ignore_merges = false;
  bool merges_as_arrays = false;
  std::vector<std::string> extra_words;
};

ByteLevelSpec bl_spec(std::vector<std::pair<std::string, std::string>> merges, json pre_tokenizer) {
  ByteLevelSpec s;
  s.merges = std::move(merges);
  s.pre_tokenizer = std::move(pre_tokenizer);
  return s;
}

// Vocabulary: the 256 byte characters (id = byte value), then one token per
// merge, then extra_words, then the added tokens, in order.
json byte_level_json(const ByteLevelSpec& s) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b)
    vocab[unicode::bytes_to_gpt2(std::string(1, static_cast<char>(b)))] = b;
  int next = 256;
  json merges = json::array();
  for (const auto& [l, r] : s.merges) {
    const std::string L = unicode::bytes_to_gpt2(l), R = unicode::bytes_to_gpt2(r);
    if (!vocab.contains(L + R)) vocab[L + R] = next++;
    merges.push_back(s.merges_as_arrays ? json::array({L, R}) : json(L + " " + R));
  }
  for (const std::string& w : s.extra_words) vocab[unicode::bytes_to_gpt2(w)] = next++;
  json added = json::array();
  for (const auto& [content, special] : s.added)
    added.push_back({{"id", next++},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", special}});
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", s.normalizer},
          {"pre_tokenizer", s.pre_tokenizer},
          {"post_processor", nullptr},
          {"decoder",
           {{"type", "ByteLevel"},
            {"add_prefix_space", true},
            {"trim_offsets", true},
            {"use_regex", true}}},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", s.ignore_merges},
            {"vocab", vocab},
            {"merges", merges}}}};
}

struct SpSpec {
  std::vector<std::pair<std::string, std::string>> merges;  // ' ' stands for '▁'
  std::vector<std::string> chars;
  bool byte_fallback = true;
  bool fuse_unk = true;
  bool prepend_normalizer = true;
  json pre_tokenizer = nullptr;
  json decoder;                    // null: Replace + ByteFallback + Fuse + Strip
  std::vector<std::string> added;  // special
};

std::string meta(std::string s) {
  std::string out;
  for (char c : s) out += c == ' ' ? kSpace : std::string(1, c);
  return out;
}

// Vocabulary: <unk> <s> </s>, <0x00>..<0xFF> (3..258), chars (259..), merges.
json sp_json(const SpSpec& s) {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    vocab[buf] = 3 + b;
  }
  int next = 259;
  for (const std::string& c : s.chars) vocab[c] = next++;
  json merges = json::array();
  for (const auto& [l, r] : s.merges) {
    const std::string L = meta(l), R = meta(r);
    if (!vocab.contains(L + R)) vocab[L + R] = next++;
    merges.push_back(L + " " + R);
  }
  json added = json::array();
  auto add = [&](const std::string& content, int id) {
    added.push_back({{"id", id},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  };
  add("<unk>", 0), add("<s>", 1), add("</s>", 2);
  for (const std::string& a : s.added) add(a, next++);
  json normalizer = nullptr;
  if (s.prepend_normalizer)
    normalizer = {{"type", "Sequence"},
                  {"normalizers",
                   {{{"type", "Prepend"}, {"prepend", kSpace}},
                    {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}}}}};
  json decoder = s.decoder;
  if (decoder.is_null())
    decoder = {{"type", "Sequence"},
               {"decoders",
                {{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                 {{"type", "ByteFallback"}},
                 {{"type", "Fuse"}},
                 {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", normalizer},
          {"pre_tokenizer", s.pre_tokenizer},
          {"post_processor", nullptr},
          {"decoder", decoder},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", "<unk>"},
            {"fuse_unk", s.fuse_unk},
            {"byte_fallback", s.byte_fallback},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", merges}}}};
}

const std::vector<std::pair<std::string, std::string>> kWordMerges = {
    {"h", "e"},   {"l", "l"}, {"he", "ll"},  {"hell", "o"},  {" ", "w"},
    {" w", "o"},  {"r", "l"}, {" wo", "rl"}, {" worl", "d"}, {"1", "2"},
    {"\r", "\n"}, {"'", "s"}, {"I", "T"},    {"'", "S"},     {" ", "x"}};

// Writes the JSON as dir/tokenizer.json (and an optional config) and loads it.
Tokenizer load_json(const testing::TempDir& dir, const json& tokenizer,
                    const json& config = nullptr) {
  testing::write_bytes(dir / "tokenizer.json", tokenizer.dump());
  if (!config.is_null()) testing::write_bytes(dir / "tokenizer_config.json", config.dump());
  return Tokenizer::load(dir.path());
}

// ---------------------------------------------------------------------------
// Golden files of the shared models.

TEST(TokenizerGolden, EveryModelMatchesItsGoldenTokens) {
  const fs::path shared = testing::shared_dir();
  LIEQ_REQUIRE_PATH(shared);
  int models = 0;
  for (const auto& entry : fs::directory_iterator(shared / "models")) {
    const fs::path golden = entry.path() / "golden_tokens.json";
    if (!fs::exists(golden)) continue;
    SCOPED_TRACE(entry.path().string());
    ++models;
    const Tokenizer tok = Tokenizer::load(entry.path());
    const json cases = read_json_file(golden).at("cases");
    ASSERT_FALSE(cases.empty());
    for (const json& c : cases) {
      const auto text = c.at("text").get<std::string>();
      const auto ids = c.at("ids").get<Ids>();
      SCOPED_TRACE(text);
      EXPECT_EQ(tok.encode(text), ids);
      if (tok.kind() == TokenizerKind::kSentencePieceBpe) {
        // The ids start with BOS; the decoder sequence gives the text back.
        EXPECT_EQ(tok.decode(ids, /*skip_special=*/true), text);
      } else {
        EXPECT_EQ(tok.decode(ids), text);
      }
    }
  }
  EXPECT_GE(models, 1);
}

TEST(TokenizerGolden, Stories260KIsSentencePieceWithBos) {
  const fs::path dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  EXPECT_EQ(tok.kind(), TokenizerKind::kSentencePieceBpe);
  EXPECT_EQ(tok.kind_name(), "SentencePiece BPE");
  EXPECT_TRUE(tok.add_bos());
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.unk_id(), 0);
  EXPECT_EQ(tok.vocab_size(), 512);
  EXPECT_EQ(tok.token(1), "<s>");
  EXPECT_EQ(tok.token_type(0), TokenType::kUnknown);
  EXPECT_EQ(tok.token_type(1), TokenType::kControl);
  EXPECT_EQ(tok.token_type(3), TokenType::kByte);  // <0x00>
  EXPECT_EQ(tok.token(3), "<0x00>");
  EXPECT_EQ(tok.token_type(300), TokenType::kNormal);
  EXPECT_EQ(tok.merges().size(), 165u);
  EXPECT_EQ(tok.merges().front(), kSpace + " t");
  EXPECT_TRUE(tok.split_patterns().empty());
  EXPECT_EQ(tok.pre_tokenizer_name(), "default");
  EXPECT_EQ(tok.encode("Once upon a time", false), Ids({403, 407, 261, 378}));
  // The library's decoder keeps "<s>" and strips one leading space only.
  EXPECT_EQ(tok.decode(Ids{1, 403, 407}), "<s> Once upon");
  EXPECT_EQ(tok.decode(Ids{403, 407}), "Once upon");
  EXPECT_EQ(tok.encode("", true), Ids{1});
  EXPECT_EQ(tok.encode("", false), Ids{});
}

TEST(TokenizerGolden, TinylmIsByteLevelGpt2) {
  const fs::path dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  EXPECT_EQ(tok.kind(), TokenizerKind::kByteLevelBpe);
  EXPECT_EQ(tok.kind_name(), "byte-level BPE");
  EXPECT_FALSE(tok.add_bos());
  EXPECT_EQ(tok.bos_id(), 8191);
  EXPECT_EQ(tok.eos_id(), 8191);
  EXPECT_EQ(tok.unk_id(), -1);
  EXPECT_EQ(tok.vocab_size(), 8192);
  EXPECT_EQ(tok.token(8191), "<|endoftext|>");
  EXPECT_EQ(tok.token_type(8191), TokenType::kControl);
  EXPECT_EQ(tok.token(220), "\xC4\xA0");  // 'Ġ' (the space byte)
  EXPECT_EQ(tok.merges().size(), 7935u);
  EXPECT_EQ(tok.merges()[0], "\xC4\xA0 t");
  ASSERT_EQ(tok.split_patterns().size(), 1u);
  EXPECT_EQ(tok.split_patterns()[0], kGpt2);
  EXPECT_EQ(tok.pre_tokenizer_name(), "gpt-2");
  EXPECT_EQ(tok.encode("end of doc<|endoftext|>Next", true),
            Ids({8191, 437, 286, 2205, 8191, 45, 2302}));
  EXPECT_EQ(tok.decode(Ids{437, 8191, 45}, /*skip_special=*/true), "endN");
  EXPECT_THROW(tok.token(8192), Error);
  EXPECT_THROW(tok.token_type(-1), Error);
  // Ids outside the vocabulary are skipped, as the library does.
  EXPECT_EQ(tok.decode(Ids{39, 99999, -5, 995}), "H world");
}

// The whole Gutenberg book: the count is that of the Hugging Face tokenizers
// library. reference.json's "tokens": 175334 counts the *predicted* tokens of
// the ctx-256 protocol: every window's first token is not predicted.
TEST(TokenizerGolden, GutenbergBookTokenCountAndRoundTrip) {
  const fs::path dir = testing::shared_model("tinylm-llama-12m");
  const fs::path book = testing::shared_data("gutenberg/adventures-of-sherlock-holmes.txt");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(book);
  const Tokenizer tok = Tokenizer::load(dir);
  const std::string text = read_text_file(book);
  const auto t0 = std::chrono::steady_clock::now();
  const Ids ids = tok.encode(text);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(ids.size(), 176022u);
  const json ref = read_json_file(dir / "reference.json");
  const auto ctx = ref.at("ctx").get<size_t>();
  const size_t windows = (ids.size() + ctx - 1) / ctx;
  EXPECT_EQ(ids.size() - windows,
            ref.at("gutenberg/adventures-of-sherlock-holmes.txt").at("tokens").get<size_t>());
  EXPECT_EQ(tok.decode(ids), text);
  std::printf("[          ] tokenized %.2f MB in %.1f ms (%.1f MB/s)\n",
              static_cast<double>(text.size()) / 1e6, seconds * 1e3,
              static_cast<double>(text.size()) / 1e6 / seconds);
  EXPECT_LT(seconds, 2.0);  // (about 25 ms on one core, Release)
  // A second pass hits the word cache and gives the same ids.
  EXPECT_EQ(tok.encode(text), ids);
}

TEST(TokenizerGolden, ConcurrentEncodesAgree) {
  const fs::path dir = testing::shared_model("tinylm-llama-12m");
  const fs::path book = testing::shared_data("gutenberg/adventures-of-sherlock-holmes.txt");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(book);
  const Tokenizer tok = Tokenizer::load(dir);
  const std::string text = read_text_file(book).substr(0, 100000);
  const Ids expected = tok.encode(text);
  std::vector<Ids> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t)
    threads.emplace_back([&, t] { got[t] = tok.encode(text); });
  for (auto& th : threads) th.join();
  for (const Ids& g : got) EXPECT_EQ(g, expected);
}

// ---------------------------------------------------------------------------
// Byte-level BPE features.

TEST(TokenizerByteLevel, Qwen2RegexSplitsDigitsAndLineBreaks) {
  testing::TempDir dir;
  ByteLevelSpec spec = bl_spec(kWordMerges, split_byte_level(kQwen2));
  spec.normalizer = {{"type", "NFC"}};
  const Tokenizer tok = load_json(dir, byte_level_json(spec));
  EXPECT_EQ(tok.pre_tokenizer_name(), "qwen2");
  EXPECT_EQ(tok.kind(), TokenizerKind::kByteLevelBpe);
  EXPECT_FALSE(tok.add_bos());
  EXPECT_EQ(tok.bos_id(), -1);
  // Digits one by one ("1 2" never merges), "\r\n" runs, case-insensitive 'S.
  const std::string text = "hello world 12345\r\n\r\nhello  x's IT'S";
  EXPECT_EQ(tok.encode(text),
            Ids({259, 264, 32, 49, 50, 51, 52, 53, 266, 266, 259, 32, 270, 267, 32, 268, 269}));
  EXPECT_EQ(tok.decode(tok.encode(text)), text);
  EXPECT_EQ(tok.encode("a\r\n  b\n"), Ids({97, 266, 32, 32, 98, 10}));
  // NFC: "e" + U+0301 becomes U+00E9 (bytes C3 A9).
  EXPECT_EQ(tok.encode("cafe\xCC\x81 \n\n\tend "),
            Ids({99, 97, 102, 195, 169, 32, 10, 10, 9, 101, 110, 100, 32}));
}

TEST(TokenizerByteLevel, Llama3IgnoreMergesEmitsWholeWords) {
  testing::TempDir dir1, dir2;
  ByteLevelSpec spec = bl_spec({{"h", "e"}, {"l", "l"}, {"l", "o"}, {"1", "2"}, {"12", "3"}},
                               split_byte_level(kLlama3));
  spec.merges_as_arrays = true;  // newer tokenizer.json files spell merges as pairs
  spec.extra_words = {"hello"};  // in the vocabulary, not reachable by merges
  spec.ignore_merges = true;
  const Tokenizer ignore = load_json(dir1, byte_level_json(spec));
  spec.ignore_merges = false;
  const Tokenizer merge = load_json(dir2, byte_level_json(spec));
  EXPECT_EQ(ignore.pre_tokenizer_name(), "llama-bpe");
  EXPECT_EQ(ignore.merges()[4], "12 3");
  const std::string text = "hello hello 12345 1234567";
  EXPECT_EQ(ignore.encode(text),
            Ids({261, 32, 256, 257, 111, 32, 260, 52, 53, 32, 260, 52, 53, 54, 55}));
  EXPECT_EQ(merge.encode(text),
            Ids({256, 257, 111, 32, 256, 257, 111, 32, 260, 52, 53, 32, 260, 52, 53, 54, 55}));
  EXPECT_EQ(ignore.decode(ignore.encode(text)), text);
}

TEST(TokenizerByteLevel, MergesAsStringsOrArraysAgree) {
  testing::TempDir dir1, dir2;
  ByteLevelSpec spec = bl_spec(kWordMerges, split_byte_level(kGpt2));
  const Tokenizer strings = load_json(dir1, byte_level_json(spec));
  spec.merges_as_arrays = true;
  const Tokenizer arrays = load_json(dir2, byte_level_json(spec));
  EXPECT_EQ(strings.merges(), arrays.merges());
  const std::string text = "hello world, hello 12 worlds\r\n";
  EXPECT_EQ(strings.encode(text), arrays.encode(text));
  EXPECT_EQ(strings.pre_tokenizer_name(), "gpt-2");
}

TEST(TokenizerByteLevel, AddedTokensInTheMiddleOfText) {
  testing::TempDir dir;
  ByteLevelSpec spec = bl_spec(
      kWordMerges, {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}});
  spec.added = {{"<|x|>", true}, {"<|x", true}, {"<think>", false}};  // ids 271, 272, 273
  const Tokenizer tok = load_json(dir, byte_level_json(spec));
  EXPECT_EQ(tok.pre_tokenizer_name(), "gpt-2");  // ByteLevel's own regex
  // add_prefix_space applies to every text segment between added tokens.
  EXPECT_EQ(tok.encode("hello<|x|>world<think>hello"), Ids({32, 259, 271, 264, 273, 32, 259}));
  // Longest match first; a prefix alone matches the shorter token.
  EXPECT_EQ(tok.encode("<|x <|x|><|x|>"), Ids({272, 32, 271, 271}));
  EXPECT_EQ(tok.encode("hello world"), Ids({32, 259, 264}));
  const Ids ids = tok.encode("hello<|x|>world<think>hello");
  EXPECT_EQ(tok.decode(ids), " hello<|x|> world<think> hello");
  EXPECT_EQ(tok.decode(ids, /*skip_special=*/true),
            " hello world<think> hello");  // <think> is not special
  EXPECT_EQ(tok.token_type(271), TokenType::kControl);
  EXPECT_EQ(tok.token_type(273), TokenType::kUserDefined);
  EXPECT_EQ(tok.vocab_size(), 274);
}

TEST(TokenizerByteLevel, AddedTokenStripFlags) {
  testing::TempDir dir;
  ByteLevelSpec spec = bl_spec(kWordMerges, split_byte_level(kGpt2));
  spec.added = {{"<L>", true}, {"<R>", true}, {"<W>", true}};  // ids 271..273
  json j = byte_level_json(spec);
  j["added_tokens"][0]["lstrip"] = true;
  j["added_tokens"][1]["rstrip"] = true;
  j["added_tokens"][2]["single_word"] = true;
  const Tokenizer tok = load_json(dir, j);
  EXPECT_EQ(tok.encode("a  <L>b"), Ids({'a', 271, 'b'}));
  EXPECT_EQ(tok.encode("a<R>  b"), Ids({'a', 272, 'b'}));
  EXPECT_EQ(tok.encode("a <W> b"), Ids({'a', 32, 273, 32, 'b'}));
  // Inside a word <W> is not a token: its characters are encoded as text.
  EXPECT_EQ(tok.encode("a<W>b"), Ids({'a', '<', 'W', '>', 'b'}));
  // A combining mark is a word character (Rust's \w), as after "e\u0301".
  EXPECT_EQ(tok.encode("e\xCC\x81<W> "), Ids({'e', 0xCC, 0x81, '<', 'W', '>', 32}));
}

TEST(TokenizerByteLevel, SmolLMDigitsThenByteLevelRegex) {
  testing::TempDir dir;
  ByteLevelSpec spec = bl_spec(
      kWordMerges, {{"type", "Sequence"},
                    {"pretokenizers",
                     {{{"type", "Digits"}, {"individual_digits", true}},
                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}}}});
  const Tokenizer tok = load_json(dir, byte_level_json(spec));
  EXPECT_EQ(tok.pre_tokenizer_name(), "smollm");
  ASSERT_EQ(tok.split_patterns().size(), 2u);
  EXPECT_EQ(tok.split_patterns()[1], kGpt2);
  EXPECT_EQ(tok.encode("hello 2024 x12y"), Ids({259, 32, 50, 48, 50, 52, 270, 49, 50, 121}));
}

TEST(TokenizerByteLevel, SplitBehaviors) {
  auto load = [](const testing::TempDir& dir, const std::string& behavior, bool invert) {
    const json pre = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"String", " "}}},
           {"behavior", behavior},
           {"invert", invert}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    return load_json(dir, byte_level_json(bl_spec(kWordMerges, pre)));
  };
  const std::string text = "hello world  world";
  testing::TempDir d1, d2, d3, d4;
  EXPECT_EQ(load(d1, "MergedWithPrevious", false).encode(text),
            Ids({259, 32, 119, 111, 262, 100, 32, 32, 119, 111, 262, 100}));
  EXPECT_EQ(load(d2, "MergedWithNext", false).encode(text), Ids({259, 264, 32, 264}));
  EXPECT_EQ(load(d3, "Removed", false).encode(text),
            Ids({259, 119, 111, 262, 100, 119, 111, 262, 100}));
  EXPECT_EQ(load(d4, "Removed", true).encode(text), Ids({32, 32, 32}));
}

TEST(TokenizerByteLevel, OtherRegexIsDefault) {
  testing::TempDir dir;
  const Tokenizer tok =
      load_json(dir, byte_level_json(bl_spec(kWordMerges, split_byte_level(R"(\p{L}+|\s+|.)"))));
  EXPECT_EQ(tok.pre_tokenizer_name(), "default");
  EXPECT_EQ(tok.decode(tok.encode("hello world!")), "hello world!");
}

TEST(TokenizerByteLevel, InvalidUtf8IsEncodedAsBytesAndDecodedBack) {
  testing::TempDir dir;
  const Tokenizer tok =
      load_json(dir, byte_level_json(bl_spec(kWordMerges, split_byte_level(kQwen2))));
  const std::string text = "he\xFFllo \xC3 w\xE2\x82orld \xED\xA0\x80 end\xF0";
  const Ids ids = tok.encode(text);
  EXPECT_FALSE(ids.empty());
  EXPECT_EQ(tok.decode(ids), text);  // raw bytes are kept, not replaced by U+FFFD
  EXPECT_EQ(tok.decode(tok.encode("\xFF")), "\xFF");
}

TEST(TokenizerByteLevel, TemplateProcessingMeansBos) {
  testing::TempDir dir;
  ByteLevelSpec spec = bl_spec(kWordMerges, split_byte_level(kLlama3));
  spec.added = {{"<|begin_of_text|>", true}, {"<|end_of_text|>", true}};  // 271, 272
  json j = byte_level_json(spec);
  j["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       {{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}},
        {{"type", "TemplateProcessing"},
         {"single",
          {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
           {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
         {"pair", json::array()},
         {"special_tokens",
          {{"<|begin_of_text|>",
            {{"id", "<|begin_of_text|>"}, {"ids", {271}}, {"tokens", {"<|begin_of_text|>"}}}}}}}}}};
  {
    const Tokenizer tok = load_json(dir, j);  // no tokenizer_config.json
    EXPECT_TRUE(tok.add_bos());
    EXPECT_EQ(tok.bos_id(), 271);
    EXPECT_EQ(tok.encode("hello"), Ids({271, 259}));
    EXPECT_EQ(tok.encode("hello", false), Ids({259}));
  }
  {
    // tokenizer_config.json wins; tokens may be {"content": ...} objects.
    const Tokenizer tok =
        load_json(dir, j,
                  {{"add_bos_token", false},
                   {"bos_token", {{"content", "<|begin_of_text|>"}, {"special", true}}},
                   {"eos_token", "<|end_of_text|>"}});
    EXPECT_FALSE(tok.add_bos());
    EXPECT_EQ(tok.bos_id(), 271);
    EXPECT_EQ(tok.eos_id(), 272);
    EXPECT_EQ(tok.encode("hello"), Ids({259}));
    EXPECT_EQ(tok.encode("hello", true), Ids({271, 259}));
  }
}

// ---------------------------------------------------------------------------
// SentencePiece-style BPE features.

TEST(TokenizerSentencePiece, PrependReplaceNormalizerWithByteFallback) {
  testing::TempDir dir;
  SpSpec spec;
  spec.merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"}, {" w", "o"}};
  spec.chars = {kSpace, "h", "e", "l", "o", "w", "r", "d", "a"};
  const Tokenizer tok = load_json(dir, sp_json(spec));  // no config: BOS by default
  EXPECT_EQ(tok.kind(), TokenizerKind::kSentencePieceBpe);
  EXPECT_TRUE(tok.add_bos());
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.unk_id(), 0);
  EXPECT_EQ(tok.encode("hello world", false), Ids({259, 271, 273, 265, 262, 266}));
  EXPECT_EQ(tok.encode("hello world"), Ids({1, 259, 271, 273, 265, 262, 266}));
  // 'é' is not in the vocabulary: its UTF-8 bytes as <0xC3> <0xA9>; 'b' as <0x62>.
  EXPECT_EQ(tok.encode("hello w\xC3\xA9", false), Ids({259, 271, 272, 198, 172}));
  EXPECT_EQ(tok.encode(" a  b", false), Ids({259, 259, 267, 259, 259, 101}));
  for (const std::string text : {"hello world", "hello w\xC3\xA9", " a  b"})
    EXPECT_EQ(tok.decode(tok.encode(text), /*skip_special=*/true), text);
  // Byte tokens that are not valid UTF-8 are kept as bytes.
  EXPECT_EQ(tok.decode(Ids{271, 198}), "hello\xC3");
  EXPECT_EQ(tok.token_type(198), TokenType::kByte);
  // Invalid UTF-8 input goes through byte fallback.
  EXPECT_EQ(tok.decode(tok.encode("he\xFFllo", false)), "he\xFFllo");
}

TEST(TokenizerSentencePiece, UnknownCharactersFuseIntoUnk) {
  testing::TempDir dir;
  SpSpec spec;
  spec.merges = {{"h", "e"}, {"l", "l"}};
  spec.chars = {kSpace, "h", "e", "l", "o", "w", "r", "d"};
  spec.byte_fallback = false;
  const Tokenizer tok = load_json(dir, sp_json(spec), {{"add_bos_token", false}});
  EXPECT_FALSE(tok.add_bos());
  const Ids ids = tok.encode("hello \xC3\xA9\xC3\xA9 wor\xC3\xBCld x");
  EXPECT_EQ(ids, Ids({259, 267, 268, 263, 259, 0, 259, 264, 263, 265, 0, 262, 266, 259, 0}));
  EXPECT_EQ(tok.decode(ids), "hello <unk> wor<unk>ld <unk>");
  EXPECT_EQ(tok.decode(ids, /*skip_special=*/true), "hello  world ");
}

TEST(TokenizerSentencePiece, MetaspacePreTokenizer) {
  testing::TempDir dir;
  SpSpec spec;
  spec.merges = {{" ", "h"}, {"e", "l"}, {" h", "el"}, {"l", "o"}, {" hel", "lo"}};
  spec.chars = {kSpace, "h", "e", "l", "o"};
  spec.prepend_normalizer = false;
  spec.pre_tokenizer = {
      {"type", "Metaspace"}, {"replacement", kSpace}, {"prepend_scheme", "first"}, {"split", true}};
  spec.decoder = {
      {"type", "Metaspace"}, {"replacement", kSpace}, {"prepend_scheme", "first"}, {"split", true}};
  spec.added = {"<sep>"};  // id 269
  const Tokenizer tok = load_json(dir, sp_json(spec), {{"add_bos_token", false}});
  EXPECT_TRUE(tok.split_patterns().empty());
  // "first": only the text at the very start gets the '▁'.
  EXPECT_EQ(tok.encode("hello hello<sep>hello"), Ids({268, 268, 269, 260, 265, 267}));
  EXPECT_EQ(tok.encode("<sep>hello  hello"), Ids({269, 260, 265, 267, 259, 268}));
  EXPECT_EQ(tok.decode(tok.encode("hello hello<sep>hello")), "hello hello<sep>hello");
  EXPECT_EQ(tok.decode(tok.encode("<sep>hello  hello"), /*skip_special=*/true), "hello  hello");
}

TEST(TokenizerSentencePiece, BosAndUnkFromConfig) {
  testing::TempDir dir;
  SpSpec spec;
  spec.chars = {kSpace, "a"};
  const Tokenizer tok = load_json(dir, sp_json(spec),
                                  {{"add_bos_token", true},
                                   {"bos_token", {{"content", "</s>"}}},
                                   {"eos_token", "<s>"},
                                   {"unk_token", nullptr}});
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.unk_id(), 0);  // from the model
  EXPECT_EQ(tok.encode("a"), Ids({2, 259, 260}));
}

// ---------------------------------------------------------------------------
// Errors: each names the file and the problem.

class TokenizerErrors : public ::testing::Test {
 protected:
  json valid() { return byte_level_json(bl_spec(kWordMerges, split_byte_level(kGpt2))); }
  std::string file() const { return (dir_ / "tokenizer.json").string(); }
  void write(const json& j) const { testing::write_bytes(dir_ / "tokenizer.json", j.dump()); }
  testing::TempDir dir_;
};

TEST_F(TokenizerErrors, ValidFileLoads) {
  write(valid());
  EXPECT_NO_THROW(Tokenizer::load(dir_.path()));
}

TEST_F(TokenizerErrors, MissingFile) {
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "no such file");
  EXPECT_LIEQ_ERROR(Tokenizer::load_files(dir_ / "nope.json", {}), "nope.json", "no such file");
}

TEST_F(TokenizerErrors, MalformedJson) {
  testing::write_bytes(dir_ / "tokenizer.json", "{\"model\": {\"type\": \"BPE\", ");
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "malformed JSON");
}

TEST_F(TokenizerErrors, MalformedConfig) {
  write(valid());
  testing::write_bytes(dir_ / "tokenizer_config.json", "{not json");
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), "tokenizer_config.json", "malformed JSON");
}

TEST_F(TokenizerErrors, WordPieceModel) {
  json j = valid();
  j["model"]["type"] = "WordPiece";
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "unsupported model type \"WordPiece\"");
}

TEST_F(TokenizerErrors, UnigramModel) {
  json j = valid();
  j["model"] = {{"type", "Unigram"}, {"unk_id", 0}, {"vocab", {{"<unk>", 0.0}, {"a", -1.5}}}};
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "unsupported model type \"Unigram\"");
}

TEST_F(TokenizerErrors, MissingModel) {
  json j = valid();
  j.erase("model");
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "missing \"model\"");
}

TEST_F(TokenizerErrors, UnknownPreTokenizer) {
  json j = valid();
  j["pre_tokenizer"]["pretokenizers"][1] = {{"type", "UnicodeScripts"}};
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(),
                    "unsupported pre_tokenizer type \"UnicodeScripts\"");
}

TEST_F(TokenizerErrors, UnknownNormalizer) {
  json j = valid();
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers", {{{"type", "NFC"}}, {{"type", "BertNormalizer"}}}}};
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(),
                    "unsupported normalizer type \"BertNormalizer\"");
}

TEST_F(TokenizerErrors, UnknownDecoder) {
  json j = valid();
  j["decoder"] = {{"type", "WordPiece"}};
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "unsupported decoder type \"WordPiece\"");
}

TEST_F(TokenizerErrors, InvalidRegex) {
  json j = valid();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(\\p{L}+";
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "invalid regex", "(\\p{L}+");
}

TEST_F(TokenizerErrors, UnknownSplitBehavior) {
  json j = valid();
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Sideways";
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "split behavior \"Sideways\"");
}

TEST_F(TokenizerErrors, MergeNamesTokenNotInVocab) {
  json j = valid();
  j["model"]["merges"].push_back("zz q");
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "\"zz\" is not in the vocabulary");
}

TEST_F(TokenizerErrors, MergedTokenNotInVocab) {
  json j = valid();
  j["model"]["merges"].push_back(json::array({"q", "z"}));  // both bytes exist, "qz" does not
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(),
                    "merged token \"qz\" is not in the vocabulary");
}

TEST_F(TokenizerErrors, MalformedMerge) {
  json j = valid();
  j["model"]["merges"].push_back("nospace");
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "model.merges[15]");
}

TEST_F(TokenizerErrors, WrongJsonTypes) {
  json j = valid();
  j["model"]["vocab"]["hello"] = "seven";
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "id must be an integer");
  j = valid();
  j["added_tokens"] = {{{"id", "x"}, {"content", "<a>"}}};
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file());
  j = valid();
  j["model"]["vocab"]["hello"] = int64_t{1} << 40;
  write(j);
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), file(), "out of range");
}

TEST_F(TokenizerErrors, ConfigTokenNotInVocab) {
  write(valid());
  testing::write_bytes(dir_ / "tokenizer_config.json", R"({"bos_token": "<nope>"})");
  EXPECT_LIEQ_ERROR(Tokenizer::load(dir_.path()), "tokenizer_config.json", "bos_token \"<nope>\"");
}

}  // namespace
}  // namespace lieq
