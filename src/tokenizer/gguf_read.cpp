// GGUF tokenizer metadata, reading: tokenizer.ggml.* keys -> TokenizerSpec
// (see gguf_tokenizer.h for what the keys mean and how they are read).
#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/gguf_keys.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/patterns.h"
#include "util/error.h"

namespace lieq {

using namespace gguf_keys;

namespace {

// Byte length of the UTF-8 sequence a lead byte starts (1 for a continuation
// byte), as llama.cpp's unicode_len_utf8 cuts SPM text into symbols.
size_t utf8_len(char lead) {
  static constexpr size_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<uint8_t>(lead) >> 4];
}

// llama.cpp's pre-tokenizer names (llama-vocab.cpp) by the regex family lieq
// applies for them; names with other regexes are refused.
std::vector<std::string> gguf_pre_patterns(std::string_view pre) {
  static const std::map<std::string_view, std::string_view> kFamily = {
      {"gpt-2", "gpt-2"},         {"phi-2", "gpt-2"},       {"jina-es", "gpt-2"},
      {"jina-de", "gpt-2"},       {"gigachat", "gpt-2"},    {"jina-v1-en", "gpt-2"},
      {"jina-v2-es", "gpt-2"},    {"jina-v2-de", "gpt-2"},  {"jina-v2-code", "gpt-2"},
      {"roberta-bpe", "gpt-2"},   {"mpt", "gpt-2"},         {"olmo", "gpt-2"},
      {"jais", "gpt-2"},          {"llama3", "llama-bpe"},  {"llama-v3", "llama-bpe"},
      {"llama-bpe", "llama-bpe"}, {"falcon3", "llama-bpe"}, {"dbrx", "llama-bpe"},
      {"smaug-bpe", "llama-bpe"}, {"qwen2", "qwen2"},       {"deepseek-r1-qwen", "qwen2"},
      {"stablelm2", "qwen2"},     {"megrez", "qwen2"},      {"smollm", "smollm"},
      {"starcoder", "smollm"},    {"refact", "smollm"},     {"command-r", "smollm"},
      {"codeshell", "smollm"},    {"exaone", "smollm"},     {"minerva-7b", "smollm"},
  };
  auto it = kFamily.find(pre);
  if (it != kFamily.end()) return Tokenizer::split_patterns_of(it->second);
  if (pre.empty() || pre == "default") {
    // llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT (a missing or "default" pre):
    // these four regexes applied one after the other.
    return {R"([\p{P}\$\+<=>\^~\|]+)",
            R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
            R"(\p{N}+)", R"([0-9][0-9][0-9])"};
  }
  return {};
}

// The names llama.cpp gives the Llama-3 behaviour: a word that is a token is
// taken whole (ignore_merges), and BOS is added unless the file says otherwise.
bool is_llama3_pre(std::string_view pre) {
  return pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3";
}

// The token arrays of a file, checked.
struct GgufVocab {
  std::string file;
  std::vector<std::string> tokens;
  std::vector<TokenType> types;  // NORMAL when the file has none
  std::vector<float> scores;     // 0 when the file has none (as llama.cpp reads it)
  std::unordered_map<std::string_view, int32_t> id_of;

  bool used(int32_t id) const { return types[id] != TokenType::kUnused; }
  // id of text among the used tokens, -1 when none.
  int32_t find(std::string_view text) const {
    auto it = id_of.find(text);
    return it == id_of.end() || !used(it->second) ? -1 : it->second;
  }
};

GgufVocab read_vocab(const GgufReader& r) {
  GgufVocab v;
  v.file = r.path().string();
  v.tokens = r.get(kTokens).as_string_array();
  const size_t n = v.tokens.size();
  check(n > 0, v.file, ": ", kTokens, " is empty");
  check(n <= static_cast<size_t>(std::numeric_limits<int32_t>::max()), v.file, ": ", kTokens, ": ",
        n, " tokens is too many");
  v.types.assign(n, TokenType::kNormal);
  if (const GgufValue* t = r.find(kTypes)) {
    const std::vector<int32_t>& raw = t->as_i32_array();
    check(raw.size() == n, v.file, ": ", kTypes, " has ", raw.size(), " entries for ", n,
          " tokens in ", kTokens);
    for (size_t id = 0; id < n; ++id) {
      check(raw[id] >= static_cast<int32_t>(TokenType::kNormal) &&
                raw[id] <= static_cast<int32_t>(TokenType::kByte),
            v.file, ": ", kTypes, "[", id, "] = ", raw[id], " is not a token type (1..6)");
      v.types[id] = static_cast<TokenType>(raw[id]);
    }
  }
  v.scores.assign(n, 0.0f);
  if (const GgufValue* s = r.find(kScores)) {
    v.scores = s->as_f32_array();
    check(v.scores.size() == n, v.file, ": ", kScores, " has ", v.scores.size(), " entries for ", n,
          " tokens in ", kTokens);
  }
  for (size_t id = 0; id < n; ++id) {
    auto [it, fresh] = v.id_of.emplace(v.tokens[id], static_cast<int32_t>(id));
    check(fresh, v.file, ": ", kTokens, ": ids ", it->second, " and ", id, " have the same text \"",
          v.tokens[id], "\"");
    check(!v.tokens[id].empty(), v.file, ": ", kTokens, "[", id, "] is empty");
  }
  return v;
}

// model.vocab (every used token, in id order) and added_tokens (CONTROL and
// UNKNOWN as special, USER_DEFINED as plain).
void add_vocab(const GgufVocab& v, TokenizerSpec& spec) {
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const TokenType t = v.types[id];
    if (t == TokenType::kUnused) continue;
    const auto id32 = static_cast<int32_t>(id);
    spec.model.vocab.push_back({v.tokens[id], id32});
    if (t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUserDefined) {
      AddedToken added;
      added.content = v.tokens[id];
      added.id = id32;
      added.special = t != TokenType::kUserDefined;
      spec.added_tokens.push_back(std::move(added));
    }
  }
}

// tokenizer.ggml.merges, checked the way the tokenizer would use them.
std::vector<BpeMerge> gpt2_merges(const GgufReader& r, const GgufVocab& v) {
  const std::vector<std::string>& merges = r.get(kMerges).as_string_array();
  std::vector<BpeMerge> out;
  out.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    // As llama.cpp: the first space after the first byte separates the parts.
    const size_t sp = m.find(' ', 1);
    check(sp != std::string::npos, v.file, ": ", kMerges, "[", i, "] = \"", m,
          "\" is not two tokens separated by a space");
    BpeMerge merge{m.substr(0, sp), m.substr(sp + 1)};
    for (const std::string& part : {merge.left, merge.right, merge.left + merge.right})
      check(v.find(part) >= 0, v.file, ": ", kMerges, "[", i, "] = \"", m, "\": \"", part,
            "\" is not a token of ", kTokens);
    out.push_back(std::move(merge));
  }
  return out;
}

// The merges llama.cpp's SPM applies: every pair of used tokens whose
// concatenation at a symbol boundary is a used token, ranked by that token's
// score (highest first; equal scores share a rank, so the leftmost pair wins as
// in llama.cpp).
void spm_merges(const GgufVocab& v, BpeSpec& bpe) {
  struct Candidate {
    float score;
    int32_t left_chars;  // symbols in the left part
    int32_t left, right;
  };
  std::vector<Candidate> merges;
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (!v.used(static_cast<int32_t>(id))) continue;
    const std::string& t = v.tokens[id];
    int32_t chars = 1;
    for (size_t k = utf8_len(t[0]); k < t.size(); k += utf8_len(t[k]), ++chars) {
      const int32_t l = v.find(std::string_view(t).substr(0, k));
      const int32_t rr = v.find(std::string_view(t).substr(k));
      if (l >= 0 && rr >= 0) merges.push_back({v.scores[id], chars, l, rr});
    }
  }
  // Within a score, shorter left parts first, as transformers' SentencePiece
  // converter orders the merges of one token (matching tokenizer.json files
  // made from SentencePiece models).
  std::sort(merges.begin(), merges.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.left_chars != b.left_chars) return a.left_chars < b.left_chars;
    return a.left != b.left ? a.left < b.left : a.right < b.right;
  });
  bpe.merges.clear();
  bpe.merge_ranks.clear();
  bpe.merges.reserve(merges.size());
  bpe.merge_ranks.reserve(merges.size());
  int32_t rank = -1;
  for (size_t i = 0; i < merges.size(); ++i) {
    if (i == 0 || merges[i].score != merges[i - 1].score) ++rank;
    bpe.merges.push_back({v.tokens[merges[i].left], v.tokens[merges[i].right]});
    bpe.merge_ranks.push_back(rank);
  }
}

// The special ids of the file (llama.cpp's SPM defaults 1/2/0 where a key is
// absent, then "<s>" / "</s>"), each a used token.
void add_special(const GgufReader& r, const GgufVocab& v, bool spm, TokenizerSpec& spec) {
  const struct {
    const char* key;
    int32_t* id;
    int32_t spm_default;
  } kSpecial[] = {{kBos, &spec.bos_id, 1},
                  {kEos, &spec.eos_id, 2},
                  {kUnk, &spec.unk_id, 0},
                  {kPad, &spec.pad_id, -1}};
  const auto n = static_cast<int64_t>(v.tokens.size());
  for (const auto& s : kSpecial) {
    int64_t id = -1;
    if (const GgufValue* val = r.find(s.key)) {
      id = val->as_int();
      check(id >= 0 && id < n, v.file, ": ", s.key, " = ", id, " is outside the ", n, " tokens of ",
            kTokens);
      check(v.used(static_cast<int32_t>(id)), v.file, ": ", s.key, " = ", id,
            " is an unused token (\"", v.tokens[id], "\")");
    } else if (spm && s.spm_default >= 0 && s.spm_default < n && v.used(s.spm_default)) {
      id = s.spm_default;
    }
    *s.id = static_cast<int32_t>(id);
  }
  if (spm && spec.bos_id < 0) spec.bos_id = v.find("<s>");
  if (spm && spec.eos_id < 0) spec.eos_id = v.find("</s>");
}

// "gpt2": the merges, the splits of the pre name, ByteLevel both ways.
void set_byte_level(const GgufReader& r, const GgufVocab& v, const std::string& pre,
                    TokenizerSpec& spec) {
  const std::vector<std::string> splits = gguf_pre_patterns(pre);
  check(!splits.empty(), v.file, ": ", kPre, " = \"", pre,
        "\" is not a pre-tokenizer lieq knows (gpt-2, llama-bpe, qwen2, smollm and their "
        "llama.cpp aliases)");
  spec.model.merges = gpt2_merges(r, v);
  spec.model.ignore_merges = is_llama3_pre(pre);
  for (const std::string& p : splits)
    spec.pre_tokenizers.push_back(
        SplitPreTokenizer{TextPattern{p, true}, SplitBehavior::kIsolated, false});
  spec.pre_tokenizers.push_back(
      ByteLevelPreTokenizer{/*add_prefix_space=*/false, /*use_regex=*/false});
  spec.decoders = std::vector<DecoderStep>{ByteLevelDecoder{}};
}

// "llama": merges from the scores, byte fallback (the unk is the special
// one), "▁" for spaces (and before the text unless add_space_prefix is false)
// and back.
void set_sentencepiece(const GgufReader& r, const GgufVocab& v, TokenizerSpec& spec) {
  spm_merges(v, spec.model);
  spec.model.byte_fallback = true;
  spec.model.fuse_unk = true;
  bool prefix = true;  // llama.cpp's default for SPM
  if (const GgufValue* p = r.find(kAddSpacePrefix)) prefix = p->as_bool();
  const std::string space(patterns::kMetaspaceChar);
  // (emplace_back in place: GCC 12 sees a temporary variant's other
  // alternatives as uninitialized, -Wmaybe-uninitialized.)
  if (prefix) spec.normalizers.emplace_back(std::in_place_type<PrependNormalizer>, space);
  spec.normalizers.emplace_back(std::in_place_type<ReplaceNormalizer>, TextPattern{" ", false},
                                space);
  std::vector<DecoderStep> dec = {ReplaceDecoder{TextPattern{space, false}, " "},
                                  ByteFallbackDecoder{}, FuseDecoder{}};
  if (prefix) dec.push_back(StripDecoder{" ", 1, 0});
  spec.decoders = std::move(dec);
}

}  // namespace

TokenizerSpec tokenizer_spec_from_gguf(const GgufReader& r) {
  const std::string file = r.path().string();
  const std::string& model = r.get(kModel).as_string();
  check(model == "gpt2" || model == "llama", file, ": ", kModel, " = \"", model,
        "\" is not supported (only \"gpt2\", byte-level BPE, and \"llama\", SentencePiece)");
  const bool spm = model == "llama";
  const GgufVocab v = read_vocab(r);

  TokenizerSpec spec;
  spec.origin = r.path();
  spec.kind = spm ? TokenizerKind::kSentencePieceBpe : TokenizerKind::kByteLevelBpe;
  add_vocab(v, spec);
  const GgufValue* pre_value = r.find(kPre);
  const std::string pre = pre_value ? pre_value->as_string() : "";
  if (spm) {
    set_sentencepiece(r, v, spec);
  } else {
    set_byte_level(r, v, pre, spec);
  }
  add_special(r, v, spm, spec);
  if (spm) spec.model.unk_id = spec.unk_id;
  // llama.cpp's defaults when the key is absent: BOS for SPM and the Llama-3
  // pre-tokenizers, none for other BPE.
  spec.add_bos = spm || is_llama3_pre(pre);
  if (const GgufValue* b = r.find(kAddBos)) spec.add_bos = b->as_bool();
  if (spec.bos_id < 0) spec.add_bos = false;
  if (const GgufValue* t = r.find(kChatTemplate)) spec.chat_template = t->as_string();
  return spec;
}

Tokenizer tokenizer_from_gguf(const GgufReader& r) {
  return Tokenizer::from_spec(tokenizer_spec_from_gguf(r));
}

}  // namespace lieq
