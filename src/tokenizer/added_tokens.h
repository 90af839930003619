// Added tokens (special or not) split out of the raw text before the
// normalizers: the leftmost match wins, the longest token at a position
// first. lstrip / rstrip take the White_Space on that side into the token;
// single_word tokens match only where no word character (Rust's \w) is right
// before or after them. Unlike the tokenizers library, tokens marked
// "normalized" are matched in the raw text too.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "tokenizer/fn_ref.h"
#include "tokenizer/regex.h"
#include "tokenizer/spec.h"

namespace lieq {

class AddedTokens {
 public:
  AddedTokens(std::vector<AddedToken> tokens, const std::filesystem::path& origin);

  // Calls text(segment, at_start) for the text between matches (at_start: the
  // segment starts the whole text; empty segments included) and token(id) for
  // each match, in text order.
  void split(std::string_view s, FnRef<void(std::string_view, bool)> text,
             FnRef<void(int32_t)> token) const;

 private:
  // The token matching at s[i], or null.
  const AddedToken* match_at(std::string_view s, size_t i) const;
  bool is_word_char_before(std::string_view s, size_t pos) const;
  bool is_word_char_at(std::string_view s, size_t pos) const;

  std::vector<AddedToken> tokens_;
  std::array<std::vector<uint32_t>, 256> by_first_byte_;  // indices, longest first
  std::unique_ptr<const Regex> word_char_;                // when a token is single_word
};

}  // namespace lieq
