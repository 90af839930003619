#include "tokenizer/decoder.h"

#include <type_traits>
#include <utility>

#include "tokenizer/text.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace lieq {
namespace {

using Tokens = std::vector<std::string>;

// A token whose characters are all in the GPT-2 alphabet becomes their bytes;
// any other is kept as it is.
void byte_level(Tokens& tokens) {
  std::string all;
  for (const std::string& t : tokens) {
    std::string bytes;
    bool ok = true;
    for (size_t i = 0; i < t.size() && ok;) {
      const auto c = unicode::decode_utf8(t, i);
      const int b = c.valid ? unicode::unicode_to_byte(c.cp) : -1;
      if (b < 0)
        ok = false;
      else
        bytes.push_back(static_cast<char>(b));
      i += c.len;
    }
    all += ok ? bytes : t;
  }
  tokens.assign(1, std::move(all));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Each run of "<0xXX>" tokens becomes one token of those bytes.
void byte_fallback(Tokens& tokens) {
  Tokens next;
  next.reserve(tokens.size());
  std::string bytes;
  bool in_bytes = false;
  for (std::string& t : tokens) {
    int v = -1;
    if (t.size() == 6 && t.starts_with("<0x") && t[5] == '>') {
      const int hi = hex_value(t[3]), lo = hex_value(t[4]);
      if (hi >= 0 && lo >= 0) v = hi * 16 + lo;
    }
    if (v >= 0) {
      bytes.push_back(static_cast<char>(v));
      in_bytes = true;
      continue;
    }
    if (in_bytes) next.push_back(std::move(bytes)), bytes.clear(), in_bytes = false;
    next.push_back(std::move(t));
  }
  if (in_bytes) next.push_back(std::move(bytes));
  tokens = std::move(next);
}

void strip(Tokens& tokens, const StripDecoder& st) {
  const std::string& c = st.content;
  for (std::string& t : tokens) {
    size_t b = 0, e = t.size();
    for (size_t k = 0; k < st.start && t.compare(b, c.size(), c) == 0 && b < e; ++k) b += c.size();
    for (size_t k = 0;
         k < st.stop && e >= b + c.size() && t.compare(e - c.size(), c.size(), c) == 0; ++k)
      e -= c.size();
    t = t.substr(b, e - b);
  }
}

}  // namespace

Decoder::Decoder(const std::optional<std::vector<DecoderStep>>& steps,
                 const std::filesystem::path& origin)
    : has_decoder_(steps.has_value()) {
  if (!steps) return;
  for (size_t i = 0; i < steps->size(); ++i) {
    const DecoderStep& step = (*steps)[i];
    std::unique_ptr<const Regex> regex;
    if (const auto* r = std::get_if<ReplaceDecoder>(&step); r && r->pattern.is_regex)
      regex = std::make_unique<const Regex>(r->pattern.text, origin, cat("decoders[", i, "]"));
    steps_.push_back({step, std::move(regex)});
  }
}

std::string Decoder::decode(Tokens tokens) const {
  std::string out;
  if (!has_decoder_) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out.push_back(' ');
      out += tokens[i];
    }
    return out;
  }
  for (const Step& step : steps_) {
    std::visit(
        [&](const auto& d) {
          using T = std::decay_t<decltype(d)>;
          if constexpr (std::is_same_v<T, ByteLevelDecoder>) {
            byte_level(tokens);
          } else if constexpr (std::is_same_v<T, ReplaceDecoder>) {
            for (std::string& t : tokens) {
              if (step.regex) {
                if (unicode::is_valid_utf8(t)) t = step.regex->replace_all(t, d.content);
              } else {
                replace_all(t, d.pattern.text, d.content);
              }
            }
          } else if constexpr (std::is_same_v<T, ByteFallbackDecoder>) {
            byte_fallback(tokens);
          } else if constexpr (std::is_same_v<T, FuseDecoder>) {
            std::string all;
            for (const std::string& t : tokens) all += t;
            tokens.assign(1, std::move(all));
          } else if constexpr (std::is_same_v<T, StripDecoder>) {
            strip(tokens, d);
          } else {
            static_assert(std::is_same_v<T, MetaspaceDecoder>);
            for (size_t i = 0; i < tokens.size(); ++i)
              replace_all(tokens[i], d.replacement, i == 0 && d.prepend ? "" : " ");
          }
        },
        step.spec);
  }
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace lieq
