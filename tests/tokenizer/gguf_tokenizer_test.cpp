// GGUF tokenizer metadata: every shared model's tokenizer written as
// tokenizer.ggml.* keys, read back and rebuilt must encode the golden texts and
// the start of each data file to the same ids; the keys are spot-checked
// against what llama.cpp's convert_hf_to_gguf.py writes; corrupted metadata
// gives errors naming the file and the key.
#include "tokenizer/gguf_tokenizer.h"

#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "expect_error.h"
#include "io/gguf.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/json_file.h"

namespace lieq {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using Ids = std::vector<int32_t>;
using Metadata = std::vector<std::pair<std::string, GgufValue>>;

constexpr size_t kTextBytes = 20000;
const char* const kDataFiles[] = {
    "wikitext-2-raw/wiki.test.raw",
    "tinystories/valid-excerpt.txt",
    "gutenberg/adventures-of-sherlock-holmes.txt",
    "calibration/multilingual.utf8",
    "calibration/code.utf8",
};

int32_t type_of(TokenType t) {
  return static_cast<int32_t>(t);
}

// The first ~n bytes of a file, cut at a UTF-8 character boundary.
std::string text_head(const fs::path& path, size_t n) {
  std::string s = testing::read_bytes(path);
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

int64_t config_vocab(const fs::path& dir) {
  return read_json_file(dir / "config.json").at("vocab_size").get<int64_t>();
}

fs::path write_gguf(const Metadata& meta, const fs::path& path) {
  GgufWriter w;
  for (const auto& [key, value] : meta) w.set(key, value);
  w.write(path);
  return path;
}

Metadata tokenizer_metadata(const Tokenizer& tok, int64_t n_vocab) {
  GgufWriter w;
  write_gguf_tokenizer(w, tok, n_vocab);
  return w.metadata();
}

const GgufValue& value(const Metadata& meta, const std::string& key) {
  for (const auto& [k, v] : meta)
    if (k == key) return v;
  ADD_FAILURE() << "no key " << key;
  static const GgufValue none(0);
  return none;
}

bool has_key(const Metadata& meta, const std::string& key) {
  for (const auto& [k, v] : meta)
    if (k == key) return true;
  return false;
}

// The same tokenizer: ids of golden texts and data heads, decoding, specials.
void expect_same_tokenizer(const Tokenizer& want, const Tokenizer& got, const fs::path& model) {
  EXPECT_EQ(got.kind(), want.kind());
  EXPECT_EQ(got.add_bos(), want.add_bos());
  EXPECT_EQ(got.bos_id(), want.bos_id());
  EXPECT_EQ(got.eos_id(), want.eos_id());
  EXPECT_EQ(got.unk_id(), want.unk_id());
  EXPECT_EQ(got.vocab_size(), want.vocab_size());
  EXPECT_EQ(got.pre_tokenizer_name(), want.pre_tokenizer_name());

  const json cases = read_json_file(model / "golden_tokens.json").at("cases");
  ASSERT_FALSE(cases.empty());
  for (const json& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    const Ids ids = got.encode(text);
    EXPECT_EQ(ids, c.at("ids").get<Ids>()) << "text: " << text;
    EXPECT_EQ(ids, want.encode(text)) << "text: " << text;
    EXPECT_EQ(got.decode(ids), want.decode(ids)) << "text: " << text;
  }
  for (const char* rel : kDataFiles) {
    const fs::path path = testing::shared_data(rel);
    if (!fs::exists(path)) continue;
    const std::string text = text_head(path, kTextBytes);
    const Ids ids = got.encode(text, false);
    EXPECT_EQ(ids, want.encode(text, false)) << rel;
    EXPECT_EQ(got.decode(ids), want.decode(ids)) << rel;
    if (want.kind() == TokenizerKind::kByteLevelBpe) {
      EXPECT_EQ(got.decode(ids), text) << rel;
    }
  }
}

class GgufTokenizerModelTest : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufTokenizerModelTest, RoundTripEncodesLikeTheOriginal) {
  const fs::path model = testing::shared_model(GetParam());
  LIEQ_REQUIRE_PATH(model);
  const Tokenizer tok = Tokenizer::load(model);
  const int64_t n_vocab = config_vocab(model);
  const Metadata meta = tokenizer_metadata(tok, n_vocab);
  testing::TempDir dir;
  const GgufReader r(write_gguf(meta, dir / "tok.gguf"));
  const Tokenizer back = tokenizer_from_gguf(r);
  expect_same_tokenizer(tok, back, model);

  // Writing the rebuilt tokenizer gives the same keys.
  const Metadata again = tokenizer_metadata(back, n_vocab);
  ASSERT_EQ(again.size(), meta.size());
  for (size_t i = 0; i < meta.size(); ++i) {
    EXPECT_EQ(again[i].first, meta[i].first);
    EXPECT_TRUE(again[i].second == meta[i].second) << meta[i].first;
  }
}

INSTANTIATE_TEST_SUITE_P(GgufTokenizer, GgufTokenizerModelTest,
                         ::testing::Values("stories260K", "tinylm-llama-12m", "random-llama",
                                           "random-qwen2", "random-qwen3"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

// Byte-level keys as _set_vocab_gpt2 writes them.
TEST(GgufTokenizerKeys, ByteLevelAsTheConverterWritesThem) {
  const fs::path model = testing::shared_model("random-qwen2");
  LIEQ_REQUIRE_PATH(model);
  const Tokenizer tok = Tokenizer::load(model);
  const Metadata meta = tokenizer_metadata(tok, 8192);
  EXPECT_EQ(meta[0].first, "tokenizer.ggml.model");
  EXPECT_EQ(value(meta, "tokenizer.ggml.model").as_string(), "gpt2");
  EXPECT_EQ(value(meta, "tokenizer.ggml.pre").as_string(), "gpt-2");
  const auto& tokens = value(meta, "tokenizer.ggml.tokens").as_string_array();
  const auto& types = value(meta, "tokenizer.ggml.token_type").as_i32_array();
  ASSERT_EQ(tokens.size(), 8192u);
  ASSERT_EQ(types.size(), 8192u);
  EXPECT_EQ(tokens[0], "!");
  EXPECT_EQ(tokens[220], "\xC4\xA0");  // 'Ġ', the byte-level space
  EXPECT_EQ(tokens[8191], "<|endoftext|>");
  EXPECT_EQ(types[0], type_of(TokenType::kNormal));
  EXPECT_EQ(types[8191], type_of(TokenType::kControl));
  const auto& merges = value(meta, "tokenizer.ggml.merges").as_string_array();
  ASSERT_EQ(merges.size(), 7935u);
  EXPECT_THAT(std::vector<std::string>(merges.begin(), merges.begin() + 3),
              ElementsAre("\xC4\xA0 t", "\xC4\xA0 a", "h e"));
  EXPECT_EQ(value(meta, "tokenizer.ggml.bos_token_id").as_u32(), 8191u);
  EXPECT_EQ(value(meta, "tokenizer.ggml.eos_token_id").as_u32(), 8191u);
  EXPECT_FALSE(has_key(meta, "tokenizer.ggml.unknown_token_id"));
  EXPECT_FALSE(has_key(meta, "tokenizer.ggml.scores"));
  EXPECT_FALSE(value(meta, "tokenizer.ggml.add_bos_token").as_bool());
  EXPECT_FALSE(value(meta, "tokenizer.ggml.add_eos_token").as_bool());
}

// Embedding rows beyond the tokenizer become "[PAD<id>]" UNUSED tokens, which
// the rebuilt tokenizer leaves out of its vocabulary.
TEST(GgufTokenizerKeys, PadsToTheModelVocabulary) {
  const fs::path model = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(model);
  const Tokenizer tok = Tokenizer::load(model);
  const Metadata meta = tokenizer_metadata(tok, 8200);
  const auto& tokens = value(meta, "tokenizer.ggml.tokens").as_string_array();
  const auto& types = value(meta, "tokenizer.ggml.token_type").as_i32_array();
  ASSERT_EQ(tokens.size(), 8200u);
  EXPECT_EQ(tokens[8192], "[PAD8192]");
  EXPECT_EQ(tokens[8199], "[PAD8199]");
  EXPECT_EQ(types[8199], type_of(TokenType::kUnused));
  testing::TempDir dir;
  const GgufReader r(write_gguf(meta, dir / "tok.gguf"));
  const Tokenizer back = tokenizer_from_gguf(r);
  EXPECT_EQ(back.vocab_size(), tok.vocab_size());
  const std::string text = "Once upon a time [PAD8192] there was a cat.";
  EXPECT_EQ(back.encode(text), tok.encode(text));
  EXPECT_LIEQ_ERROR(tokenizer_metadata(tok, 8191), "8191", "smaller", "8192");
}

// SentencePiece keys: _set_vocab_llama_hf's layout, with scores from the merge ranks.
TEST(GgufTokenizerKeys, SentencePieceScoresFollowTheMergeRanks) {
  const fs::path model = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(model);
  const Tokenizer tok = Tokenizer::load(model);
  const Metadata meta = tokenizer_metadata(tok, 512);
  EXPECT_EQ(value(meta, "tokenizer.ggml.model").as_string(), "llama");
  EXPECT_EQ(value(meta, "tokenizer.ggml.pre").as_string(), "default");
  EXPECT_FALSE(has_key(meta, "tokenizer.ggml.merges"));
  EXPECT_FALSE(has_key(meta, "tokenizer.ggml.add_space_prefix"));
  const auto& tokens = value(meta, "tokenizer.ggml.tokens").as_string_array();
  const auto& types = value(meta, "tokenizer.ggml.token_type").as_i32_array();
  const auto& scores = value(meta, "tokenizer.ggml.scores").as_f32_array();
  ASSERT_EQ(tokens.size(), 512u);
  ASSERT_EQ(scores.size(), 512u);
  EXPECT_THAT(std::vector<std::string>(tokens.begin(), tokens.begin() + 4),
              ElementsAre("<unk>", "<s>", "</s>", "<0x00>"));
  EXPECT_EQ(types[0], type_of(TokenType::kControl));
  EXPECT_EQ(types[1], type_of(TokenType::kControl));
  EXPECT_EQ(types[3], type_of(TokenType::kByte));
  EXPECT_EQ(types[258], type_of(TokenType::kByte));
  EXPECT_EQ(tokens[259], "\xE2\x96\x81t");  // "▁t", made by merge 0
  EXPECT_EQ(types[259], type_of(TokenType::kNormal));
  EXPECT_EQ(scores[259], 0.0f);
  EXPECT_EQ(tokens[260], "he");
  EXPECT_EQ(scores[260], -1.0f);
  EXPECT_EQ(tokens[265], "\xE2\x96\x81the");  // merges 6 and 7 both make it
  EXPECT_EQ(scores[265], -6.0f);
  EXPECT_EQ(scores[0], kNoMergeScore);
  EXPECT_EQ(value(meta, "tokenizer.ggml.bos_token_id").as_u32(), 1u);
  EXPECT_EQ(value(meta, "tokenizer.ggml.eos_token_id").as_u32(), 2u);
  EXPECT_EQ(value(meta, "tokenizer.ggml.unknown_token_id").as_u32(), 0u);
  EXPECT_TRUE(value(meta, "tokenizer.ggml.add_bos_token").as_bool());
  EXPECT_FALSE(value(meta, "tokenizer.ggml.add_eos_token").as_bool());

  // The merges derived from the scores are the tokenizer.json's, in order.
  testing::TempDir dir;
  const GgufReader r(write_gguf(meta, dir / "tok.gguf"));
  EXPECT_EQ(tokenizer_from_gguf(r).merges(), tok.merges());
}

// A copy of a shared model's tokenizer files with tokenizer.json edited by
// edit and tokenizer_config.json by edit_config.
template <typename Edit, typename EditConfig>
Tokenizer edited_tokenizer(const fs::path& model, const fs::path& dir, Edit edit,
                           EditConfig edit_config) {
  json j = read_json_file(model / "tokenizer.json");
  edit(j);
  json config = read_json_file(model / "tokenizer_config.json");
  edit_config(config);
  testing::write_bytes(dir / "tokenizer.json", j.dump());
  testing::write_bytes(dir / "tokenizer_config.json", config.dump());
  return Tokenizer::load(dir);
}

template <typename Edit>
Tokenizer edited_tokenizer(const fs::path& model, const fs::path& dir, Edit edit) {
  return edited_tokenizer(model, dir, edit, [](json&) {});
}

// Each regex family lieq knows maps to a llama.cpp pre name and back.
TEST(GgufTokenizerKeys, EveryPreTokenizerFamilyRoundTrips) {
  const fs::path model = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(model);
  const std::string text = text_head(testing::shared_data("calibration/multilingual.utf8"), 8000) +
                           "\nI'LL say 12345 don'T\r\n\r\n  x";
  for (const char* pre : {"gpt-2", "qwen2", "llama-bpe", "smollm"}) {
    SCOPED_TRACE(pre);
    testing::TempDir dir;
    const Tokenizer tok = edited_tokenizer(model, dir.path(), [&](json& j) {
      json steps = json::array();
      for (const std::string& p : Tokenizer::split_patterns_of(pre))
        steps.push_back({{"type", "Split"}, {"pattern", {{"Regex", p}}}, {"behavior", "Isolated"}});
      steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}});
      j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", steps}};
    });
    ASSERT_EQ(tok.pre_tokenizer_name(), pre);
    const Metadata meta = tokenizer_metadata(tok, 8192);
    EXPECT_EQ(value(meta, "tokenizer.ggml.pre").as_string(), pre);
    const GgufReader r(write_gguf(meta, dir / "tok.gguf"));
    const Tokenizer back = tokenizer_from_gguf(r);
    EXPECT_EQ(back.pre_tokenizer_name(), pre);
    EXPECT_EQ(back.encode(text), tok.encode(text));
  }
}

TEST(GgufTokenizerKeys, RefusesARegexLlamaCppDoesNotKnow) {
  const fs::path model = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(model);
  testing::TempDir dir;
  const Tokenizer tok = edited_tokenizer(model, dir.path(), [](json& j) {
    j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = R"(\s+|\S+)";
  });
  EXPECT_LIEQ_ERROR(tokenizer_metadata(tok, 8192), "llama.cpp", R"(\s+|\S+)");
}

// The padding token and the chat template travel too.
TEST(GgufTokenizerKeys, PadTokenAndChatTemplate) {
  const fs::path model = testing::shared_model("random-qwen2");
  LIEQ_REQUIRE_PATH(model);
  testing::TempDir dir;
  const std::string tmpl = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
  const Tokenizer tok = edited_tokenizer(
      model, dir.path(), [](json&) {},
      [&](json& c) {
        c["pad_token"] = "<|endoftext|>";
        c["chat_template"] = tmpl;
      });
  const Metadata meta = tokenizer_metadata(tok, 8192);
  EXPECT_EQ(value(meta, "tokenizer.ggml.padding_token_id").as_u32(), 8191u);
  EXPECT_EQ(value(meta, "tokenizer.chat_template").as_string(), tmpl);
  const GgufReader r(write_gguf(meta, dir / "tok.gguf"));
  const Tokenizer back = tokenizer_from_gguf(r);
  EXPECT_EQ(back.pad_id(), 8191);
  EXPECT_EQ(back.chat_template(), tmpl);
}

// A SentencePiece tokenizer that puts no "▁" before the text says so to llama.cpp.
TEST(GgufTokenizerKeys, SentencePieceWithoutSpacePrefix) {
  const fs::path model = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(model);
  testing::TempDir dir;
  const Tokenizer tok = edited_tokenizer(model, dir.path(), [](json& j) {
    j["normalizer"] = j["normalizer"]["normalizers"][1];  // the Replace only
    j["decoder"]["decoders"].erase(3);                    // no Strip of the prefix
  });
  ASSERT_FALSE(tok.add_space_prefix());
  const Metadata meta = tokenizer_metadata(tok, 512);
  EXPECT_FALSE(value(meta, "tokenizer.ggml.add_space_prefix").as_bool());
  const GgufReader r(write_gguf(meta, dir / "tok.gguf"));
  const Tokenizer back = tokenizer_from_gguf(r);
  EXPECT_FALSE(back.add_space_prefix());
  const std::string text = text_head(testing::shared_data("tinystories/valid-excerpt.txt"), 4000);
  const Ids ids = back.encode(text);
  EXPECT_EQ(ids, tok.encode(text));
  EXPECT_EQ(back.decode(ids), tok.decode(ids));
}

// ---------------------------------------------------------------------------
// Corrupted metadata.

class GgufTokenizerErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = testing::shared_model("tinylm-llama-12m");
    LIEQ_REQUIRE_PATH(model_);
    meta_ = tokenizer_metadata(Tokenizer::load(model_), 8192);
  }
  // meta_ without key, with key set to v when given.
  fs::path file(const std::string& key, const GgufValue* v = nullptr) {
    Metadata m;
    for (const auto& [k, old] : meta_) {
      if (k != key) {
        m.emplace_back(k, old);
      } else if (v != nullptr) {
        m.emplace_back(k, *v);
      }
    }
    return write_gguf(m, dir_ / "bad.gguf");
  }
  std::string rebuild_error(const fs::path& path) {
    const GgufReader r(path);
    return testing::error_message([&] { tokenizer_from_gguf(r); });
  }

  fs::path model_;
  Metadata meta_;
  testing::TempDir dir_;
};

TEST_F(GgufTokenizerErrorTest, MissingTokens) {
  const std::string msg = rebuild_error(file("tokenizer.ggml.tokens"));
  EXPECT_THAT(msg, ::testing::HasSubstr("bad.gguf"));
  EXPECT_THAT(msg, ::testing::HasSubstr("tokenizer.ggml.tokens"));
}

TEST_F(GgufTokenizerErrorTest, MissingModel) {
  EXPECT_THAT(rebuild_error(file("tokenizer.ggml.model")),
              ::testing::AllOf(::testing::HasSubstr("bad.gguf"),
                               ::testing::HasSubstr("tokenizer.ggml.model")));
}

TEST_F(GgufTokenizerErrorTest, TokenTypeLengthMismatch) {
  const GgufValue types(std::vector<int32_t>(100, 1));
  EXPECT_THAT(rebuild_error(file("tokenizer.ggml.token_type", &types)),
              ::testing::AllOf(::testing::HasSubstr("bad.gguf"),
                               ::testing::HasSubstr("tokenizer.ggml.token_type"),
                               ::testing::HasSubstr("100"), ::testing::HasSubstr("8192")));
}

TEST_F(GgufTokenizerErrorTest, TokenTypeOutOfRange) {
  std::vector<int32_t> types(8192, 1);
  types[7] = 9;
  const GgufValue v(types);
  EXPECT_THAT(rebuild_error(file("tokenizer.ggml.token_type", &v)),
              ::testing::AllOf(::testing::HasSubstr("tokenizer.ggml.token_type[7]"),
                               ::testing::HasSubstr("9")));
}

TEST_F(GgufTokenizerErrorTest, TokenTypeOfTheWrongType) {
  const GgufValue v(std::vector<float>(8192, 1.0f));
  EXPECT_THAT(rebuild_error(file("tokenizer.ggml.token_type", &v)),
              ::testing::AllOf(::testing::HasSubstr("bad.gguf"),
                               ::testing::HasSubstr("tokenizer.ggml.token_type"),
                               ::testing::HasSubstr("int32")));
}

TEST_F(GgufTokenizerErrorTest, UnknownModel) {
  const GgufValue v("bert");
  EXPECT_THAT(
      rebuild_error(file("tokenizer.ggml.model", &v)),
      ::testing::AllOf(::testing::HasSubstr("bad.gguf"),
                       ::testing::HasSubstr("tokenizer.ggml.model"), ::testing::HasSubstr("bert")));
}

TEST_F(GgufTokenizerErrorTest, UnknownPre) {
  const GgufValue v("chatglm-bpe");
  EXPECT_THAT(
      rebuild_error(file("tokenizer.ggml.pre", &v)),
      ::testing::AllOf(::testing::HasSubstr("bad.gguf"), ::testing::HasSubstr("tokenizer.ggml.pre"),
                       ::testing::HasSubstr("chatglm-bpe")));
}

TEST_F(GgufTokenizerErrorTest, MissingMerges) {
  EXPECT_THAT(rebuild_error(file("tokenizer.ggml.merges")),
              ::testing::HasSubstr("tokenizer.ggml.merges"));
}

TEST_F(GgufTokenizerErrorTest, MalformedMerge) {
  std::vector<std::string> merges = value(meta_, "tokenizer.ggml.merges").as_string_array();
  merges[3] = "nospace";
  const GgufValue v(merges);
  EXPECT_THAT(rebuild_error(file("tokenizer.ggml.merges", &v)),
              ::testing::AllOf(::testing::HasSubstr("tokenizer.ggml.merges[3]"),
                               ::testing::HasSubstr("nospace")));
  merges[3] = "zz qq";
  const GgufValue v2(merges);
  EXPECT_THAT(rebuild_error(file("tokenizer.ggml.merges", &v2)),
              ::testing::AllOf(::testing::HasSubstr("tokenizer.ggml.merges[3]"),
                               ::testing::HasSubstr("not a token")));
}

TEST_F(GgufTokenizerErrorTest, SpecialIdOutOfRange) {
  const GgufValue v(uint32_t{9000});
  EXPECT_THAT(rebuild_error(file("tokenizer.ggml.bos_token_id", &v)),
              ::testing::AllOf(::testing::HasSubstr("tokenizer.ggml.bos_token_id"),
                               ::testing::HasSubstr("9000")));
}

TEST_F(GgufTokenizerErrorTest, DuplicateToken) {
  std::vector<std::string> tokens = value(meta_, "tokenizer.ggml.tokens").as_string_array();
  tokens[5] = tokens[4];
  const GgufValue v(tokens);
  EXPECT_THAT(rebuild_error(file("tokenizer.ggml.tokens", &v)),
              ::testing::AllOf(::testing::HasSubstr("tokenizer.ggml.tokens"),
                               ::testing::HasSubstr("4"), ::testing::HasSubstr("5")));
}

TEST_F(GgufTokenizerErrorTest, ScoresLengthMismatch) {
  const fs::path model = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(model);
  meta_ = tokenizer_metadata(Tokenizer::load(model), 512);
  const GgufValue v(std::vector<float>(511, 0.0f));
  EXPECT_THAT(rebuild_error(file("tokenizer.ggml.scores", &v)),
              ::testing::AllOf(::testing::HasSubstr("tokenizer.ggml.scores"),
                               ::testing::HasSubstr("511"), ::testing::HasSubstr("512")));
}

}  // namespace
}  // namespace lieq
