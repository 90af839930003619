#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <vector>

#include "tokenizer/unicode_tables.h"

namespace lieq::unicode {

Utf8Char decode_utf8(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  const Utf8Char invalid{b0, 1, false};
  if (b0 < 0x80) return {b0, 1, true};
  uint32_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1Fu, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0Fu, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07u, min = 0x10000;
  } else {
    return invalid;
  }
  if (i + len > s.size()) return invalid;
  for (uint32_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0u) != 0x80u) return invalid;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return invalid;
  return {cp, len, true};
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Fast path over ASCII, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w = 0;
      for (int k = 0; k < 8; ++k)
        w |= static_cast<uint64_t>(static_cast<uint8_t>(s[i + k])) << (8 * k);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const Utf8Char c = decode_utf8(s, i);
    if (!c.valid) return false;
    i += c.len;
  }
  return true;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t utf8_start_before(std::string_view s, size_t pos, size_t lo) {
  size_t k = pos - 1;
  while (k > lo && (static_cast<uint8_t>(s[k]) & 0xC0) == 0x80 && pos - k < 4) --k;
  return k;
}

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

namespace {

constexpr char32_t kAlphabetEnd = 0x100 + 68;  // the GPT-2 alphabet lies below

struct ByteMaps {
  std::array<char32_t, 256> to_unicode{};
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, kAlphabetEnd> to_byte{};
  ByteMaps() {
    to_byte.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_unicode[b] = printable ? static_cast<char32_t>(b) : next++;
      append_utf8(to_utf8[b], to_unicode[b]);
      to_byte[to_unicode[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteMaps& byte_maps() {
  static const ByteMaps maps;
  return maps;
}

}  // namespace

char32_t byte_to_unicode(uint8_t b) {
  return byte_maps().to_unicode[b];
}

int unicode_to_byte(char32_t cp) {
  return cp < kAlphabetEnd ? byte_maps().to_byte[cp] : -1;
}

std::string bytes_to_gpt2(std::string_view bytes) {
  const auto& m = byte_maps().to_utf8;
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += m[static_cast<uint8_t>(c)];
  return out;
}

// ---------------------------------------------------------------------------
// Normalization forms C and D (UAX #15). Bytes that are not valid UTF-8 are
// carried as the pseudo code points kInvalidBase + byte: class 0, no
// decomposition, no composition.

namespace {

constexpr char32_t kInvalidBase = 0x110000;
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

uint8_t combining_class(char32_t cp) {
  if (cp < 0x300 || cp >= kInvalidBase) return 0;
  const auto* begin = tables::kCccRanges;
  const auto* end = begin + tables::kCccRanges_size;
  const auto* it = std::upper_bound(
      begin, end, cp, [](char32_t v, const tables::CccRange& r) { return v < r.first; });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->ccc : 0;
}

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (cp >= 0xC0 && cp < kInvalidBase) {
    const auto* begin = tables::kDecompositions;
    const auto* end = begin + tables::kDecompositions_size;
    const auto* it = std::lower_bound(
        begin, end, cp, [](const tables::Decomposition& d, char32_t v) { return d.cp < v; });
    if (it != end && it->cp == cp) {
      decompose(it->first, out);
      if (it->second != 0) decompose(it->second, out);
      return;
    }
  }
  out.push_back(cp);
}

// The primary composite of (a, b), or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto* begin = tables::kCompositions;
  const auto* end = begin + tables::kCompositions_size;
  const auto* it =
      std::lower_bound(begin, end, std::pair{a, b},
                       [](const tables::Composition& c, const std::pair<char32_t, char32_t>& v) {
                         return c.first != v.first ? c.first < v.first : c.second < v.second;
                       });
  return (it != end && it->first == a && it->second == b) ? it->cp : 0;
}

std::vector<char32_t> decompose_all(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const Utf8Char c = decode_utf8(s, i);
    if (c.valid) {
      decompose(c.cp, out);
    } else {
      out.push_back(kInvalidBase + c.cp);
    }
    i += c.len;
  }
  // Canonical ordering: stable sort of each run of non-starters by class.
  for (size_t i = 0; i < out.size();) {
    if (combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && combining_class(out[j]) != 0) ++j;
    std::stable_sort(
        out.begin() + static_cast<std::ptrdiff_t>(i), out.begin() + static_cast<std::ptrdiff_t>(j),
        [](char32_t x, char32_t y) { return combining_class(x) < combining_class(y); });
    i = j;
  }
  return out;
}

std::string encode_all(const std::vector<char32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) {
    if (cp >= kInvalidBase) {
      out.push_back(static_cast<char>(cp - kInvalidBase));
    } else {
      append_utf8(out, cp);
    }
  }
  return out;
}

bool nfc_unsafe(char32_t cp) {
  if (cp < 0x300) return false;
  const auto* begin = tables::kNfcUnsafe;
  const auto* end = begin + tables::kNfcUnsafe_size;
  const auto* it = std::upper_bound(
      begin, end, cp, [](char32_t v, const tables::CpRange& r) { return v < r.first; });
  if (it == begin) return false;
  --it;
  return cp <= it->last;
}

}  // namespace

std::string nfd(std::string_view s) {
  bool ascii = true;
  for (char c : s) ascii = ascii && static_cast<uint8_t>(c) < 0x80;
  if (ascii) return std::string(s);
  return encode_all(decompose_all(s));
}

std::string nfc(std::string_view s) {
  bool stable = true;
  for (size_t i = 0; i < s.size() && stable;) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Utf8Char c = decode_utf8(s, i);
    if (c.valid && nfc_unsafe(c.cp)) stable = false;
    i += c.len;
  }
  if (stable) return std::string(s);

  std::vector<char32_t> d = decompose_all(s);
  if (d.empty()) return {};
  std::vector<char32_t> out;
  out.reserve(d.size());
  size_t starter_pos = 0;
  char32_t starter = d[0];
  int last_class = combining_class(starter) == 0 ? 0 : 256;
  out.push_back(starter);
  for (size_t i = 1; i < d.size(); ++i) {
    const char32_t ch = d[i];
    const int ch_class = combining_class(ch);
    const char32_t composite =
        (last_class < ch_class || last_class == 0) ? compose_pair(starter, ch) : 0;
    if (composite != 0) {
      out[starter_pos] = composite;
      starter = composite;
      continue;
    }
    if (ch_class == 0) {
      starter_pos = out.size();
      starter = ch;
    }
    last_class = ch_class;
    out.push_back(ch);
  }
  return encode_all(out);
}

}  // namespace lieq::unicode
