// UTF-8, the GPT-2 byte alphabet and NFC/NFD used by the tokenizers.
#include <string>

#include <gtest/gtest.h>

#include "tokenizer/unicode.h"

namespace lieq::unicode {
namespace {

TEST(TokenizerUnicode, DecodeUtf8) {
  const std::string s = "a\xC3\xA9\xE2\x96\x81\xF0\x9F\x98\x80";
  EXPECT_EQ(decode_utf8(s, 0).cp, U'a');
  EXPECT_EQ(decode_utf8(s, 1).cp, U'\u00E9');
  EXPECT_EQ(decode_utf8(s, 1).len, 2u);
  EXPECT_EQ(decode_utf8(s, 3).cp, U'\u2581');
  EXPECT_EQ(decode_utf8(s, 6).cp, U'\U0001F600');
  EXPECT_EQ(decode_utf8(s, 6).len, 4u);
  EXPECT_TRUE(is_valid_utf8(s));
  // Invalid: a lone continuation, overlong, surrogate, above U+10FFFF, truncated.
  for (const std::string bad :
       {"\x80", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x96"}) {
    EXPECT_FALSE(decode_utf8(bad, 0).valid) << bad;
    EXPECT_EQ(decode_utf8(bad, 0).len, 1u);
    EXPECT_FALSE(is_valid_utf8("abcdefghij" + bad));
  }
  std::string out;
  for (char32_t cp : {U'a', U'\u00E9', U'\u2581', U'\U0001F600'}) append_utf8(out, cp);
  EXPECT_EQ(out, s);
}

TEST(TokenizerUnicode, Gpt2ByteAlphabet) {
  EXPECT_EQ(byte_to_unicode('A'), U'A');
  EXPECT_EQ(byte_to_unicode(' '), U'\u0120');   // 'Ġ'
  EXPECT_EQ(byte_to_unicode('\n'), U'\u010A');  // 'Ċ'
  EXPECT_EQ(byte_to_unicode(0), U'\u0100');
  EXPECT_EQ(byte_to_unicode(0xAD), U'\u0143');
  EXPECT_EQ(byte_to_unicode(0xFF), U'\u00FF');
  for (int b = 0; b < 256; ++b)
    EXPECT_EQ(unicode_to_byte(byte_to_unicode(static_cast<uint8_t>(b))), b);
  EXPECT_EQ(unicode_to_byte(U' '), -1);
  EXPECT_EQ(unicode_to_byte(U'\u0144'), -1);
  EXPECT_EQ(bytes_to_gpt2(" hi\n"), "\xC4\xA0hi\xC4\x8A");
}

TEST(TokenizerUnicode, NormalizationForms) {
  EXPECT_EQ(nfc("cafe\xCC\x81"), "caf\xC3\xA9");  // e + U+0301 -> U+00E9
  EXPECT_EQ(nfd("caf\xC3\xA9"), "cafe\xCC\x81");
  EXPECT_EQ(nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");  // jamo G A G -> U+AC01
  EXPECT_EQ(nfd("\xEA\xB0\x81"), "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8");
  // Canonical order: cedilla (class 202) before acute (230); then composition.
  EXPECT_EQ(nfd("x\xCC\x81\xCC\xA7"), "x\xCC\xA7\xCC\x81");
  EXPECT_EQ(nfc("c\xCC\x81\xCC\xA7"), "\xE1\xB8\x89");  // U+1E09
  // Singletons and exclusions: U+212B ANGSTROM SIGN -> U+00C5; U+0958 stays decomposed.
  EXPECT_EQ(nfc("\xE2\x84\xAB"), "\xC3\x85");
  EXPECT_EQ(nfc("\xE0\xA5\x98"), "\xE0\xA4\x95\xE0\xA4\xBC");
  // A leading combining mark stays; invalid bytes pass through.
  EXPECT_EQ(nfc("\xCC\x81"
                "a"),
            "\xCC\x81"
            "a");
  EXPECT_EQ(nfc("e\xFF\xCC\x81"), "e\xFF\xCC\x81");
}

}  // namespace
}  // namespace lieq::unicode
