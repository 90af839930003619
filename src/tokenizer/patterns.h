// The regexes the tokenizer knows by name: llama.cpp's pre-tokenizer families
// (as tokenizer.json spells them; GGUF tokenizer.ggml.pre names them), the
// fixed pre-tokenizers of the tokenizers library written as regexes, and the
// SentencePiece space character.
#pragma once

#include <string_view>

namespace lieq::patterns {

// GPT-2's split regex (also ByteLevel's own with use_regex); "gpt-2".
inline constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Qwen2 / Qwen2.5 / Qwen3; "qwen2".
inline constexpr std::string_view kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Llama-3; "llama-bpe".
inline constexpr std::string_view kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Digits (individual_digits true / false); "smollm" is kDigit then kGpt2.
inline constexpr std::string_view kDigit = R"(\p{N})";
inline constexpr std::string_view kDigits = R"(\p{N}+)";
// WhitespaceSplit (matches removed), Whitespace (inverted: matches kept),
// Punctuation.
inline constexpr std::string_view kWhitespaceSplit = R"(\s+)";
inline constexpr std::string_view kWhitespace = R"(\w+|[^\w\s]+)";
inline constexpr std::string_view kPunctuation = R"([\p{P}!-/:-@\[-`{-~])";
// Rust regex's \w (Alphabetic, marks, decimal digits, connectors, joiners),
// which decides single_word added tokens; PCRE2's \w lacks the marks.
inline constexpr std::string_view kWordChar = R"([\p{L}\p{Nl}\p{Nd}\p{M}\p{Pc}\x{200C}\x{200D}])";

inline constexpr std::string_view kMetaspaceChar = "\xE2\x96\x81";  // U+2581 '▁'

}  // namespace lieq::patterns
