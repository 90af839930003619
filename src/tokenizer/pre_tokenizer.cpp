#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "tokenizer/patterns.h"
#include "tokenizer/text.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace lieq {
namespace {

// The span of s left after the White_Space at its start (left) and end (right).
std::string strip_white_space(const std::string& s, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e) {
      const auto c = unicode::decode_utf8(s, b);
      if (!c.valid || !unicode::is_white_space(c.cp)) break;
      b += c.len;
    }
  }
  if (right) {
    while (e > b) {
      const size_t k = unicode::utf8_start_before(s, e, b);
      const auto c = unicode::decode_utf8(s, k);
      if (!c.valid || k + c.len != e || !unicode::is_white_space(c.cp)) break;
      e = k;
    }
  }
  return s.substr(b, e - b);
}

// A piece of the text being split: a match of the delimiter or a gap.
struct Part {
  size_t b, e;
  bool match;
};

// The matches of regex (or literal) in text and the maximal gaps between
// them, in order. Invalid UTF-8 bytes are gap bytes between the valid runs
// the regex scans.
std::vector<Part> find_parts(const Regex* regex, std::string_view literal, std::string_view text) {
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
    return parts;
  }
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
  return parts;
}

// The pieces [begin, end) the parts make under behavior: the library's
// SplitDelimiterBehavior (a flag "previous was a match").
std::vector<std::pair<size_t, size_t>> join_parts(const std::vector<Part>& parts,
                                                  SplitBehavior behavior) {
  std::vector<std::pair<size_t, size_t>> out;
  out.reserve(parts.size());
  bool prev_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Part& p : parts) out.emplace_back(p.b, p.e);
      break;
    case SplitBehavior::kRemoved:
      for (const Part& p : parts)
        if (!p.match) out.emplace_back(p.b, p.e);
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Part& p : parts) {
        if (p.match && !prev_match && !out.empty()) {
          out.back().second = p.e;
        } else {
          out.emplace_back(p.b, p.e);
        }
        prev_match = p.match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
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
    case SplitBehavior::kContiguous:
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
  return out;
}

std::unique_ptr<const Regex> compile_pattern(const TextPattern& p,
                                             const std::filesystem::path& origin,
                                             const std::string& where) {
  if (!p.is_regex) return nullptr;
  return std::make_unique<const Regex>(p.text, origin, where);
}

}  // namespace

void split_text(const Regex* regex, std::string_view literal, SplitBehavior behavior, bool invert,
                std::string_view text, bool at_start, PieceSink sink) {
  std::vector<Part> parts = find_parts(regex, literal, text);
  if (invert)
    for (Part& p : parts) p.match = !p.match;
  for (const auto& [b, e] : join_parts(parts, behavior))
    if (e > b) sink(text.substr(b, e - b), at_start && b == 0);
}

// ---------------------------------------------------------------------------

Normalizer::Normalizer(const std::vector<NormalizerStep>& steps,
                       const std::filesystem::path& origin) {
  for (size_t i = 0; i < steps.size(); ++i) {
    std::unique_ptr<const Regex> regex;
    if (const auto* r = std::get_if<ReplaceNormalizer>(&steps[i]))
      regex = compile_pattern(r->pattern, origin, cat("normalizers[", i, "]"));
    steps_.push_back({steps[i], std::move(regex)});
  }
}

std::string Normalizer::apply(std::string_view text) const {
  std::string s(text);
  for (const Step& step : steps_) {
    std::visit(
        [&](const auto& n) {
          using T = std::decay_t<decltype(n)>;
          if constexpr (std::is_same_v<T, PrependNormalizer>) {
            if (!s.empty()) s.insert(0, n.prefix);
          } else if constexpr (std::is_same_v<T, ReplaceNormalizer>) {
            if (step.regex) {
              if (unicode::is_valid_utf8(s)) s = step.regex->replace_all(s, n.content);
            } else {
              replace_all(s, n.pattern.text, n.content);
            }
          } else if constexpr (std::is_same_v<T, NfcNormalizer>) {
            s = unicode::nfc(s);
          } else if constexpr (std::is_same_v<T, NfdNormalizer>) {
            s = unicode::nfd(s);
          } else {
            static_assert(std::is_same_v<T, StripNormalizer>);
            s = strip_white_space(s, n.left, n.right);
          }
        },
        step.spec);
  }
  return s;
}

// ---------------------------------------------------------------------------

PreTokenizer::PreTokenizer(const std::vector<PreTokenizerStep>& steps,
                           const std::filesystem::path& origin) {
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string where = cat("pre_tokenizers[", i, "]");
    std::unique_ptr<const Regex> regex;
    if (const auto* split = std::get_if<SplitPreTokenizer>(&steps[i])) {
      regex = compile_pattern(split->pattern, origin, where);
    } else if (const auto* bl = std::get_if<ByteLevelPreTokenizer>(&steps[i])) {
      if (bl->use_regex)
        regex = std::make_unique<const Regex>(std::string(patterns::kGpt2), origin, where);
    }
    steps_.push_back({steps[i], std::move(regex)});
  }
}

void PreTokenizer::run(size_t k, std::string_view text, bool at_start, PieceSink sink) const {
  if (text.empty()) return;
  if (k == steps_.size()) {
    sink(text, at_start);
    return;
  }
  const Step& step = steps_[k];
  auto next = [&](std::string_view piece, bool first) { run(k + 1, piece, first, sink); };
  if (const auto* split = std::get_if<SplitPreTokenizer>(&step.spec)) {
    const std::string_view literal = step.regex ? std::string_view() : split->pattern.text;
    split_text(step.regex.get(), literal, split->behavior, split->invert, text, at_start, next);
  } else if (const auto* bl = std::get_if<ByteLevelPreTokenizer>(&step.spec)) {
    std::string prefixed;
    std::string_view t = text;
    if (bl->add_prefix_space && text.front() != ' ') {
      prefixed.reserve(text.size() + 1);
      prefixed.push_back(' ');
      prefixed.append(text);
      t = prefixed;
    }
    if (step.regex) {
      split_text(step.regex.get(), {}, SplitBehavior::kIsolated, false, t, at_start, next);
    } else {
      next(t, at_start);
    }
  } else {
    const auto& meta = std::get<MetaspacePreTokenizer>(step.spec);
    std::string s(text);
    replace_all(s, " ", meta.replacement);
    const bool prepend = meta.prepend_scheme == PrependScheme::kAlways ||
                         (meta.prepend_scheme == PrependScheme::kFirst && at_start);
    if (prepend && !std::string_view(s).starts_with(meta.replacement))
      s.insert(0, meta.replacement);
    if (meta.split) {
      split_text(nullptr, meta.replacement, SplitBehavior::kMergedWithNext, false, s, at_start,
                 next);
    } else {
      next(s, at_start);
    }
  }
}

}  // namespace lieq
