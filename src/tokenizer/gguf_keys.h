// Key names of the tokenizer part of GGUF files, as gguf-py's constants.py
// (Keys.Tokenizer) spells them; value types as GGUFWriter writes them:
// strings, an array of string tokens, float32 scores, int32 token types,
// string merges, uint32 ids, bool add_* flags.
#pragma once

namespace lieq::gguf_keys {

inline constexpr const char* kModel = "tokenizer.ggml.model";
inline constexpr const char* kPre = "tokenizer.ggml.pre";
inline constexpr const char* kTokens = "tokenizer.ggml.tokens";
inline constexpr const char* kScores = "tokenizer.ggml.scores";
inline constexpr const char* kTypes = "tokenizer.ggml.token_type";
inline constexpr const char* kMerges = "tokenizer.ggml.merges";
inline constexpr const char* kBos = "tokenizer.ggml.bos_token_id";
inline constexpr const char* kEos = "tokenizer.ggml.eos_token_id";
inline constexpr const char* kUnk = "tokenizer.ggml.unknown_token_id";
inline constexpr const char* kPad = "tokenizer.ggml.padding_token_id";
inline constexpr const char* kAddBos = "tokenizer.ggml.add_bos_token";
inline constexpr const char* kAddEos = "tokenizer.ggml.add_eos_token";
inline constexpr const char* kAddSpacePrefix = "tokenizer.ggml.add_space_prefix";
inline constexpr const char* kChatTemplate = "tokenizer.chat_template";

}  // namespace lieq::gguf_keys
