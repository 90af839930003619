// A tokenizer as plain data: what the readers produce (hf_json.h from a
// Hugging Face tokenizer.json, gguf_tokenizer.h from GGUF tokenizer.ggml.*
// keys) and what Tokenizer::from_spec builds the encoder from. Nothing here is
// compiled or indexed: regexes are pattern strings, the vocabulary a list.
//
// The pipeline the spec describes, as the tokenizers library runs it:
//   added tokens split out of the raw text -> normalizers (per remaining
//   segment) -> pre-tokenizer steps (each splits every piece of the previous)
//   -> BPE by merge rank per piece -> ids;
//   ids -> token strings -> decoder steps -> text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lieq {

// byte-level BPE (GPT-2, Qwen2/3, Llama-3, SmolLM: bytes mapped to the GPT-2
// printable alphabet) or SentencePiece-style BPE (Llama-2, Mistral,
// TinyStories: "▁" for spaces, byte fallback to <0xXX>, unk).
enum class TokenizerKind { kByteLevelBpe, kSentencePieceBpe };

// GGUF-compatible token type.
enum class TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

// What Split and Replace look for: a regex (PCRE2 with UTF and UCP) or a
// literal string.
struct TextPattern {
  std::string text;
  bool is_regex = false;
  bool operator==(const TextPattern&) const = default;
};

// How a split keeps the matches (the library's SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// When Metaspace puts its replacement before a piece: always, only before the
// start of the text, never.
enum class PrependScheme { kAlways, kFirst, kNever };

// ---------------------------------------------------------------------------
// Normalizers, applied in order to each text segment between added tokens.

struct PrependNormalizer {  // prefix before a non-empty segment
  std::string prefix;
  bool operator==(const PrependNormalizer&) const = default;
};
struct ReplaceNormalizer {  // every match of pattern -> content
  TextPattern pattern;
  std::string content;
  bool operator==(const ReplaceNormalizer&) const = default;
};
struct NfcNormalizer {
  bool operator==(const NfcNormalizer&) const = default;
};
struct NfdNormalizer {
  bool operator==(const NfdNormalizer&) const = default;
};
struct StripNormalizer {  // White_Space characters at either end
  bool left = true, right = true;
  bool operator==(const StripNormalizer&) const = default;
};
using NormalizerStep = std::variant<PrependNormalizer, ReplaceNormalizer, NfcNormalizer,
                                    NfdNormalizer, StripNormalizer>;

// ---------------------------------------------------------------------------
// Pre-tokenizer steps. The library's Digits, Whitespace, WhitespaceSplit and
// Punctuation are Splits by the regexes of patterns.h.

struct SplitPreTokenizer {
  TextPattern pattern;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;  // the gaps between matches are the delimiters
  bool operator==(const SplitPreTokenizer&) const = default;
};
struct ByteLevelPreTokenizer {
  bool add_prefix_space = true;  // " " before a piece that does not start with one
  bool use_regex = true;         // then split by patterns::kGpt2
  bool operator==(const ByteLevelPreTokenizer&) const = default;
};
struct MetaspacePreTokenizer {  // " " -> replacement, prefixed per scheme
  std::string replacement;
  PrependScheme prepend_scheme = PrependScheme::kAlways;
  bool split = true;  // pieces start at each replacement
  bool operator==(const MetaspacePreTokenizer&) const = default;
};
using PreTokenizerStep =
    std::variant<SplitPreTokenizer, ByteLevelPreTokenizer, MetaspacePreTokenizer>;

// ---------------------------------------------------------------------------
// Decoder steps, applied in order to the list of token strings.

struct ByteLevelDecoder {  // GPT-2 alphabet -> bytes, all tokens joined
  bool operator==(const ByteLevelDecoder&) const = default;
};
struct ReplaceDecoder {  // in each token, every match of pattern -> content
  TextPattern pattern;
  std::string content;
  bool operator==(const ReplaceDecoder&) const = default;
};
struct ByteFallbackDecoder {  // runs of <0xXX> tokens -> one token of those bytes
  bool operator==(const ByteFallbackDecoder&) const = default;
};
struct FuseDecoder {  // all tokens joined into one
  bool operator==(const FuseDecoder&) const = default;
};
struct StripDecoder {  // up to start / stop copies of content off each token's ends
  std::string content;
  size_t start = 0, stop = 0;
  bool operator==(const StripDecoder&) const = default;
};
struct MetaspaceDecoder {  // replacement -> " " (dropped in the first token when prepend)
  std::string replacement;
  bool prepend = true;
  bool operator==(const MetaspaceDecoder&) const = default;
};
using DecoderStep = std::variant<ByteLevelDecoder, ReplaceDecoder, ByteFallbackDecoder, FuseDecoder,
                                 StripDecoder, MetaspaceDecoder>;

// ---------------------------------------------------------------------------
// The model and the tokenizer.

struct VocabEntry {
  std::string token;  // as the vocabulary spells it (byte-level: GPT-2 alphabet)
  int32_t id = -1;
  bool operator==(const VocabEntry&) const = default;
};

struct BpeMerge {
  std::string left, right;
  bool operator==(const BpeMerge&) const = default;
};

// BPE, byte-level and SentencePiece style alike.
struct BpeSpec {
  std::vector<VocabEntry> vocab;  // in the file's order
  // In rank order; left, right and left + right are vocabulary tokens. A later
  // duplicate pair replaces an earlier one.
  std::vector<BpeMerge> merges;
  // Empty: merges[i] has rank i. Else one rank per merge, ascending; equal
  // ranks go leftmost first (llama.cpp's SPM joins equal scores so).
  std::vector<int32_t> merge_ranks;
  bool byte_fallback = false;  // characters not in the vocabulary as <0xXX> tokens
  bool fuse_unk = false;       // a run of unknown characters as one unk
  bool ignore_merges = false;  // a piece that is a vocabulary token is taken whole
  int32_t unk_id = -1;         // for unknown characters; -1: they are dropped
  bool operator==(const BpeSpec&) const = default;
};

// A token matched in the raw text before the normalizers (longest first).
struct AddedToken {
  std::string content;  // not empty
  int32_t id = -1;
  bool special = false;      // skipped by decode(skip_special)
  bool lstrip = false;       // swallows the White_Space before it
  bool rstrip = false;       // and after it
  bool single_word = false;  // only where no word character touches it
  bool operator==(const AddedToken&) const = default;
};

struct TokenizerSpec {
  std::filesystem::path origin;  // the file it describes, named in errors
  TokenizerKind kind = TokenizerKind::kByteLevelBpe;
  BpeSpec model;
  std::vector<AddedToken> added_tokens;
  std::vector<NormalizerStep> normalizers;
  std::vector<PreTokenizerStep> pre_tokenizers;
  // nullopt: no decoder, token strings are joined with spaces.
  std::optional<std::vector<DecoderStep>> decoders;
  // Special ids, -1 (or any negative id) when none; unk_id is the one reported
  // (model.unk_id the one the model emits).
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  bool add_bos = false;  // BOS before the ids of encode(text)
  std::string chat_template;
  bool operator==(const TokenizerSpec&) const = default;
};

// Size of the id space: max id + 1 over model.vocab and added_tokens.
size_t id_space(const TokenizerSpec& spec);

// The split regexes of the pre-tokenizer steps in order: a Split's regex (a
// literal as \Q...\E), patterns::kGpt2 for a ByteLevel with use_regex.
std::vector<std::string> split_patterns(const TokenizerSpec& spec);

// The id of token: the first added token with that content, else the
// vocabulary's; -1 when neither has it (a linear search).
int32_t find_token(const TokenizerSpec& spec, std::string_view token);

}  // namespace lieq
