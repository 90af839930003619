#include "tokenizer/regex.h"

#include <algorithm>
#include <new>
#include <utility>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace lieq {
namespace {

// One match data block per thread (16 pairs: the patterns have few groups;
// only the whole match is read).
struct MatchData {
  pcre2_match_data* md = pcre2_match_data_create(16, nullptr);
  MatchData() = default;
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
  ~MatchData() { pcre2_match_data_free(md); }
};

pcre2_match_data* thread_match_data() {
  thread_local MatchData data;
  if (data.md == nullptr) throw std::bad_alloc();
  return data.md;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  const int n = pcre2_get_error_message(code, buf, sizeof(buf));
  if (n < 0) return cat("PCRE2 error ", code);
  return std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

pcre2_code* compile(const std::string& pattern, const std::filesystem::path& file,
                    const std::string& where) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &offset, nullptr);
  if (code == nullptr)
    fail(file.string(), ": ", where, ": invalid regex \"", pattern, "\": ", pcre2_message(err),
         " at offset ", offset);
  return code;
}

}  // namespace

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

Regex::Regex(std::string pattern, const std::filesystem::path& file, const std::string& where)
    : pattern_(std::move(pattern)), code_(std::make_unique<Code>()) {
  code_->code = compile(pattern_, file, where);
  // JIT is an optimisation: the interpreter is used where it is unavailable.
  (void)pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;

void Regex::check(const std::string& pattern, const std::filesystem::path& file,
                  const std::string& where) {
  pcre2_code_free(compile(pattern, file, where));
}

void Regex::for_each_match(std::string_view s, FnRef<void(size_t, size_t)> fn) const {
  pcre2_match_data* md = thread_match_data();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  while (pos < s.size()) {
    int rc = pcre2_match(code_->code, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(code_->code, subject, s.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                       nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("tokenizer regex \"", pattern_, "\": match failed: ", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (e <= b || b < pos) {  // empty match: step over one character
      const size_t at = std::max(b, pos);
      if (at >= s.size()) break;
      pos = at + unicode::decode_utf8(s, at).len;
      continue;
    }
    fn(b, e);
    pos = e;
  }
}

bool Regex::matches_whole(std::string_view s) const {
  pcre2_match_data* md = thread_match_data();
  const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0,
                             PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED | PCRE2_ENDANCHORED, md, nullptr);
  return rc >= 0;
}

std::string Regex::replace_all(std::string_view s, std::string_view to) const {
  std::string out;
  size_t pos = 0;
  for_each_match(s, [&](size_t b, size_t e) {
    out.append(s.substr(pos, b - pos));
    out.append(to);
    pos = e;
  });
  out.append(s.substr(pos));
  return out;
}

}  // namespace lieq
