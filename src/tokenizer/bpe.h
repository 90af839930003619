// The BPE model: one pre-tokenized piece -> ids, by merge rank.
//
// Byte-level BPE starts from one symbol per byte (the byte's GPT-2 character
// must be a vocabulary token); SentencePiece style from one symbol per UTF-8
// character, a character outside the vocabulary becoming its <0xXX> byte
// tokens (byte_fallback) or the unk token (a run of them one unk with
// fuse_unk; dropped when there is no unk). Then the adjacent pair of lowest
// merge rank (leftmost on ties) is joined until no pair has a merge, as the
// tokenizers library does. Results of pieces up to kMaxCachedWord bytes are
// cached; encoding is safe from several threads at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/spec.h"

namespace lieq {

// Sanity bound on token ids (also of the readers).
inline constexpr int64_t kMaxTokenId = (int64_t{1} << 26) - 1;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // Throws Error naming origin for an id out of range, a merge whose parts or
  // merged token are not in the vocabulary, or merge_ranks of the wrong length.
  BpeModel(const BpeSpec& spec, TokenizerKind kind, const std::filesystem::path& origin);

  // Appends the ids of word (not empty).
  void encode(std::string_view word, std::vector<int32_t>& out) const;

  // token -> id, in the spec's insertion order (iteration order included).
  const StringMap& vocab() const { return vocab_; }
  // The id of <0xXX> for byte b, -1 when the vocabulary has none.
  int32_t byte_token(uint8_t b) const { return fallback_ids_[b]; }
  // The merges in rank order as "left right".
  const std::vector<std::string>& merges_text() const { return merges_text_; }

 private:
  struct MergeEntry {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  struct Symbol;
  void add_merges(const BpeSpec& spec, const std::filesystem::path& origin);
  void compute(std::string_view word, std::vector<int32_t>& out) const;
  // One symbol per character (byte-level: per byte), with byte fallback and
  // (fused) unk.
  void initial_symbols(std::string_view word, std::vector<Symbol>& sym) const;
  // Joins the pair of lowest rank, leftmost first, until no pair has a merge.
  void merge_symbols(std::vector<Symbol>& sym) const;

  bool byte_level_ = true;
  StringMap vocab_;
  std::unordered_map<uint64_t, MergeEntry> merges_;  // (left, right) -> merge
  std::vector<std::string> merges_text_;
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  int32_t unk_ = -1;
  std::array<int32_t, 256> byte_level_ids_{};  // byte -> id of its GPT-2 character
  std::array<int32_t, 256> fallback_ids_{};    // byte -> id of <0xXX>

  static constexpr size_t kMaxCachedWord = 256;  // bytes
  static constexpr size_t kMaxCacheEntries = size_t{1} << 18;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace lieq
