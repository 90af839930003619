// The Hugging Face tokenizer.json reader: tokenizer.json (+ the optional
// tokenizer_config.json) -> TokenizerSpec, following the tokenizers library's
// format: model BPE (vocab, merges as "a b" or ["a", "b"], byte_fallback,
// fuse_unk, ignore_merges, unk_token), added_tokens, normalizers Prepend /
// Replace / NFC / NFD / Strip, pre-tokenizers Split / ByteLevel / Metaspace /
// Digits / Whitespace / WhitespaceSplit / Punctuation, decoders ByteLevel /
// Replace / ByteFallback / Fuse / Strip / Metaspace (each possibly in nested
// Sequences), and the post_processor's leading special token.
//
// The kind is byte-level BPE when a ByteLevel pre-tokenizer or decoder is
// present, else SentencePiece BPE. Special tokens (tokenizer.h, add_bos):
// tokenizer_config.json's bos/eos/unk/pad_token, add_bos_token and
// chat_template; then the post_processor's first / last special token; then,
// for SentencePiece BPE, "<s>" and "</s>"; unk falls back to the model's
// unk_token.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/spec.h"

namespace lieq {

// config may be null (absent). merge_ranks: see Tokenizer::from_json. Throws
// Error naming tokenizer_path (or config_path for problems of the config) and
// the problem: unsupported model / normalizer / pre-tokenizer / decoder type,
// invalid regex, malformed merges or merges of tokens outside the vocabulary,
// ids out of range, special tokens that are not in the vocabulary, unexpected
// JSON structure.
TokenizerSpec read_hf_tokenizer(const nlohmann::json& tokenizer_json,
                                const nlohmann::json* tokenizer_config_json,
                                const std::filesystem::path& tokenizer_path,
                                const std::filesystem::path& config_path,
                                std::span<const int32_t> merge_ranks);

}  // namespace lieq
