// UTF-8 helpers, White_Space, the GPT-2 byte <-> unicode alphabet and NFC/NFD
// for the tokenizers. Text is UTF-8 in std::string; bytes that are not valid
// UTF-8 are carried through unchanged (each as a unit of its own) and never
// throw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lieq::unicode {

// One step of UTF-8 decoding at s[i] (i < s.size()): the code point and the
// byte length of a valid sequence, or {byte value, 1, valid = false} for a
// byte that does not start a valid sequence (overlong forms, surrogates and
// values above U+10FFFF are invalid, as in Rust and PCRE2).
struct Utf8Char {
  char32_t cp;
  uint32_t len;
  bool valid;
};
Utf8Char decode_utf8(std::string_view s, size_t i);

// Whether every byte of s belongs to a valid UTF-8 sequence.
bool is_valid_utf8(std::string_view s);

// Appends the UTF-8 encoding of a code point (cp <= U+10FFFF).
void append_utf8(std::string& out, char32_t cp);

// Where the character that ends at s[pos] may start (lo < pos <= s.size()):
// pos - 1 stepped back over continuation bytes, at most 3 of them and never
// below lo. Whether a valid character of that length is there is the caller's
// check (decode_utf8(s, start).len == pos - start).
size_t utf8_start_before(std::string_view s, size_t pos, size_t lo);

// Rust's char::is_whitespace (the White_Space property).
bool is_white_space(char32_t c);

// GPT-2's reversible byte -> printable code point map: printable bytes
// ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) map to themselves, the other 68 bytes to
// U+0100 + n in byte order.
char32_t byte_to_unicode(uint8_t b);
// The inverse; -1 for a code point outside the alphabet.
int unicode_to_byte(char32_t cp);
// bytes -> GPT-2 alphabet as UTF-8 (what a byte-level vocabulary spells).
std::string bytes_to_gpt2(std::string_view bytes);

// Canonical composition / decomposition (Unicode normalization forms C and D).
std::string nfc(std::string_view s);
std::string nfd(std::string_view s);

}  // namespace lieq::unicode
