#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <string>
#include <utility>

#include "tokenizer/patterns.h"
#include "tokenizer/unicode.h"

namespace lieq {

AddedTokens::AddedTokens(std::vector<AddedToken> tokens, const std::filesystem::path& origin)
    : tokens_(std::move(tokens)) {
  for (uint32_t i = 0; i < tokens_.size(); ++i)
    if (!tokens_[i].content.empty())
      by_first_byte_[static_cast<uint8_t>(tokens_[i].content[0])].push_back(i);
  for (auto& v : by_first_byte_)
    std::stable_sort(v.begin(), v.end(), [&](uint32_t x, uint32_t y) {
      return tokens_[x].content.size() > tokens_[y].content.size();
    });
  if (std::any_of(tokens_.begin(), tokens_.end(),
                  [](const AddedToken& t) { return t.single_word; }))
    word_char_ =
        std::make_unique<const Regex>(std::string(patterns::kWordChar), origin, "added_tokens");
}

bool AddedTokens::is_word_char_before(std::string_view s, size_t pos) const {
  if (pos == 0) return false;
  const size_t b = unicode::utf8_start_before(s, pos, 0);
  const unicode::Utf8Char c = unicode::decode_utf8(s, b);
  if (!c.valid || b + c.len != pos) return false;
  return word_char_->matches_whole(s.substr(b, c.len));
}

bool AddedTokens::is_word_char_at(std::string_view s, size_t pos) const {
  if (pos >= s.size()) return false;
  const unicode::Utf8Char c = unicode::decode_utf8(s, pos);
  return c.valid && word_char_->matches_whole(s.substr(pos, c.len));
}

const AddedToken* AddedTokens::match_at(std::string_view s, size_t i) const {
  for (uint32_t c : by_first_byte_[static_cast<uint8_t>(s[i])]) {
    const AddedToken& t = tokens_[c];
    if (s.compare(i, t.content.size(), t.content) != 0) continue;
    if (t.single_word && (is_word_char_before(s, i) || is_word_char_at(s, i + t.content.size())))
      continue;
    return &t;
  }
  return nullptr;
}

void AddedTokens::split(std::string_view s, FnRef<void(std::string_view, bool)> text,
                        FnRef<void(int32_t)> token) const {
  size_t seg = 0;  // start of the pending text segment
  for (size_t i = 0; i < s.size() && !tokens_.empty();) {
    const AddedToken* hit = match_at(s, i);
    if (hit == nullptr) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + hit->content.size();
    if (hit->lstrip) {
      while (start > seg) {
        const size_t k = unicode::utf8_start_before(s, start, seg);
        const auto c = unicode::decode_utf8(s, k);
        if (!c.valid || k + c.len != start || !unicode::is_white_space(c.cp)) break;
        start = k;
      }
    }
    if (hit->rstrip) {
      while (stop < s.size()) {
        const auto c = unicode::decode_utf8(s, stop);
        if (!c.valid || !unicode::is_white_space(c.cp)) break;
        stop += c.len;
      }
    }
    text(s.substr(seg, start - seg), seg == 0);
    token(hit->id);
    seg = i = stop;
  }
  text(s.substr(seg), seg == 0);
}

}  // namespace lieq
