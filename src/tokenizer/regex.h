// The tokenizer's regexes: PCRE2 with UTF and UCP (\p{L}, \s, \w by Unicode
// properties, as the tokenizers library's Rust regexes), JIT-compiled where
// the platform has it. Subjects must be valid UTF-8 (callers check: matching
// skips PCRE2's own check).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/fn_ref.h"

namespace lieq {

class Regex {
 public:
  // Throws Error "<file>: <where>: invalid regex "<pattern>": <reason> at offset N".
  Regex(std::string pattern, const std::filesystem::path& file, const std::string& where);
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex();

  // Compiles pattern only to check it; throws as the constructor does.
  static void check(const std::string& pattern, const std::filesystem::path& file,
                    const std::string& where);

  const std::string& pattern() const { return pattern_; }

  // Calls fn(begin, end) for each non-empty match in s, left to right,
  // non-overlapping (after an empty match the search resumes one character on).
  void for_each_match(std::string_view s, FnRef<void(size_t, size_t)> fn) const;

  // Whether the whole of s matches.
  bool matches_whole(std::string_view s) const;

  // s with every match replaced by to.
  std::string replace_all(std::string_view s, std::string_view to) const;

 private:
  struct Code;
  std::string pattern_;
  std::unique_ptr<Code> code_;
};

}  // namespace lieq
