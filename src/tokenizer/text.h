// Byte-string helpers shared by the tokenizer's stages.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace lieq {

// Replaces every occurrence of from (left to right, not overlapping) by to; a
// no-op for an empty from.
inline void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty() || s.find(from) == std::string::npos) return;
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out.append(to);
  }
  out.append(s, pos);
  s = std::move(out);
}

}  // namespace lieq
