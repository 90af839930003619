// GGUF tokenizer metadata, writing: see gguf_tokenizer.h for what is written.
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/gguf_keys.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/patterns.h"
#include "tokenizer/text.h"
#include "util/error.h"

namespace lieq {

using namespace gguf_keys;

namespace {

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

// gpt2 token types as _set_vocab_gpt2 / get_vocab_base assign them; the text
// of user-defined tokens gets "▁" replaced by " " as there.
TokenType gpt2_type(const Tokenizer& tok, int32_t id, std::string& text) {
  const TokenType t = tok.token_type(id);
  const bool added = t == TokenType::kControl || t == TokenType::kUserDefined;
  if (tok.is_special(id) || (added && looks_special(text))) return TokenType::kControl;
  if (added) {
    replace_all(text, patterns::kMetaspaceChar, " ");
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

  w.set(kModel, byte_level ? "gpt2" : "llama");
  w.set(kPre, pre);
  if (byte_level) {
    w.set(kTokens, std::move(tokens));
    w.set(kTypes, std::move(types));
    w.set(kMerges, tok.merges());
  } else {
    std::vector<float> scores = merge_scores(tok, tokens);
    for (size_t id = 0; id < n; ++id)
      if (types[id] == static_cast<int32_t>(TokenType::kUnused)) scores[id] = kPadScore;
    w.set(kTokens, std::move(tokens));
    w.set(kScores, std::move(scores));
    w.set(kTypes, std::move(types));
  }
  set_id(w, kBos, tok.bos_id(), n_vocab);
  set_id(w, kEos, tok.eos_id(), n_vocab);
  set_id(w, kUnk, tok.unk_id(), n_vocab);
  set_id(w, kPad, tok.pad_id(), n_vocab);
  w.set(kAddBos, tok.add_bos());
  w.set(kAddEos, false);  // lieq's tokenizer never appends EOS
  if (!tok.chat_template().empty()) w.set(kChatTemplate, tok.chat_template());
  // llama.cpp's SPM puts " " before the text unless told otherwise.
  if (!byte_level && !tok.add_space_prefix()) w.set(kAddSpacePrefix, false);
}

}  // namespace lieq
