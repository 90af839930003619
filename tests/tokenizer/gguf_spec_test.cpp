// The GGUF reader builds the spec straight from the tokenizer.ggml.* keys:
// for every shared model, the spec read back from the keys lieq writes equals
// the spec of its tokenizer.json, but for what the GGUF form cannot hold
// (listed in normalize()); and a spec that is not self-consistent is refused
// naming its file.
#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "expect_error.h"
#include "io/gguf.h"
#include "test_support.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/hf_json.h"
#include "tokenizer/tokenizer.h"
#include "util/json_file.h"

namespace lieq {
namespace {

namespace fs = std::filesystem;

TokenizerSpec json_spec(const fs::path& model) {
  const json j = read_json_file(model / "tokenizer.json");
  const json config = read_json_file(model / "tokenizer_config.json");
  return read_hf_tokenizer(j, &config, model / "tokenizer.json", model / "tokenizer_config.json",
                           {});
}

// The differences the GGUF form makes, removed: the origin; the vocabulary
// order (GGUF: by id; tokenizer.json: by token) and its added tokens (GGUF
// has one token list, so they are vocabulary tokens too); SentencePiece merge
// ranks (derived from scores, merges of equal score share a rank, checked by
// the caller).
TokenizerSpec normalize(TokenizerSpec spec, const TokenizerSpec& added_from) {
  spec.origin.clear();
  for (const AddedToken& t : added_from.added_tokens) {
    const bool present = std::any_of(spec.model.vocab.begin(), spec.model.vocab.end(),
                                     [&](const VocabEntry& e) { return e.id == t.id; });
    if (!present) spec.model.vocab.push_back({t.content, t.id});
  }
  std::sort(spec.model.vocab.begin(), spec.model.vocab.end(),
            [](const VocabEntry& a, const VocabEntry& b) { return a.id < b.id; });
  spec.model.merge_ranks.clear();
  return spec;
}

class GgufSpecTest : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufSpecTest, EqualsTheJsonSpecOfTheSameTokenizer) {
  const fs::path model = testing::shared_model(GetParam());
  LIEQ_REQUIRE_PATH(model);
  const TokenizerSpec from_json = json_spec(model);
  const Tokenizer tok = Tokenizer::from_spec(from_json);
  GgufWriter w;
  write_gguf_tokenizer(w, tok, tok.vocab_size());
  testing::TempDir dir;
  w.write(dir / "tok.gguf");
  const GgufReader r(dir / "tok.gguf");
  const TokenizerSpec from_gguf = tokenizer_spec_from_gguf(r);
  EXPECT_EQ(from_gguf.origin, dir / "tok.gguf");

  // SentencePiece: ranks ascending from 0, the rank order that of the merges.
  const std::vector<int32_t>& ranks = from_gguf.model.merge_ranks;
  if (from_json.kind == TokenizerKind::kSentencePieceBpe) {
    ASSERT_EQ(ranks.size(), from_gguf.model.merges.size());
    ASSERT_FALSE(ranks.empty());
    EXPECT_EQ(ranks.front(), 0);
    EXPECT_TRUE(std::is_sorted(ranks.begin(), ranks.end()));
  } else {
    EXPECT_TRUE(ranks.empty());
  }
  const TokenizerSpec want = normalize(from_json, from_json);
  const TokenizerSpec got = normalize(from_gguf, from_json);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_TRUE(got.model.vocab == want.model.vocab);
  EXPECT_TRUE(got.model.merges == want.model.merges);
  EXPECT_TRUE(got.model == want.model);
  EXPECT_TRUE(got.added_tokens == want.added_tokens);
  EXPECT_TRUE(got.normalizers == want.normalizers);
  EXPECT_TRUE(got.pre_tokenizers == want.pre_tokenizers);
  EXPECT_TRUE(got.decoders == want.decoders);
  EXPECT_EQ(got.bos_id, want.bos_id);
  EXPECT_EQ(got.eos_id, want.eos_id);
  EXPECT_EQ(got.unk_id, want.unk_id);
  EXPECT_EQ(got.pad_id, want.pad_id);
  EXPECT_EQ(got.add_bos, want.add_bos);
  EXPECT_TRUE(got == want);
}

INSTANTIATE_TEST_SUITE_P(GgufSpec, GgufSpecTest,
                         ::testing::Values("stories260K", "tinylm-llama-12m", "random-qwen2"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

// A minimal consistent spec: bytes a, b and their merge.
TokenizerSpec small_spec() {
  TokenizerSpec spec;
  spec.origin = "my/spec.json";
  spec.model.vocab = {{"a", 0}, {"b", 1}, {"ab", 2}};
  spec.model.merges = {{"a", "b"}};
  spec.pre_tokenizers = {ByteLevelPreTokenizer{false, false}};
  spec.decoders = std::vector<DecoderStep>{ByteLevelDecoder{}};
  return spec;
}

TEST(TokenizerFromSpec, BuildsAndEncodes) {
  const Tokenizer tok = Tokenizer::from_spec(small_spec());
  EXPECT_EQ(tok.encode("abba", false), (std::vector<int32_t>{2, 1, 0}));
  EXPECT_EQ(tok.decode(std::vector<int32_t>{2, 1, 0}), "abba");
  EXPECT_EQ(tok.vocab_size(), 3);
  EXPECT_EQ(tok.pre_tokenizer_name(), "default");
}

TEST(TokenizerFromSpec, InconsistentSpecsNameTheirFile) {
  TokenizerSpec spec = small_spec();
  spec.model.merges.push_back({"b", "c"});
  EXPECT_LIEQ_ERROR(Tokenizer::from_spec(spec), "my/spec.json", "model.merges[1]",
                    "token \"c\" is not in the vocabulary");
  spec = small_spec();
  spec.model.merges.push_back({"b", "a"});
  EXPECT_LIEQ_ERROR(Tokenizer::from_spec(spec), "my/spec.json", "merged token \"ba\"");
  spec = small_spec();
  spec.model.merge_ranks = {0, 1};
  EXPECT_LIEQ_ERROR(Tokenizer::from_spec(spec), "my/spec.json", "2 merge ranks for 1 merges");
  spec = small_spec();
  spec.model.vocab.push_back({"big", int32_t{1} << 30});
  EXPECT_LIEQ_ERROR(Tokenizer::from_spec(spec), "my/spec.json", "\"big\"", "out of range");
  spec = small_spec();
  spec.bos_id = 3;
  EXPECT_LIEQ_ERROR(Tokenizer::from_spec(spec), "my/spec.json", "bos id 3", "[0, 3)");
  spec = small_spec();
  spec.pre_tokenizers.insert(spec.pre_tokenizers.begin(),
                             SplitPreTokenizer{TextPattern{"[a", true}, SplitBehavior::kIsolated});
  EXPECT_LIEQ_ERROR(Tokenizer::from_spec(spec), "my/spec.json", "pre_tokenizers[0]",
                    "invalid regex \"[a\"");
  spec = small_spec();
  spec.normalizers = {ReplaceNormalizer{TextPattern{"(", true}, ""}};
  EXPECT_LIEQ_ERROR(Tokenizer::from_spec(spec), "my/spec.json", "normalizers[0]", "invalid regex");
  spec = small_spec();
  spec.decoders->push_back(ReplaceDecoder{TextPattern{")", true}, ""});
  EXPECT_LIEQ_ERROR(Tokenizer::from_spec(spec), "my/spec.json", "decoders[1]", "invalid regex");
}

}  // namespace
}  // namespace lieq
