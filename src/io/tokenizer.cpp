// Hugging Face tokenizer.json BPE tokenizers (byte-level and SentencePiece
// style), following the tokenizers library's pipeline:
//   added tokens split out of the raw text -> normalizer (per remaining
//   segment) -> pre-tokenizer steps (regex splits, ByteLevel, Metaspace) ->
//   BPE by merge rank per word (cached) -> ids.
// Decoding runs the tokenizer.json decoder chain on the token strings.
//
// Deliberate differences from the Rust library: added tokens are always
// matched in the raw text (also those marked "normalized"); bytes that do not
// form valid UTF-8 (in the input, or produced by the ByteLevel / ByteFallback
// decoders) are kept as they are instead of becoming U+FFFD; ids outside the
// vocabulary are skipped when decoding, as the library does.
#include "io/tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <mutex>
#include <optional>
#include <queue>
#include <unordered_map>
#include <utility>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "io/unicode.h"
#include "util/error.h"
#include "util/json_file.h"

namespace lieq {
namespace {

namespace fs = std::filesystem;

// The regexes of the GGUF pre-tokenizer families (as tokenizer.json spells them).
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kDigitPattern = R"(\p{N})";
constexpr std::string_view kDigitsPattern = R"(\p{N}+)";
// The whitespace / punctuation pre-tokenizers of the library as regexes.
constexpr std::string_view kWhitespaceSplitPattern = R"(\s+)";
constexpr std::string_view kWhitespacePattern = R"(\w+|[^\w\s]+)";
constexpr std::string_view kPunctuationPattern = R"([\p{P}!-/:-@\[-`{-~])";
// Rust regex's \w (Alphabetic, marks, decimal digits, connectors, joiners),
// which decides single_word added tokens; PCRE2's \w lacks the marks.
constexpr std::string_view kWordCharPattern = R"([\p{L}\p{Nl}\p{Nd}\p{M}\p{Pc}\x{200C}\x{200D}])";
constexpr std::string_view kMetaspaceChar = "\xE2\x96\x81";  // U+2581 '▁'

constexpr int64_t kMaxTokenId = (int64_t{1} << 26) - 1;  // sanity bound on ids
constexpr size_t kMaxCachedWord = 256;                   // bytes
constexpr size_t kMaxCacheEntries = size_t{1} << 18;

// ---------------------------------------------------------------------------
// PCRE2 regex (UTF + UCP, JIT where available).

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

class Regex {
 public:
  // Throws Error "<file>: <where>: invalid regex ...".
  Regex(std::string pattern, const fs::path& file, const std::string& where)
      : pattern_(std::move(pattern)) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                          PCRE2_UTF | PCRE2_UCP, &err, &offset, nullptr);
    if (code_ == nullptr)
      fail(file.string(), ": ", where, ": invalid regex \"", pattern_, "\": ", pcre2_message(err),
           " at offset ", offset);
    // JIT is an optimisation: the interpreter is used where it is unavailable.
    (void)pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
  }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex() { pcre2_code_free(code_); }

  const std::string& pattern() const { return pattern_; }

  // Calls fn(begin, end) for each non-empty match in s (valid UTF-8), left to
  // right, non-overlapping.
  template <typename Fn>
  void for_each_match(std::string_view s, Fn&& fn) const {
    pcre2_match_data* md = thread_match_data();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    size_t pos = 0;
    while (pos < s.size()) {
      int rc = pcre2_match(code_, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(code_, subject, s.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
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

  // Whether the whole of s (valid UTF-8) matches.
  bool matches_whole(std::string_view s) const {
    pcre2_match_data* md = thread_match_data();
    const int rc =
        pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0,
                    PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED | PCRE2_ENDANCHORED, md, nullptr);
    return rc >= 0;
  }

 private:
  std::string pattern_;
  pcre2_code* code_ = nullptr;
};

// Rust's char::is_whitespace (the White_Space property).
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// A light non-owning callable reference (the pre-tokenizer chain calls one per piece).
template <typename Sig>
class FnRef;
template <typename R, typename... A>
class FnRef<R(A...)> {
 public:
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, FnRef>)
      FnRef(F&& f)  // NOLINT(google-explicit-constructor)
      : obj_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* o, A... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(a...);
        }) {}
  R operator()(A... a) const { return call_(obj_, a...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

using PieceSink = FnRef<void(std::string_view, bool)>;

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

SplitBehavior parse_behavior(const std::string& s, const fs::path& file, const std::string& where) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  fail(file.string(), ": ", where, ": unsupported split behavior \"", s, "\"");
}

enum class PrependScheme { kAlways, kFirst, kNever };

struct Normalizer {
  enum class Kind { kPrepend, kReplace, kNfc, kNfd, kStrip } kind;
  std::string a, b;  // Prepend: a; Replace: literal a (or regex) -> b
  std::shared_ptr<const Regex> regex;
  bool left = false, right = false;
};

struct PreStep {
  enum class Kind { kSplit, kByteLevel, kMetaspace } kind;
  // kSplit: a regex or a literal.
  std::shared_ptr<const Regex> regex;
  std::string literal;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  // kByteLevel
  bool add_prefix_space = false;
  std::shared_ptr<const Regex> byte_level_regex;  // when use_regex
  // kMetaspace
  std::string replacement;
  PrependScheme scheme = PrependScheme::kAlways;
  bool split = true;
};

struct DecodeStep {
  enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace } kind;
  std::string a,
      b;  // Replace: a -> b (a literal, or regex); Strip: a = content; Metaspace: a = replacement
  std::shared_ptr<const Regex> regex;
  size_t start = 0, stop = 0;
  bool prepend = true;  // Metaspace: prepend_scheme != never
};

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false, lstrip = false, rstrip = false, single_word = false;
};

struct MergeEntry {
  int32_t rank;
  int32_t new_id;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

std::string hex_byte_token(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
  return buf;
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
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

std::string regex_replace_all(const Regex& re, std::string_view s, std::string_view to) {
  std::string out;
  size_t pos = 0;
  re.for_each_match(s, [&](size_t b, size_t e) {
    out.append(s.substr(pos, b - pos));
    out.append(to);
    pos = e;
  });
  out.append(s.substr(pos));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------

struct Tokenizer::Impl {
  fs::path path;
  TokenizerKind kind = TokenizerKind::kByteLevelBpe;

  // Vocabulary.
  StringMap vocab;                       // model vocab: token -> id
  std::vector<std::string> id_to_token;  // raw spelling (added tokens: content)
  std::vector<TokenType> types;
  std::vector<uint8_t> is_special;       // per id
  std::vector<std::string> merges_text;  // "left right"
  std::unordered_map<uint64_t, MergeEntry> merges;
  std::vector<int32_t> explicit_ranks;  // from_json's merge_ranks; empty: rank = index
  bool byte_fallback = false;
  bool fuse_unk = false;
  bool ignore_merges = false;
  int32_t model_unk = -1;
  std::array<int32_t, 256> byte_level_ids{};  // byte -> id of its GPT-2 character
  std::array<int32_t, 256> fallback_ids{};    // byte -> id of <0xXX>

  // Added tokens, by first byte, longest first.
  std::vector<AddedToken> added;
  std::array<std::vector<uint32_t>, 256> added_by_byte;
  std::unique_ptr<Regex> word_char;  // \w, for single_word

  std::vector<Normalizer> normalizers;
  std::vector<PreStep> pre_steps;
  std::vector<DecodeStep> decoders;
  bool has_decoder = false;
  std::vector<std::string> split_patterns;

  bool add_bos = false;
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  std::string chat_template;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache;

  // Loading.
  void parse(const json& j);
  void parse_model(const json& m);
  void parse_added(const json& a);
  void parse_normalizer(const json& n, const std::string& where);
  void parse_pre_tokenizer(const json& p, const std::string& where);
  void parse_decoder(const json& d, const std::string& where);
  std::shared_ptr<const Regex> parse_pattern(const json& p, const std::string& where,
                                             std::string* literal);
  void finish(const json& j, const json* config, const fs::path& config_path);
  int32_t lookup(std::string_view token) const;

  // Encoding.
  void encode_segment(std::string_view text, bool at_start, std::vector<int32_t>& out) const;
  void run_steps(size_t k, std::string_view text, bool at_start, PieceSink sink) const;
  void split_step(const Regex* regex, std::string_view literal, SplitBehavior behavior, bool invert,
                  std::string_view text, bool at_start, PieceSink sink) const;
  void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
  void bpe_compute(std::string_view word, std::vector<int32_t>& out) const;
  bool is_word_char_before(std::string_view text, size_t pos) const;
  bool is_word_char_at(std::string_view text, size_t pos) const;
};

// ---------------------------------------------------------------------------
// Loading

namespace {

const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string str_or(const json& j, const char* key, const std::string& fallback) {
  const json* v = member(j, key);
  return v ? v->get<std::string>() : fallback;
}

bool bool_or(const json& j, const char* key, bool fallback) {
  const json* v = member(j, key);
  return v ? v->get<bool>() : fallback;
}

// A special-token field of tokenizer_config.json: "text" or {"content": "text"}.
std::optional<std::string> token_field(const json& j, const char* key) {
  const json* v = member(j, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object() && v->contains("content")) return v->at("content").get<std::string>();
  return std::nullopt;
}

}  // namespace

int32_t Tokenizer::Impl::lookup(std::string_view token) const {
  for (const AddedToken& t : added)
    if (t.content == token) return t.id;
  auto it = vocab.find(token);
  return it == vocab.end() ? -1 : it->second;
}

std::shared_ptr<const Regex> Tokenizer::Impl::parse_pattern(const json& p, const std::string& where,
                                                            std::string* literal) {
  if (p.is_object() && p.contains("Regex"))
    return std::make_shared<const Regex>(p.at("Regex").get<std::string>(), path, where);
  if (p.is_object() && p.contains("String")) {
    *literal = p.at("String").get<std::string>();
    return nullptr;
  }
  if (p.is_string()) {
    *literal = p.get<std::string>();
    return nullptr;
  }
  fail(path.string(), ": ", where, ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

void Tokenizer::Impl::parse_model(const json& m) {
  if (!m.is_object()) fail(path.string(), ": \"model\" must be an object");
  const std::string type = str_or(m, "type", "");
  if (!type.empty() && type != "BPE")
    fail(path.string(), ": unsupported model type \"", type, "\" (only BPE is supported)");
  if (type.empty() && !m.contains("merges"))
    fail(path.string(), ": model has no \"type\" and no \"merges\" (only BPE is supported)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (!str_or(m, key, "").empty()) fail(path.string(), ": model.", key, " is not supported");

  const json* v = member(m, "vocab");
  if (v == nullptr || !v->is_object())
    fail(path.string(), ": model.vocab must be an object {token: id}");
  vocab.reserve(v->size());
  for (const auto& [tok, idj] : v->items()) {
    if (!idj.is_number_integer())
      fail(path.string(), ": model.vocab[\"", tok, "\"]: id must be an integer");
    const auto id = idj.get<int64_t>();
    if (id < 0 || id > kMaxTokenId)
      fail(path.string(), ": model.vocab[\"", tok, "\"]: id ", id, " out of range");
    vocab[tok] = static_cast<int32_t>(id);
  }

  byte_fallback = bool_or(m, "byte_fallback", false);
  fuse_unk = bool_or(m, "fuse_unk", false);
  ignore_merges = bool_or(m, "ignore_merges", false);
  if (const json* u = member(m, "unk_token")) {
    auto it = vocab.find(u->get<std::string>());
    model_unk = it == vocab.end() ? -1 : it->second;
  }

  const json* mj = member(m, "merges");
  if (mj == nullptr) return;
  if (!mj->is_array()) fail(path.string(), ": model.merges must be an array");
  if (!explicit_ranks.empty() && explicit_ranks.size() != mj->size())
    fail(path.string(), ": ", explicit_ranks.size(), " merge ranks for ", mj->size(), " merges");
  merges_text.reserve(mj->size());
  merges.reserve(mj->size() * 2);
  int32_t rank = 0;  // index into model.merges
  for (const json& e : *mj) {
    std::string left, right;
    if (e.is_string()) {
      const auto s = e.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos)
        fail(path.string(), ": model.merges[", rank, "]: \"", s,
             "\" is not two tokens separated by a space");
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      left = e[0].get<std::string>();
      right = e[1].get<std::string>();
    } else {
      fail(path.string(), ": model.merges[", rank, "]: expected \"a b\" or [\"a\", \"b\"]");
    }
    auto il = vocab.find(left), ir = vocab.find(right), im = vocab.find(left + right);
    for (const auto& [it, name] : {std::pair{il, &left}, std::pair{ir, &right}})
      if (it == vocab.end())
        fail(path.string(), ": model.merges[", rank, "] (\"", left, " ", right, "\"): token \"",
             *name, "\" is not in the vocabulary");
    if (im == vocab.end())
      fail(path.string(), ": model.merges[", rank, "] (\"", left, " ", right,
           "\"): merged token \"", left + right, "\" is not in the vocabulary");
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(il->second)) << 32) |
                         static_cast<uint32_t>(ir->second);
    const int32_t merge_rank = explicit_ranks.empty() ? rank : explicit_ranks[rank];
    merges.insert_or_assign(
        key, MergeEntry{merge_rank, im->second});  // a later duplicate wins, as in the library
    merges_text.push_back(left + " " + right);
    ++rank;
  }
}

void Tokenizer::Impl::parse_added(const json& a) {
  if (!a.is_array()) fail(path.string(), ": added_tokens must be an array");
  for (const json& t : a) {
    AddedToken tok;
    if (!t.is_object() || !t.contains("id") || !t.contains("content"))
      fail(path.string(), ": added_tokens: each entry needs \"id\" and \"content\"");
    const auto id = t.at("id").get<int64_t>();
    tok.content = t.at("content").get<std::string>();
    if (id < 0 || id > kMaxTokenId)
      fail(path.string(), ": added token \"", tok.content, "\": id ", id, " out of range");
    tok.id = static_cast<int32_t>(id);
    tok.special = bool_or(t, "special", false);
    tok.lstrip = bool_or(t, "lstrip", false);
    tok.rstrip = bool_or(t, "rstrip", false);
    tok.single_word = bool_or(t, "single_word", false);
    if (tok.content.empty()) continue;
    added.push_back(std::move(tok));
  }
  for (uint32_t i = 0; i < added.size(); ++i)
    added_by_byte[static_cast<uint8_t>(added[i].content[0])].push_back(i);
  for (auto& v : added_by_byte)
    std::stable_sort(v.begin(), v.end(), [&](uint32_t x, uint32_t y) {
      return added[x].content.size() > added[y].content.size();
    });
  if (std::any_of(added.begin(), added.end(), [](const AddedToken& t) { return t.single_word; }))
    word_char = std::make_unique<Regex>(std::string(kWordCharPattern), path, "added_tokens");
}

void Tokenizer::Impl::parse_normalizer(const json& n, const std::string& where) {
  if (n.is_null()) return;
  const std::string type = str_or(n, "type", "");
  if (type == "Sequence") {
    const json* seq = member(n, "normalizers");
    if (seq == nullptr || !seq->is_array())
      fail(path.string(), ": ", where, ": Sequence without \"normalizers\"");
    for (size_t i = 0; i < seq->size(); ++i) parse_normalizer((*seq)[i], cat(where, "[", i, "]"));
    return;
  }
  Normalizer norm{};
  if (type == "Prepend") {
    norm.kind = Normalizer::Kind::kPrepend;
    norm.a = n.at("prepend").get<std::string>();
  } else if (type == "Replace") {
    norm.kind = Normalizer::Kind::kReplace;
    norm.regex = parse_pattern(n.at("pattern"), where, &norm.a);
    norm.b = n.at("content").get<std::string>();
  } else if (type == "NFC") {
    norm.kind = Normalizer::Kind::kNfc;
  } else if (type == "NFD") {
    norm.kind = Normalizer::Kind::kNfd;
  } else if (type == "Strip") {
    norm.kind = Normalizer::Kind::kStrip;
    norm.left = bool_or(n, "strip_left", true);
    norm.right = bool_or(n, "strip_right", true);
  } else {
    fail(path.string(), ": ", where, ": unsupported normalizer type \"", type, "\"");
  }
  normalizers.push_back(std::move(norm));
}

void Tokenizer::Impl::parse_pre_tokenizer(const json& p, const std::string& where) {
  if (p.is_null()) return;
  const std::string type = str_or(p, "type", "");
  if (type == "Sequence") {
    const json* seq = member(p, "pretokenizers");
    if (seq == nullptr || !seq->is_array())
      fail(path.string(), ": ", where, ": Sequence without \"pretokenizers\"");
    for (size_t i = 0; i < seq->size(); ++i)
      parse_pre_tokenizer((*seq)[i], cat(where, "[", i, "]"));
    return;
  }
  if (!pre_steps.empty() && pre_steps.back().kind == PreStep::Kind::kByteLevel)
    fail(path.string(), ": ", where, ": a \"", type,
         "\" pre-tokenizer after ByteLevel is not supported");
  PreStep st{};
  auto regex_split = [&](std::string_view pattern, SplitBehavior behavior, bool invert) {
    st.kind = PreStep::Kind::kSplit;
    st.regex = std::make_shared<const Regex>(std::string(pattern), path, where);
    st.behavior = behavior;
    st.invert = invert;
    split_patterns.emplace_back(pattern);
  };
  if (type == "Split") {
    st.kind = PreStep::Kind::kSplit;
    st.regex = parse_pattern(p.at("pattern"), where, &st.literal);
    st.behavior = parse_behavior(str_or(p, "behavior", "Isolated"), path, where);
    st.invert = bool_or(p, "invert", false);
    if (st.regex) {
      split_patterns.push_back(st.regex->pattern());
    } else {
      std::string quoted = "\\Q" + st.literal + "\\E";
      split_patterns.push_back(quoted);
    }
  } else if (type == "ByteLevel") {
    st.kind = PreStep::Kind::kByteLevel;
    st.add_prefix_space = bool_or(p, "add_prefix_space", true);
    if (bool_or(p, "use_regex", true)) {
      st.byte_level_regex = std::make_shared<const Regex>(std::string(kGpt2Pattern), path, where);
      split_patterns.emplace_back(kGpt2Pattern);
    }
  } else if (type == "Metaspace") {
    st.kind = PreStep::Kind::kMetaspace;
    st.replacement = str_or(p, "replacement", std::string(kMetaspaceChar));
    if (st.replacement.empty()) fail(path.string(), ": ", where, ": empty Metaspace replacement");
    if (const json* s = member(p, "prepend_scheme")) {
      const auto scheme = s->get<std::string>();
      if (scheme == "always") {
        st.scheme = PrependScheme::kAlways;
      } else if (scheme == "first") {
        st.scheme = PrependScheme::kFirst;
      } else if (scheme == "never") {
        st.scheme = PrependScheme::kNever;
      } else {
        fail(path.string(), ": ", where, ": unknown Metaspace prepend_scheme \"", scheme, "\"");
      }
    } else {
      st.scheme =
          bool_or(p, "add_prefix_space", true) ? PrependScheme::kAlways : PrependScheme::kNever;
    }
    st.split = bool_or(p, "split", true);
  } else if (type == "Digits") {
    const bool individual = bool_or(p, "individual_digits", false);
    regex_split(individual ? kDigitPattern : kDigitsPattern, SplitBehavior::kIsolated, false);
  } else if (type == "WhitespaceSplit") {
    regex_split(kWhitespaceSplitPattern, SplitBehavior::kRemoved, false);
  } else if (type == "Whitespace") {
    regex_split(kWhitespacePattern, SplitBehavior::kRemoved, true);
  } else if (type == "Punctuation") {
    regex_split(kPunctuationPattern, parse_behavior(str_or(p, "behavior", "Isolated"), path, where),
                false);
  } else {
    fail(path.string(), ": ", where, ": unsupported pre_tokenizer type \"", type, "\"");
  }
  pre_steps.push_back(std::move(st));
}

void Tokenizer::Impl::parse_decoder(const json& d, const std::string& where) {
  if (d.is_null()) return;
  has_decoder = true;
  const std::string type = str_or(d, "type", "");
  if (type == "Sequence") {
    const json* seq = member(d, "decoders");
    if (seq == nullptr || !seq->is_array())
      fail(path.string(), ": ", where, ": Sequence without \"decoders\"");
    for (size_t i = 0; i < seq->size(); ++i) parse_decoder((*seq)[i], cat(where, "[", i, "]"));
    return;
  }
  DecodeStep st{};
  if (type == "ByteLevel") {
    st.kind = DecodeStep::Kind::kByteLevel;
  } else if (type == "ByteFallback") {
    st.kind = DecodeStep::Kind::kByteFallback;
  } else if (type == "Fuse") {
    st.kind = DecodeStep::Kind::kFuse;
  } else if (type == "Replace") {
    st.kind = DecodeStep::Kind::kReplace;
    st.regex = parse_pattern(d.at("pattern"), where, &st.a);
    st.b = d.at("content").get<std::string>();
  } else if (type == "Strip") {
    st.kind = DecodeStep::Kind::kStrip;
    st.a = str_or(d, "content", " ");
    st.start = d.value("start", size_t{0});
    st.stop = d.value("stop", size_t{0});
    if (st.a.empty()) fail(path.string(), ": ", where, ": empty Strip content");
  } else if (type == "Metaspace") {
    st.kind = DecodeStep::Kind::kMetaspace;
    st.a = str_or(d, "replacement", std::string(kMetaspaceChar));
    if (const json* s = member(d, "prepend_scheme")) {
      st.prepend = s->get<std::string>() != "never";
    } else {
      st.prepend = bool_or(d, "add_prefix_space", true);
    }
  } else {
    fail(path.string(), ": ", where, ": unsupported decoder type \"", type, "\"");
  }
  decoders.push_back(std::move(st));
}

namespace {

// The special tokens a post_processor puts before / after a single sequence.
struct TemplateTokens {
  std::optional<std::string> first, last;
  std::optional<int32_t> first_id, last_id;
};

void find_template(const json& p, TemplateTokens& out) {
  if (!p.is_object()) return;
  const std::string type = p.value("type", "");
  if (type == "Sequence" && p.contains("processors") && p["processors"].is_array()) {
    for (const json& q : p["processors"]) find_template(q, out);
  } else if (type == "TemplateProcessing" && p.contains("single") && p["single"].is_array()) {
    const json& single = p["single"];
    auto special = [&](const json& item, std::optional<std::string>& name,
                       std::optional<int32_t>& id) {
      if (!item.is_object() || !item.contains("SpecialToken")) return;
      name = item["SpecialToken"].at("id").get<std::string>();
      const json* st = member(p, "special_tokens");
      if (st && st->contains(*name)) {
        const json& e = (*st)[*name];
        if (e.contains("ids") && e["ids"].is_array() && !e["ids"].empty())
          id = e["ids"][0].get<int32_t>();
      }
    };
    if (!single.empty()) {
      special(single.front(), out.first, out.first_id);
      if (single.size() > 1) special(single.back(), out.last, out.last_id);
    }
  } else if ((type == "RobertaProcessing" || type == "BertProcessing") && p.contains("cls") &&
             p["cls"].is_array() && p["cls"].size() == 2) {
    out.first = p["cls"][0].get<std::string>();
    out.first_id = p["cls"][1].get<int32_t>();
    if (p.contains("sep") && p["sep"].is_array() && p["sep"].size() == 2) {
      out.last = p["sep"][0].get<std::string>();
      out.last_id = p["sep"][1].get<int32_t>();
    }
  }
}

bool contains_byte_level(const json& j, const char* seq_key) {
  if (!j.is_object()) return false;
  const std::string type = j.value("type", "");
  if (type == "ByteLevel") return true;
  if (type == "Sequence" && j.contains(seq_key) && j[seq_key].is_array())
    for (const json& e : j[seq_key])
      if (contains_byte_level(e, seq_key)) return true;
  return false;
}

}  // namespace

void Tokenizer::Impl::parse(const json& j) {
  if (!j.is_object()) fail(path.string(), ": expected a JSON object");
  const json* m = member(j, "model");
  if (m == nullptr) fail(path.string(), ": missing \"model\"");
  parse_model(*m);
  if (const json* a = member(j, "added_tokens")) parse_added(*a);
  if (const json* n = member(j, "normalizer")) parse_normalizer(*n, "normalizer");
  if (const json* p = member(j, "pre_tokenizer")) parse_pre_tokenizer(*p, "pre_tokenizer");
  if (const json* d = member(j, "decoder")) parse_decoder(*d, "decoder");

  const bool byte_level =
      (member(j, "pre_tokenizer") && contains_byte_level(j["pre_tokenizer"], "pretokenizers")) ||
      (member(j, "decoder") && contains_byte_level(j["decoder"], "decoders"));
  kind = byte_level ? TokenizerKind::kByteLevelBpe : TokenizerKind::kSentencePieceBpe;

  for (int b = 0; b < 256; ++b) {
    std::string ch;
    unicode::append_utf8(ch, unicode::byte_to_unicode(static_cast<uint8_t>(b)));
    auto it = vocab.find(ch);
    byte_level_ids[b] = it == vocab.end() ? -1 : it->second;
    auto fb = vocab.find(hex_byte_token(static_cast<uint8_t>(b)));
    fallback_ids[b] = fb == vocab.end() ? -1 : fb->second;
  }

  // The id space.
  int64_t max_id = -1;
  for (const auto& [tok, id] : vocab) max_id = std::max<int64_t>(max_id, id);
  for (const AddedToken& t : added) max_id = std::max<int64_t>(max_id, t.id);
  const auto n = static_cast<size_t>(max_id + 1);
  id_to_token.assign(n, std::string());
  types.assign(n, TokenType::kUnused);
  is_special.assign(n, 0);
  for (const auto& [tok, id] : vocab) {
    id_to_token[id] = tok;
    types[id] = TokenType::kNormal;
  }
  if (byte_fallback)
    for (int32_t id : fallback_ids)
      if (id >= 0) types[id] = TokenType::kByte;
  for (const AddedToken& t : added) {
    id_to_token[t.id] = t.content;
    types[t.id] = t.special ? TokenType::kControl : TokenType::kUserDefined;
    is_special[t.id] = t.special ? 1 : 0;
  }
}

void Tokenizer::Impl::finish(const json& j, const json* config, const fs::path& config_path) {
  TemplateTokens tmpl;
  if (const json* p = member(j, "post_processor")) find_template(*p, tmpl);
  auto resolve = [&](const std::string& name, const char* key) {
    const int32_t id = lookup(name);
    if (id < 0)
      fail(config_path.string(), ": ", key, " \"", name, "\" is not in the vocabulary of ",
           path.string());
    return id;
  };
  std::optional<bool> cfg_add_bos;
  if (config != nullptr) {
    if (!config->is_object()) fail(config_path.string(), ": expected a JSON object");
    if (const json* v = member(*config, "add_bos_token")) {
      if (!v->is_boolean()) fail(config_path.string(), ": add_bos_token must be true or false");
      cfg_add_bos = v->get<bool>();
    }
    if (auto s = token_field(*config, "bos_token")) bos = resolve(*s, "bos_token");
    if (auto s = token_field(*config, "eos_token")) eos = resolve(*s, "eos_token");
    if (auto s = token_field(*config, "unk_token")) unk = resolve(*s, "unk_token");
    // pad_token is only reported (GGUF export): one outside the vocabulary is ignored.
    if (auto s = token_field(*config, "pad_token")) pad = lookup(*s);
    if (const json* t = member(*config, "chat_template")) {
      if (t->is_string()) {
        chat_template = t->get<std::string>();
      } else if (t->is_array()) {
        for (const json& e : *t)
          if (e.is_object() && e.value("name", "") == "default" && e.contains("template") &&
              e["template"].is_string())
            chat_template = e["template"].get<std::string>();
      }
    }
  }
  const bool sp = kind == TokenizerKind::kSentencePieceBpe;
  if (bos < 0 && tmpl.first) bos = tmpl.first_id ? *tmpl.first_id : lookup(*tmpl.first);
  if (eos < 0 && tmpl.last) eos = tmpl.last_id ? *tmpl.last_id : lookup(*tmpl.last);
  if (bos < 0 && sp) bos = lookup("<s>");
  if (eos < 0 && sp) eos = lookup("</s>");
  if (unk < 0) unk = model_unk;
  if (bos >= static_cast<int32_t>(id_to_token.size())) bos = -1;
  if (eos >= static_cast<int32_t>(id_to_token.size())) eos = -1;
  if (unk >= 0 && unk < static_cast<int32_t>(types.size())) types[unk] = TokenType::kUnknown;
  add_bos = cfg_add_bos ? *cfg_add_bos : (tmpl.first ? true : sp);
  if (bos < 0) add_bos = false;
}

// ---------------------------------------------------------------------------
// Encoding

bool Tokenizer::Impl::is_word_char_before(std::string_view text, size_t pos) const {
  if (pos == 0) return false;
  size_t b = pos - 1;
  while (b > 0 && (static_cast<uint8_t>(text[b]) & 0xC0) == 0x80 && pos - b < 4) --b;
  const unicode::Utf8Char c = unicode::decode_utf8(text, b);
  if (!c.valid || b + c.len != pos) return false;
  return word_char->matches_whole(text.substr(b, c.len));
}

bool Tokenizer::Impl::is_word_char_at(std::string_view text, size_t pos) const {
  if (pos >= text.size()) return false;
  const unicode::Utf8Char c = unicode::decode_utf8(text, pos);
  return c.valid && word_char->matches_whole(text.substr(pos, c.len));
}

void Tokenizer::Impl::encode_segment(std::string_view text, bool at_start,
                                     std::vector<int32_t>& out) const {
  if (text.empty()) return;
  auto sink = [&](std::string_view word, bool) { bpe_word(word, out); };
  if (normalizers.empty()) {
    run_steps(0, text, at_start, sink);
    return;
  }
  std::string s(text);
  for (const Normalizer& n : normalizers) {
    switch (n.kind) {
      case Normalizer::Kind::kPrepend:
        if (!s.empty()) s.insert(0, n.a);
        break;
      case Normalizer::Kind::kReplace:
        if (n.regex) {
          if (unicode::is_valid_utf8(s)) s = regex_replace_all(*n.regex, s, n.b);
        } else {
          replace_all(s, n.a, n.b);
        }
        break;
      case Normalizer::Kind::kNfc:
        s = unicode::nfc(s);
        break;
      case Normalizer::Kind::kNfd:
        s = unicode::nfd(s);
        break;
      case Normalizer::Kind::kStrip: {
        size_t b = 0, e = s.size();
        if (n.left) {
          while (b < e) {
            const auto c = unicode::decode_utf8(s, b);
            if (!c.valid || !is_white_space(c.cp)) break;
            b += c.len;
          }
        }
        if (n.right) {
          while (e > b) {
            size_t k = e - 1;
            while (k > b && (static_cast<uint8_t>(s[k]) & 0xC0) == 0x80 && e - k < 4) --k;
            const auto c = unicode::decode_utf8(s, k);
            if (!c.valid || k + c.len != e || !is_white_space(c.cp)) break;
            e = k;
          }
        }
        s = s.substr(b, e - b);
        break;
      }
    }
  }
  run_steps(0, s, at_start, sink);
}

void Tokenizer::Impl::run_steps(size_t k, std::string_view text, bool at_start,
                                PieceSink sink) const {
  if (text.empty()) return;
  if (k == pre_steps.size()) {
    sink(text, at_start);
    return;
  }
  const PreStep& st = pre_steps[k];
  auto next = [&](std::string_view piece, bool first) { run_steps(k + 1, piece, first, sink); };
  switch (st.kind) {
    case PreStep::Kind::kSplit:
      split_step(st.regex.get(), st.literal, st.behavior, st.invert, text, at_start, next);
      return;
    case PreStep::Kind::kByteLevel: {
      std::string prefixed;
      std::string_view t = text;
      if (st.add_prefix_space && text.front() != ' ') {
        prefixed.reserve(text.size() + 1);
        prefixed.push_back(' ');
        prefixed.append(text);
        t = prefixed;
      }
      if (st.byte_level_regex) {
        split_step(st.byte_level_regex.get(), {}, SplitBehavior::kIsolated, false, t, at_start,
                   next);
      } else {
        next(t, at_start);
      }
      return;
    }
    case PreStep::Kind::kMetaspace: {
      std::string s(text);
      replace_all(s, " ", st.replacement);
      const bool prepend =
          st.scheme == PrependScheme::kAlways || (st.scheme == PrependScheme::kFirst && at_start);
      if (prepend && !starts_with(s, st.replacement)) s.insert(0, st.replacement);
      if (st.split) {
        split_step(nullptr, st.replacement, SplitBehavior::kMergedWithNext, false, s, at_start,
                   next);
      } else {
        next(s, at_start);
      }
      return;
    }
  }
}

void Tokenizer::Impl::split_step(const Regex* regex, std::string_view literal,
                                 SplitBehavior behavior, bool invert, std::string_view text,
                                 bool at_start, PieceSink sink) const {
  // The pieces of text: matches and the gaps between them, in order.
  struct Part {
    size_t b, e;
    bool match;
  };
  std::vector<Part> parts;
  auto add = [&](size_t b, size_t e, bool match) {
    if (e <= b) return;
    if (!match && !parts.empty() && !parts.back().match && parts.back().e == b) {
      parts.back().e = e;  // gaps are maximal
    } else {
      parts.push_back({b, e, match});
    }
  };
  auto scan = [&](std::string_view run, size_t base) {
    size_t prev = 0;
    if (regex != nullptr) {
      regex->for_each_match(run, [&](size_t b, size_t e) {
        add(base + prev, base + b, false);
        add(base + b, base + e, true);
        prev = e;
      });
    } else if (!literal.empty()) {
      for (size_t hit; (hit = run.find(literal, prev)) != std::string_view::npos;) {
        add(base + prev, base + hit, false);
        add(base + hit, base + hit + literal.size(), true);
        prev = hit + literal.size();
      }
    }
    add(base + prev, base + run.size(), false);
  };
  if (regex == nullptr || unicode::is_valid_utf8(text)) {
    scan(text, 0);
  } else {
    // Invalid bytes never reach PCRE2: they are gap bytes between valid runs.
    size_t run_start = 0;
    for (size_t i = 0; i < text.size();) {
      const unicode::Utf8Char c = unicode::decode_utf8(text, i);
      if (c.valid) {
        i += c.len;
        continue;
      }
      scan(text.substr(run_start, i - run_start), run_start);
      add(i, i + 1, false);
      run_start = ++i;
    }
    scan(text.substr(run_start), run_start);
  }
  if (invert)
    for (Part& p : parts) p.match = !p.match;

  // The library's SplitDelimiterBehavior (a flag "previous was a match").
  std::vector<std::pair<size_t, size_t>> out;
  out.reserve(parts.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Part& p : parts) out.emplace_back(p.b, p.e);
      break;
    case SplitBehavior::kRemoved:
      for (const Part& p : parts)
        if (!p.match) out.emplace_back(p.b, p.e);
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (const Part& p : parts) {
        if (p.match && !prev_match && !out.empty()) {
          out.back().second = p.e;
        } else {
          out.emplace_back(p.b, p.e);
        }
        prev_match = p.match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev_match = false;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->match && !prev_match && !out.empty()) {
          out.back().first = it->b;
        } else {
          out.emplace_back(it->b, it->e);
        }
        prev_match = it->match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool prev_match = false;
      for (const Part& p : parts) {
        if (p.match == prev_match && !out.empty()) {
          out.back().second = p.e;
        } else {
          out.emplace_back(p.b, p.e);
        }
        prev_match = p.match;
      }
      break;
    }
  }
  for (const auto& [b, e] : out)
    if (e > b) sink(text.substr(b, e - b), at_start && b == 0);
}

void Tokenizer::Impl::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  const bool cacheable = word.size() <= kMaxCachedWord;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto it = cache.find(word);
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out.size();
  bpe_compute(word, out);
  if (cacheable) {
    std::vector<int32_t> ids(out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (cache.size() >= kMaxCacheEntries) cache.clear();
    cache.emplace(std::string(word), std::move(ids));
  }
}

void Tokenizer::Impl::bpe_compute(std::string_view word, std::vector<int32_t>& out) const {
  const bool byte_level = kind == TokenizerKind::kByteLevelBpe;
  if (ignore_merges) {
    const std::string key = byte_level ? unicode::bytes_to_gpt2(word) : std::string(word);
    auto it = vocab.find(key);
    if (it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }

  struct Symbol {
    int32_t id;
    int32_t prev, next;
    uint32_t len;  // bytes; 0 = merged away
  };
  std::vector<Symbol> sym;
  sym.reserve(word.size());
  auto push = [&](int32_t id, uint32_t len) {
    const auto i = static_cast<int32_t>(sym.size());
    sym.push_back({id, i - 1, i + 1, len});
  };

  // Initial symbols: one per character (byte-level: per byte), with the
  // library's byte fallback and (fused) unk handling.
  int32_t pending_unk_len = 0;
  bool pending_unk = false;
  for (size_t i = 0; i < word.size();) {
    uint32_t len = 1;
    int32_t id = -1;
    if (byte_level) {
      id = byte_level_ids[static_cast<uint8_t>(word[i])];
    } else {
      len = unicode::decode_utf8(word, i).len;
      auto it = vocab.find(word.substr(i, len));
      if (it != vocab.end()) id = it->second;
    }
    if (id >= 0) {
      if (pending_unk) push(model_unk, static_cast<uint32_t>(pending_unk_len)), pending_unk = false;
      push(id, len);
    } else {
      bool done = false;
      if (byte_fallback) {
        bool all = true;
        for (uint32_t k = 0; k < len; ++k)
          all = all && fallback_ids[static_cast<uint8_t>(word[i + k])] >= 0;
        if (all) {
          for (uint32_t k = 0; k < len; ++k)
            push(fallback_ids[static_cast<uint8_t>(word[i + k])], 1);
          done = true;
        }
      }
      if (!done && model_unk >= 0) {
        if (pending_unk && fuse_unk) {
          pending_unk_len += static_cast<int32_t>(len);
        } else {
          if (pending_unk) push(model_unk, static_cast<uint32_t>(pending_unk_len));
          pending_unk = true;
          pending_unk_len = static_cast<int32_t>(len);
        }
      }
    }
    i += len;
  }
  if (pending_unk) push(model_unk, static_cast<uint32_t>(pending_unk_len));
  if (sym.empty()) return;
  sym.back().next = -1;

  if (sym.size() > 1 && !merges.empty()) {
    struct Cand {
      int32_t rank, pos, new_id;
      bool operator<(const Cand& o) const {  // max-heap order: lowest rank, then leftmost, on top
        return rank != o.rank ? rank > o.rank : pos > o.pos;
      }
    };
    auto find_merge = [&](int32_t a, int32_t b) -> const MergeEntry* {
      auto it = merges.find((static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) |
                            static_cast<uint32_t>(b));
      return it == merges.end() ? nullptr : &it->second;
    };
    std::vector<Cand> heap_storage;
    heap_storage.reserve(sym.size());
    std::priority_queue<Cand> heap(std::less<Cand>(), std::move(heap_storage));
    for (size_t i = 0; i + 1 < sym.size(); ++i)
      if (const MergeEntry* m = find_merge(sym[i].id, sym[i + 1].id))
        heap.push({m->rank, static_cast<int32_t>(i), m->new_id});
    while (!heap.empty()) {
      const Cand top = heap.top();
      heap.pop();
      Symbol& cur = sym[top.pos];
      if (cur.len == 0 || cur.next < 0) continue;
      const int32_t right_pos = cur.next;
      const Symbol right = sym[right_pos];
      const MergeEntry* m = find_merge(cur.id, right.id);
      if (m == nullptr || m->new_id != top.new_id) continue;  // stale entry
      cur.id = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      sym[right_pos].len = 0;
      if (right.next >= 0) sym[right.next].prev = top.pos;
      if (cur.prev >= 0)
        if (const MergeEntry* pm = find_merge(sym[cur.prev].id, cur.id))
          heap.push({pm->rank, cur.prev, pm->new_id});
      if (cur.next >= 0)
        if (const MergeEntry* nm = find_merge(cur.id, sym[cur.next].id))
          heap.push({nm->rank, top.pos, nm->new_id});
    }
  }
  for (const Symbol& s : sym)
    if (s.len != 0) out.push_back(s.id);
}

// ---------------------------------------------------------------------------
// Public interface

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const fs::path& dir) {
  const fs::path tokenizer_json = dir / "tokenizer.json";
  const fs::path config = dir / "tokenizer_config.json";
  std::error_code ec;
  if (!fs::exists(tokenizer_json, ec))
    fail(tokenizer_json.string(), ": no such file (a Hugging Face tokenizer.json is required)");
  return load_files(tokenizer_json, fs::exists(config, ec) ? config : fs::path());
}

Tokenizer Tokenizer::make(const json& j, const json* config, const fs::path& tokenizer_path,
                          const fs::path& config_path, std::span<const int32_t> merge_ranks) {
  auto impl = std::make_unique<Impl>();
  impl->path = tokenizer_path;
  impl->explicit_ranks.assign(merge_ranks.begin(), merge_ranks.end());
  try {
    impl->parse(j);
  } catch (const json::exception& e) {
    fail(tokenizer_path.string(), ": unexpected tokenizer.json structure: ", e.what());
  }
  try {
    impl->finish(j, config, config_path);
  } catch (const json::exception& e) {
    fail(config_path.string(), ": unexpected tokenizer_config.json structure: ", e.what());
  }
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::load_files(const fs::path& tokenizer_json,
                                const fs::path& tokenizer_config_json) {
  std::error_code ec;
  if (!fs::exists(tokenizer_json, ec))
    fail(tokenizer_json.string(), ": no such file (a Hugging Face tokenizer.json is required)");
  const json j = read_json_file(tokenizer_json);
  json config;
  if (!tokenizer_config_json.empty()) config = read_json_file(tokenizer_config_json);
  return make(j, tokenizer_config_json.empty() ? nullptr : &config, tokenizer_json,
              tokenizer_config_json, {});
}

Tokenizer Tokenizer::from_json(const json& tokenizer_json, const json* tokenizer_config_json,
                               const fs::path& origin, std::span<const int32_t> merge_ranks) {
  return make(tokenizer_json, tokenizer_config_json, origin, origin, merge_ranks);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
  const Impl& im = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && im.bos >= 0) out.push_back(im.bos);

  if (im.added.empty()) {
    im.encode_segment(text, true, out);
    return out;
  }
  // Split out the added tokens: leftmost match, longest first at a position.
  size_t seg = 0;  // start of the pending text segment
  for (size_t i = 0; i < text.size();) {
    const auto& cands = im.added_by_byte[static_cast<uint8_t>(text[i])];
    const AddedToken* hit = nullptr;
    for (uint32_t c : cands) {
      const AddedToken& t = im.added[c];
      if (text.compare(i, t.content.size(), t.content) != 0) continue;
      if (t.single_word &&
          (im.is_word_char_before(text, i) || im.is_word_char_at(text, i + t.content.size())))
        continue;
      hit = &t;
      break;
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + hit->content.size();
    if (hit->lstrip) {
      while (start > seg) {
        size_t k = start - 1;
        while (k > seg && (static_cast<uint8_t>(text[k]) & 0xC0) == 0x80 && start - k < 4) --k;
        const auto c = unicode::decode_utf8(text, k);
        if (!c.valid || k + c.len != start || !is_white_space(c.cp)) break;
        start = k;
      }
    }
    if (hit->rstrip) {
      while (stop < text.size()) {
        const auto c = unicode::decode_utf8(text, stop);
        if (!c.valid || !is_white_space(c.cp)) break;
        stop += c.len;
      }
    }
    im.encode_segment(text.substr(seg, start - seg), seg == 0, out);
    out.push_back(hit->id);
    seg = i = stop;
  }
  im.encode_segment(text.substr(seg), seg == 0, out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  const Impl& im = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= im.id_to_token.size()) continue;
    if (im.types[id] == TokenType::kUnused) continue;
    if (skip_special && im.is_special[id]) continue;
    tokens.push_back(im.id_to_token[id]);
  }
  if (!im.has_decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out.push_back(' ');
      out += tokens[i];
    }
    return out;
  }
  for (const DecodeStep& st : im.decoders) {
    switch (st.kind) {
      case DecodeStep::Kind::kByteLevel: {
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
        break;
      }
      case DecodeStep::Kind::kReplace:
        for (std::string& t : tokens) {
          if (st.regex) {
            if (unicode::is_valid_utf8(t)) t = regex_replace_all(*st.regex, t, st.b);
          } else {
            replace_all(t, st.a, st.b);
          }
        }
        break;
      case DecodeStep::Kind::kByteFallback: {
        std::vector<std::string> next;
        next.reserve(tokens.size());
        std::string bytes;
        bool in_bytes = false;
        auto hexval = [](char c) -> int {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          return -1;
        };
        for (std::string& t : tokens) {
          int v = -1;
          if (t.size() == 6 && starts_with(t, "<0x") && t[5] == '>') {
            const int hi = hexval(t[3]), lo = hexval(t[4]);
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
        break;
      }
      case DecodeStep::Kind::kFuse: {
        std::string all;
        for (const std::string& t : tokens) all += t;
        tokens.assign(1, std::move(all));
        break;
      }
      case DecodeStep::Kind::kStrip:
        for (std::string& t : tokens) {
          size_t b = 0, e = t.size();
          for (size_t k = 0; k < st.start && t.compare(b, st.a.size(), st.a) == 0 && b < e; ++k)
            b += st.a.size();
          for (size_t k = 0; k < st.stop && e >= b + st.a.size() &&
                             t.compare(e - st.a.size(), st.a.size(), st.a) == 0;
               ++k)
            e -= st.a.size();
          t = t.substr(b, e - b);
        }
        break;
      case DecodeStep::Kind::kMetaspace:
        for (size_t i = 0; i < tokens.size(); ++i) {
          if (i == 0 && st.prepend) {
            replace_all(tokens[i], st.a, "");
          } else {
            replace_all(tokens[i], st.a, " ");
          }
        }
        break;
    }
  }
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

TokenizerKind Tokenizer::kind() const {
  return impl_->kind;
}

std::string Tokenizer::kind_name() const {
  return impl_->kind == TokenizerKind::kByteLevelBpe ? "byte-level BPE" : "SentencePiece BPE";
}

int32_t Tokenizer::vocab_size() const {
  return static_cast<int32_t>(impl_->id_to_token.size());
}
bool Tokenizer::add_bos() const {
  return impl_->add_bos;
}
int32_t Tokenizer::bos_id() const {
  return impl_->bos;
}
int32_t Tokenizer::eos_id() const {
  return impl_->eos;
}
int32_t Tokenizer::unk_id() const {
  return impl_->unk;
}
int32_t Tokenizer::pad_id() const {
  return impl_->pad;
}
bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->is_special.size() && impl_->is_special[id];
}
bool Tokenizer::add_space_prefix() const {
  if (impl_->kind != TokenizerKind::kSentencePieceBpe) return false;
  for (const Normalizer& n : impl_->normalizers)
    if (n.kind == Normalizer::Kind::kPrepend && n.a == kMetaspaceChar) return true;
  for (const PreStep& st : impl_->pre_steps)
    if (st.kind == PreStep::Kind::kMetaspace && st.scheme != PrependScheme::kNever) return true;
  return false;
}
const std::string& Tokenizer::chat_template() const {
  return impl_->chat_template;
}

const std::string& Tokenizer::token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->id_to_token.size())
    fail(impl_->path.string(), ": token id ", id, " out of range [0, ", impl_->id_to_token.size(),
         ")");
  return impl_->id_to_token[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->types.size())
    fail(impl_->path.string(), ": token id ", id, " out of range [0, ", impl_->types.size(), ")");
  return impl_->types[id];
}

const std::vector<std::string>& Tokenizer::merges() const {
  return impl_->merges_text;
}

std::string Tokenizer::pre_tokenizer_name() const {
  const auto& p = impl_->split_patterns;
  if (p.size() == 1 && p[0] == kGpt2Pattern) return "gpt-2";
  if (p.size() == 1 && p[0] == kQwen2Pattern) return "qwen2";
  if (p.size() == 1 && p[0] == kLlama3Pattern) return "llama-bpe";
  if (p.size() == 2 && p[0] == kDigitPattern && p[1] == kGpt2Pattern) return "smollm";
  return "default";
}

std::vector<std::string> Tokenizer::split_patterns_of(std::string_view pre_name) {
  if (pre_name == "gpt-2") return {std::string(kGpt2Pattern)};
  if (pre_name == "qwen2") return {std::string(kQwen2Pattern)};
  if (pre_name == "llama-bpe") return {std::string(kLlama3Pattern)};
  if (pre_name == "smollm") return {std::string(kDigitPattern), std::string(kGpt2Pattern)};
  return {};
}

const std::vector<std::string>& Tokenizer::split_patterns() const {
  return impl_->split_patterns;
}

}  // namespace lieq
