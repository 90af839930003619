// The tokenizer: text <-> token ids for the two BPE families lieq reads
// (spec.h), built from a Hugging Face tokenizer.json (+ tokenizer_config.json)
// here, from GGUF keys by gguf_tokenizer.h, or from any TokenizerSpec.
//
//  - byte-level BPE (GPT-2, Qwen2/3, Llama-3, SmolLM): pre-tokenizer Split(regex)
//    + ByteLevel, or ByteLevel with its own GPT-2 regex; bytes mapped to the
//    GPT-2 printable alphabet; merges by rank.
//  - SentencePiece-style BPE (Llama-2, Mistral, TinyStories): normalizer
//    Prepend("▁") + Replace(" ", "▁") or a Metaspace pre-tokenizer; merges by
//    rank; byte_fallback to <0xXX> tokens; unk.
// Added tokens (special or not) are matched in the raw text before the model.
//
// The stages, one file each: added_tokens.h, pre_tokenizer.h (normalizers and
// pre-tokenizers), bpe.h, decoder.h; the readers hf_json.h and
// gguf_tokenizer.h; regex.h and unicode.h below them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/spec.h"

namespace lieq {

class Tokenizer {
 public:
  // Reads dir/tokenizer.json and (if present) dir/tokenizer_config.json.
  // Throws Error naming the file and the problem (missing file, malformed JSON,
  // unsupported model/pre-tokenizer/normalizer type, bad regex, ...).
  static Tokenizer load(const std::filesystem::path& dir);
  // Same from explicit paths (config may be empty = absent).
  static Tokenizer load_files(const std::filesystem::path& tokenizer_json,
                              const std::filesystem::path& tokenizer_config_json);
  // Same from in-memory documents (config may be null = absent); origin names
  // them in error messages and token(). merge_ranks, when not empty, gives
  // model.merges[i] the rank merge_ranks[i] instead of i (one per merge, in
  // ascending order; equal ranks go leftmost first, as llama.cpp's SPM joins
  // equal scores).
  static Tokenizer from_json(const nlohmann::json& tokenizer_json,
                             const nlohmann::json* tokenizer_config_json,
                             const std::filesystem::path& origin,
                             std::span<const int32_t> merge_ranks = {});
  // From a spec (what the readers make). Throws Error naming spec.origin for
  // an inconsistent spec (ids out of range, merges of tokens outside the
  // vocabulary, invalid regexes).
  static Tokenizer from_spec(const TokenizerSpec& spec);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of text; a BOS is prepended when add_bos is true.
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const;
  // encode(text, add_bos()).
  std::vector<int32_t> encode(std::string_view text) const { return encode(text, add_bos()); }
  // Text of ids as the tokenizer.json decoder defines it (special tokens kept
  // unless skip_special).
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  TokenizerKind kind() const;
  std::string kind_name() const;  // "byte-level BPE" / "SentencePiece BPE"
  // Size of the id space: max id + 1 over vocab and added tokens.
  int32_t vocab_size() const;
  // add_bos_token from tokenizer_config.json; when absent, as transformers
  // does: true if tokenizer.json's post_processor (TemplateProcessing) puts a
  // special token first (that token is then BOS unless bos_token says
  // otherwise), else false for byte-level BPE and true for SentencePiece BPE.
  // Always false when there is no BOS token.
  bool add_bos() const;
  int32_t bos_id() const;  // -1 when none
  int32_t eos_id() const;  // -1 when none
  int32_t unk_id() const;  // -1 when none
  // pad_token of tokenizer_config.json; -1 when absent or not in the vocabulary.
  int32_t pad_id() const;
  // Whether id is an added token marked "special".
  bool is_special(int32_t id) const;
  // SentencePiece BPE: whether "▁" is put before the text (a Prepend
  // normalizer, or Metaspace with a prepend scheme); false for byte-level BPE.
  bool add_space_prefix() const;
  // chat_template of tokenizer_config.json (a string, or the entry named
  // "default" of a list of {name, template}); empty when absent.
  const std::string& chat_template() const;

  // The raw vocabulary as tokenizer.json spells it (for GGUF export).
  const std::string& token(int32_t id) const;
  TokenType token_type(int32_t id) const;
  // BPE merges in rank order, as "left right".
  const std::vector<std::string>& merges() const;
  // Name of the pre-tokenizer regex family (GGUF tokenizer.ggml.pre):
  // "gpt-2", "llama-bpe", "qwen2", "smollm", or "default".
  std::string pre_tokenizer_name() const;
  // The split regexes of one of those family names (the inverse of
  // pre_tokenizer_name); empty for "default" or an unknown name.
  static std::vector<std::string> split_patterns_of(std::string_view pre_name);
  // The split regexes applied in order (empty for SentencePiece BPE).
  const std::vector<std::string>& split_patterns() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lieq
