// GGUF tokenizer metadata: see gguf_tokenizer.h for what is written and how
// it is read back. Key names and value types are those of gguf-py's
// constants.py (Keys.Tokenizer) and GGUFWriter: strings, an array of string
// tokens, float32 scores, int32 token types, string merges, uint32 ids, bool
// add_* flags.
#include "io/gguf_tokenizer.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/error.h"
#include "util/json_file.h"

namespace lieq {
namespace {

constexpr const char* kModelKey = "tokenizer.ggml.model";
constexpr const char* kPreKey = "tokenizer.ggml.pre";
constexpr const char* kTokensKey = "tokenizer.ggml.tokens";
constexpr const char* kScoresKey = "tokenizer.ggml.scores";
constexpr const char* kTypesKey = "tokenizer.ggml.token_type";
constexpr const char* kMergesKey = "tokenizer.ggml.merges";
constexpr const char* kBosKey = "tokenizer.ggml.bos_token_id";
constexpr const char* kEosKey = "tokenizer.ggml.eos_token_id";
constexpr const char* kUnkKey = "tokenizer.ggml.unknown_token_id";
constexpr const char* kPadKey = "tokenizer.ggml.padding_token_id";
constexpr const char* kAddBosKey = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddEosKey = "tokenizer.ggml.add_eos_token";
constexpr const char* kAddSpacePrefixKey = "tokenizer.ggml.add_space_prefix";
constexpr const char* kChatTemplateKey = "tokenizer.chat_template";

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581 '▁'
// Score of the converter's padding tokens (_create_vocab_sentencepiece).
constexpr float kPadScore = -1000.0f;

std::string pad_token(int64_t id) {
  return cat("[PAD", id, "]");
}

// convert_hf_to_gguf.py's does_token_look_special: added tokens spelled like
// these become CONTROL even when tokenizer.json does not mark them special.
bool looks_special(std::string_view t) {
  auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.substr(0, open.size()) == open &&
           t.substr(t.size() - close.size()) == close;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") || wrapped("<unused", ">");
}

// "<0xXX>" (either case), the byte tokens of SentencePiece vocabularies.
bool is_byte_token(std::string_view t) {
  auto hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  return t.size() == 6 && t.substr(0, 3) == "<0x" && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

// Byte length of the UTF-8 sequence a lead byte starts (1 for a continuation
// byte), as llama.cpp's unicode_len_utf8 cuts SPM text into symbols.
size_t utf8_len(char lead) {
  static constexpr size_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<uint8_t>(lead) >> 4];
}

// ---------------------------------------------------------------------------
// Writing

// gpt2 token types as _set_vocab_gpt2 / get_vocab_base assign them; the text
// of user-defined tokens gets "▁" replaced by " " as there.
TokenType gpt2_type(const Tokenizer& tok, int32_t id, std::string& text) {
  const TokenType t = tok.token_type(id);
  const bool added = t == TokenType::kControl || t == TokenType::kUserDefined;
  if (tok.is_special(id) || (added && looks_special(text))) return TokenType::kControl;
  if (added) {
    replace_all(text, kMetaspace, " ");
    return TokenType::kUserDefined;
  }
  return TokenType::kNormal;
}

// llama token types as LlamaHfVocab assigns them (CONTROL for the special
// tokens), except that added tokens not marked special are USER_DEFINED also
// inside the base vocabulary, so that llama.cpp matches them in raw text as
// the tokenizer does.
TokenType llama_type(const Tokenizer& tok, int32_t id, const std::string& text) {
  if (is_byte_token(text)) return TokenType::kByte;
  if (tok.is_special(id) || id == tok.bos_id() || id == tok.eos_id() || id == tok.unk_id() ||
      id == tok.pad_id())
    return TokenType::kControl;
  if (tok.token_type(id) == TokenType::kUserDefined) return TokenType::kUserDefined;
  return TokenType::kNormal;
}

// Score per id: -rank of the first merge that makes the token, kNoMergeScore
// when none does.
std::vector<float> merge_scores(const Tokenizer& tok, const std::vector<std::string>& texts) {
  std::unordered_map<std::string_view, int32_t> id_of;
  for (size_t id = 0; id < texts.size(); ++id) id_of.emplace(texts[id], static_cast<int32_t>(id));
  std::vector<float> scores(texts.size(), kNoMergeScore);
  const std::vector<std::string>& merges = tok.merges();
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    std::string merged = merges[rank];
    merged.erase(merged.find(' '), 1);
    auto it = id_of.find(merged);
    if (it != id_of.end() && scores[it->second] == kNoMergeScore)
      scores[it->second] = -static_cast<float>(rank);
  }
  return scores;
}

void set_id(GgufWriter& w, const char* key, int32_t id, int64_t n_vocab) {
  if (id >= 0 && id < n_vocab) w.set(key, static_cast<uint32_t>(id));
}

}  // namespace

void write_gguf_tokenizer(GgufWriter& w, const Tokenizer& tok, int64_t n_vocab) {
  const int32_t n_ids = tok.vocab_size();
  check(n_vocab >= n_ids, "GGUF tokenizer: the model's vocabulary size ", n_vocab,
        " is smaller than the tokenizer's id space (", n_ids, ")");
  check(n_vocab <= std::numeric_limits<int32_t>::max(), "GGUF tokenizer: vocabulary size ", n_vocab,
        " too large");
  const bool byte_level = tok.kind() == TokenizerKind::kByteLevelBpe;
  const std::string pre = byte_level ? tok.pre_tokenizer_name() : "default";
  if (byte_level && pre == "default") {
    std::string patterns;
    for (const std::string& p : tok.split_patterns()) patterns += cat(" \"", p, "\"");
    fail("GGUF tokenizer: the byte-level pre-tokenizer (split regexes", patterns,
         ") is none of llama.cpp's (gpt-2, llama-bpe, qwen2, smollm)");
  }

  const auto n = static_cast<size_t>(n_vocab);
  std::vector<std::string> tokens(n);
  std::vector<int32_t> types(n);
  for (int32_t id = 0; id < static_cast<int32_t>(n); ++id) {
    if (id >= n_ids || tok.token_type(id) == TokenType::kUnused) {
      tokens[id] = pad_token(id);
      types[id] = static_cast<int32_t>(TokenType::kUnused);
      continue;
    }
    tokens[id] = tok.token(id);
    const TokenType t =
        byte_level ? gpt2_type(tok, id, tokens[id]) : llama_type(tok, id, tokens[id]);
    types[id] = static_cast<int32_t>(t);
  }
  // llama.cpp maps text -> id and refuses a vocabulary with repeated texts.
  std::unordered_map<std::string_view, int32_t> seen;
  for (size_t id = 0; id < n; ++id) {
    auto [it, fresh] = seen.emplace(tokens[id], static_cast<int32_t>(id));
    check(fresh, "GGUF tokenizer: ids ", it->second, " and ", id, " have the same text \"",
          tokens[id], "\" (llama.cpp needs distinct token texts)");
  }

  w.set(kModelKey, byte_level ? "gpt2" : "llama");
  w.set(kPreKey, pre);
  if (byte_level) {
    w.set(kTokensKey, std::move(tokens));
    w.set(kTypesKey, std::move(types));
    w.set(kMergesKey, tok.merges());
  } else {
    std::vector<float> scores = merge_scores(tok, tokens);
    for (size_t id = 0; id < n; ++id)
      if (types[id] == static_cast<int32_t>(TokenType::kUnused)) scores[id] = kPadScore;
    w.set(kTokensKey, std::move(tokens));
    w.set(kScoresKey, std::move(scores));
    w.set(kTypesKey, std::move(types));
  }
  set_id(w, kBosKey, tok.bos_id(), n_vocab);
  set_id(w, kEosKey, tok.eos_id(), n_vocab);
  set_id(w, kUnkKey, tok.unk_id(), n_vocab);
  set_id(w, kPadKey, tok.pad_id(), n_vocab);
  w.set(kAddBosKey, tok.add_bos());
  w.set(kAddEosKey, false);  // lieq's tokenizer never appends EOS
  if (!tok.chat_template().empty()) w.set(kChatTemplateKey, tok.chat_template());
  // llama.cpp's SPM puts " " before the text unless told otherwise.
  if (!byte_level && !tok.add_space_prefix()) w.set(kAddSpacePrefixKey, false);
}

// ---------------------------------------------------------------------------
// Reading

namespace {

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
  v.tokens = r.get(kTokensKey).as_string_array();
  const size_t n = v.tokens.size();
  check(n > 0, v.file, ": ", kTokensKey, " is empty");
  check(n <= static_cast<size_t>(std::numeric_limits<int32_t>::max()), v.file, ": ", kTokensKey,
        ": ", n, " tokens is too many");
  v.types.assign(n, TokenType::kNormal);
  if (const GgufValue* t = r.find(kTypesKey)) {
    const std::vector<int32_t>& raw = t->as_i32_array();
    check(raw.size() == n, v.file, ": ", kTypesKey, " has ", raw.size(), " entries for ", n,
          " tokens in ", kTokensKey);
    for (size_t id = 0; id < n; ++id) {
      check(raw[id] >= static_cast<int32_t>(TokenType::kNormal) &&
                raw[id] <= static_cast<int32_t>(TokenType::kByte),
            v.file, ": ", kTypesKey, "[", id, "] = ", raw[id], " is not a token type (1..6)");
      v.types[id] = static_cast<TokenType>(raw[id]);
    }
  }
  v.scores.assign(n, 0.0f);
  if (const GgufValue* s = r.find(kScoresKey)) {
    v.scores = s->as_f32_array();
    check(v.scores.size() == n, v.file, ": ", kScoresKey, " has ", v.scores.size(), " entries for ",
          n, " tokens in ", kTokensKey);
  }
  for (size_t id = 0; id < n; ++id) {
    auto [it, fresh] = v.id_of.emplace(v.tokens[id], static_cast<int32_t>(id));
    check(fresh, v.file, ": ", kTokensKey, ": ids ", it->second, " and ", id,
          " have the same text \"", v.tokens[id], "\"");
    check(!v.tokens[id].empty(), v.file, ": ", kTokensKey, "[", id, "] is empty");
  }
  return v;
}

// model.vocab (every used token) and added_tokens (CONTROL and UNKNOWN as
// special, USER_DEFINED as plain) of the synthesized tokenizer.json.
void add_vocab(const GgufVocab& v, json& tokenizer) {
  json vocab = json::object();
  json added = json::array();
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const TokenType t = v.types[id];
    if (t == TokenType::kUnused) continue;
    vocab[v.tokens[id]] = id;
    if (t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUserDefined)
      added.push_back({{"id", id},
                       {"content", v.tokens[id]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", t != TokenType::kUserDefined}});
  }
  tokenizer["model"]["vocab"] = std::move(vocab);
  tokenizer["added_tokens"] = std::move(added);
}

// tokenizer.ggml.merges, checked the way the tokenizer would use them.
json gpt2_merges(const GgufReader& r, const GgufVocab& v) {
  const std::vector<std::string>& merges = r.get(kMergesKey).as_string_array();
  json out = json::array();
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    // As llama.cpp: the first space after the first byte separates the parts.
    const size_t sp = m.find(' ', 1);
    check(sp != std::string::npos, v.file, ": ", kMergesKey, "[", i, "] = \"", m,
          "\" is not two tokens separated by a space");
    const std::string left = m.substr(0, sp), right = m.substr(sp + 1);
    for (const std::string& part : {left, right, left + right})
      check(v.find(part) >= 0, v.file, ": ", kMergesKey, "[", i, "] = \"", m, "\": \"", part,
            "\" is not a token of ", kTokensKey);
    out.push_back(json::array({left, right}));
  }
  return out;
}

// The merges llama.cpp's SPM applies: every pair of used tokens whose
// concatenation at a symbol boundary is a used token, ranked by that token's
// score (highest first; equal scores share a rank, so the leftmost pair wins as
// in llama.cpp).
json spm_merges(const GgufVocab& v, std::vector<int32_t>& ranks) {
  struct Merge {
    float score;
    int32_t left_chars;  // symbols in the left part
    int32_t left, right;
  };
  std::vector<Merge> merges;
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
  std::sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.left_chars != b.left_chars) return a.left_chars < b.left_chars;
    return a.left != b.left ? a.left < b.left : a.right < b.right;
  });
  json out = json::array();
  ranks.clear();
  int32_t rank = -1;
  for (size_t i = 0; i < merges.size(); ++i) {
    if (i == 0 || merges[i].score != merges[i - 1].score) ++rank;
    out.push_back(json::array({v.tokens[merges[i].left], v.tokens[merges[i].right]}));
    ranks.push_back(rank);
  }
  return out;
}

json replace_step(std::string_view from, std::string_view to) {
  return {{"type", "Replace"}, {"pattern", {{"String", from}}}, {"content", to}};
}

// The special ids of the file (llama.cpp's SPM defaults 1/2/0 where a key is
// absent) as tokenizer_config.json token fields.
void add_special(const GgufReader& r, const GgufVocab& v, bool spm, json& config) {
  const struct {
    const char* key;
    const char* field;
    int32_t spm_default;
  } kSpecial[] = {{kBosKey, "bos_token", 1},
                  {kEosKey, "eos_token", 2},
                  {kUnkKey, "unk_token", 0},
                  {kPadKey, "pad_token", -1}};
  const auto n = static_cast<int64_t>(v.tokens.size());
  for (const auto& s : kSpecial) {
    int64_t id = -1;
    if (const GgufValue* val = r.find(s.key)) {
      id = val->as_int();
      check(id >= 0 && id < n, v.file, ": ", s.key, " = ", id, " is outside the ", n, " tokens of ",
            kTokensKey);
      check(v.used(static_cast<int32_t>(id)), v.file, ": ", s.key, " = ", id,
            " is an unused token (\"", v.tokens[id], "\")");
    } else if (spm && s.spm_default >= 0 && s.spm_default < n && v.used(s.spm_default)) {
      id = s.spm_default;
    }
    if (id >= 0) config[s.field] = v.tokens[id];
  }
}

}  // namespace

Tokenizer tokenizer_from_gguf(const GgufReader& r) {
  const std::string file = r.path().string();
  const std::string& model = r.get(kModelKey).as_string();
  check(model == "gpt2" || model == "llama", file, ": ", kModelKey, " = \"", model,
        "\" is not supported (only \"gpt2\", byte-level BPE, and \"llama\", SentencePiece)");
  const bool spm = model == "llama";
  const GgufVocab v = read_vocab(r);

  json tokenizer = {{"version", "1.0"}, {"model", {{"type", "BPE"}}}};
  add_vocab(v, tokenizer);
  json& m = tokenizer["model"];
  json config = json::object();
  std::vector<int32_t> ranks;
  const GgufValue* pre_value = r.find(kPreKey);
  const std::string pre = pre_value ? pre_value->as_string() : "";
  const bool llama3_pre = !spm && is_llama3_pre(pre);
  if (!spm) {
    const std::vector<std::string> patterns = gguf_pre_patterns(pre);
    check(!patterns.empty(), file, ": ", kPreKey, " = \"", pre,
          "\" is not a pre-tokenizer lieq knows (gpt-2, llama-bpe, qwen2, smollm and their "
          "llama.cpp aliases)");
    m["merges"] = gpt2_merges(r, v);
    m["ignore_merges"] = llama3_pre;
    json steps = json::array();
    for (const std::string& p : patterns)
      steps.push_back({{"type", "Split"},
                       {"pattern", {{"Regex", p}}},
                       {"behavior", "Isolated"},
                       {"invert", false}});
    steps.push_back({{"type", "ByteLevel"},
                     {"add_prefix_space", false},
                     {"trim_offsets", false},
                     {"use_regex", false}});
    tokenizer["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", std::move(steps)}};
    tokenizer["decoder"] = {{"type", "ByteLevel"}};
  } else {
    m["merges"] = spm_merges(v, ranks);
    m["byte_fallback"] = true;
    m["fuse_unk"] = true;
    bool prefix = true;  // llama.cpp's default for SPM
    if (const GgufValue* p = r.find(kAddSpacePrefixKey)) prefix = p->as_bool();
    json norm = json::array();
    if (prefix) norm.push_back({{"type", "Prepend"}, {"prepend", kMetaspace}});
    norm.push_back(replace_step(" ", kMetaspace));
    tokenizer["normalizer"] = {{"type", "Sequence"}, {"normalizers", std::move(norm)}};
    json dec = json::array(
        {replace_step(kMetaspace, " "), {{"type", "ByteFallback"}}, {{"type", "Fuse"}}});
    if (prefix) dec.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    tokenizer["decoder"] = {{"type", "Sequence"}, {"decoders", std::move(dec)}};
  }
  add_special(r, v, spm, config);
  if (spm && config.contains("unk_token")) m["unk_token"] = config["unk_token"];
  // llama.cpp's defaults when the key is absent: BOS for SPM and the Llama-3
  // pre-tokenizers, none for other BPE.
  bool add_bos = spm || llama3_pre;
  if (const GgufValue* b = r.find(kAddBosKey)) add_bos = b->as_bool();
  config["add_bos_token"] = add_bos;
  if (const GgufValue* t = r.find(kChatTemplateKey)) config["chat_template"] = t->as_string();
  return Tokenizer::from_json(tokenizer, &config, r.path(), ranks);
}

}  // namespace lieq
