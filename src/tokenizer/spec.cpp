#include "tokenizer/spec.h"

#include <algorithm>

#include "tokenizer/patterns.h"

namespace lieq {

size_t id_space(const TokenizerSpec& spec) {
  int64_t max_id = -1;
  for (const VocabEntry& e : spec.model.vocab) max_id = std::max<int64_t>(max_id, e.id);
  for (const AddedToken& t : spec.added_tokens) max_id = std::max<int64_t>(max_id, t.id);
  return static_cast<size_t>(max_id + 1);
}

std::vector<std::string> split_patterns(const TokenizerSpec& spec) {
  std::vector<std::string> out;
  for (const PreTokenizerStep& step : spec.pre_tokenizers) {
    if (const auto* split = std::get_if<SplitPreTokenizer>(&step)) {
      const TextPattern& p = split->pattern;
      out.push_back(p.is_regex ? p.text : "\\Q" + p.text + "\\E");
    } else if (const auto* bl = std::get_if<ByteLevelPreTokenizer>(&step)) {
      if (bl->use_regex) out.emplace_back(patterns::kGpt2);
    }
  }
  return out;
}

int32_t find_token(const TokenizerSpec& spec, std::string_view token) {
  for (const AddedToken& t : spec.added_tokens)
    if (t.content == token) return t.id;
  for (const VocabEntry& e : spec.model.vocab)
    if (e.token == token) return e.id;
  return -1;
}

}  // namespace lieq
