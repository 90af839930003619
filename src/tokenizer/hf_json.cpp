#include "tokenizer/hf_json.h"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "tokenizer/bpe.h"
#include "tokenizer/patterns.h"
#include "tokenizer/regex.h"
#include "util/error.h"
#include "util/json_file.h"

namespace lieq {
namespace {

namespace fs = std::filesystem;

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

SplitBehavior parse_behavior(const std::string& s, const fs::path& file, const std::string& where) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  fail(file.string(), ": ", where, ": unsupported split behavior \"", s, "\"");
}

// tokenizer.json -> spec, section by section (the config afterwards).
class HfReader {
 public:
  HfReader(const fs::path& path, std::span<const int32_t> merge_ranks) : path_(path) {
    spec_.origin = path;
    spec_.model.merge_ranks.assign(merge_ranks.begin(), merge_ranks.end());
  }
  void parse(const json& j);
  void finish(const json& j, const json* config, const fs::path& config_path);
  TokenizerSpec take() { return std::move(spec_); }

 private:
  void parse_model(const json& m);
  void parse_merges(const json& merges);
  void parse_added(const json& a);
  void parse_normalizer(const json& n, const std::string& where);
  void parse_pre_tokenizer(const json& p, const std::string& where);
  void parse_decoder(const json& d, std::vector<DecoderStep>& out, const std::string& where);
  // {"Regex": r} (checked), {"String": s} or "s".
  TextPattern parse_pattern(const json& p, const std::string& where) const;
  // One of the fixed pre-tokenizers (patterns.h).
  void add_regex_split(std::string_view pattern, SplitBehavior behavior, bool invert);

  fs::path path_;
  TokenizerSpec spec_;
};

TextPattern HfReader::parse_pattern(const json& p, const std::string& where) const {
  if (p.is_object() && p.contains("Regex")) {
    TextPattern out{p.at("Regex").get<std::string>(), true};
    Regex::check(out.text, path_, where);
    return out;
  }
  if (p.is_object() && p.contains("String")) return {p.at("String").get<std::string>(), false};
  if (p.is_string()) return {p.get<std::string>(), false};
  fail(path_.string(), ": ", where, ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

void HfReader::parse_model(const json& m) {
  if (!m.is_object()) fail(path_.string(), ": \"model\" must be an object");
  const std::string type = str_or(m, "type", "");
  if (!type.empty() && type != "BPE")
    fail(path_.string(), ": unsupported model type \"", type, "\" (only BPE is supported)");
  if (type.empty() && !m.contains("merges"))
    fail(path_.string(), ": model has no \"type\" and no \"merges\" (only BPE is supported)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (!str_or(m, key, "").empty()) fail(path_.string(), ": model.", key, " is not supported");

  const json* v = member(m, "vocab");
  if (v == nullptr || !v->is_object())
    fail(path_.string(), ": model.vocab must be an object {token: id}");
  BpeSpec& bpe = spec_.model;
  bpe.vocab.reserve(v->size());
  for (const auto& [tok, idj] : v->items()) {
    if (!idj.is_number_integer())
      fail(path_.string(), ": model.vocab[\"", tok, "\"]: id must be an integer");
    const auto id = idj.get<int64_t>();
    if (id < 0 || id > kMaxTokenId)
      fail(path_.string(), ": model.vocab[\"", tok, "\"]: id ", id, " out of range");
    bpe.vocab.push_back({tok, static_cast<int32_t>(id)});
  }

  bpe.byte_fallback = bool_or(m, "byte_fallback", false);
  bpe.fuse_unk = bool_or(m, "fuse_unk", false);
  bpe.ignore_merges = bool_or(m, "ignore_merges", false);
  if (const json* u = member(m, "unk_token")) {
    const std::string unk = u->get<std::string>();
    for (const VocabEntry& e : bpe.vocab)
      if (e.token == unk) {
        bpe.unk_id = e.id;
        break;
      }
  }
  if (const json* mj = member(m, "merges")) {
    parse_merges(*mj);
  } else {
    bpe.merge_ranks.clear();  // ranks of no merges: nothing to rank
  }
}

void HfReader::parse_merges(const json& mj) {
  if (!mj.is_array()) fail(path_.string(), ": model.merges must be an array");
  BpeSpec& bpe = spec_.model;
  if (!bpe.merge_ranks.empty() && bpe.merge_ranks.size() != mj.size())
    fail(path_.string(), ": ", bpe.merge_ranks.size(), " merge ranks for ", mj.size(), " merges");
  bpe.merges.reserve(mj.size());
  // Checked here, not only when the Tokenizer is built, so that a bad merge is
  // reported before the problems of the sections after the model.
  std::unordered_set<std::string_view> tokens;
  tokens.reserve(bpe.vocab.size());
  for (const VocabEntry& e : bpe.vocab) tokens.insert(e.token);
  for (size_t i = 0; i < mj.size(); ++i) {
    const json& e = mj[i];
    if (e.is_string()) {
      const auto s = e.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos)
        fail(path_.string(), ": model.merges[", i, "]: \"", s,
             "\" is not two tokens separated by a space");
      bpe.merges.push_back({s.substr(0, sp), s.substr(sp + 1)});
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      bpe.merges.push_back({e[0].get<std::string>(), e[1].get<std::string>()});
    } else {
      fail(path_.string(), ": model.merges[", i, "]: expected \"a b\" or [\"a\", \"b\"]");
    }
    const auto& [left, right] = bpe.merges.back();
    for (const std::string* part : {&left, &right})
      if (!tokens.contains(*part))
        fail(path_.string(), ": model.merges[", i, "] (\"", left, " ", right, "\"): token \"",
             *part, "\" is not in the vocabulary");
    if (!tokens.contains(left + right))
      fail(path_.string(), ": model.merges[", i, "] (\"", left, " ", right, "\"): merged token \"",
           left + right, "\" is not in the vocabulary");
  }
}

void HfReader::parse_added(const json& a) {
  if (!a.is_array()) fail(path_.string(), ": added_tokens must be an array");
  for (const json& t : a) {
    AddedToken tok;
    if (!t.is_object() || !t.contains("id") || !t.contains("content"))
      fail(path_.string(), ": added_tokens: each entry needs \"id\" and \"content\"");
    const auto id = t.at("id").get<int64_t>();
    tok.content = t.at("content").get<std::string>();
    if (id < 0 || id > kMaxTokenId)
      fail(path_.string(), ": added token \"", tok.content, "\": id ", id, " out of range");
    tok.id = static_cast<int32_t>(id);
    tok.special = bool_or(t, "special", false);
    tok.lstrip = bool_or(t, "lstrip", false);
    tok.rstrip = bool_or(t, "rstrip", false);
    tok.single_word = bool_or(t, "single_word", false);
    if (tok.content.empty()) continue;
    spec_.added_tokens.push_back(std::move(tok));
  }
}

void HfReader::parse_normalizer(const json& n, const std::string& where) {
  if (n.is_null()) return;
  const std::string type = str_or(n, "type", "");
  if (type == "Sequence") {
    const json* seq = member(n, "normalizers");
    if (seq == nullptr || !seq->is_array())
      fail(path_.string(), ": ", where, ": Sequence without \"normalizers\"");
    for (size_t i = 0; i < seq->size(); ++i) parse_normalizer((*seq)[i], cat(where, "[", i, "]"));
    return;
  }
  std::vector<NormalizerStep>& out = spec_.normalizers;
  if (type == "Prepend") {
    out.push_back(PrependNormalizer{n.at("prepend").get<std::string>()});
  } else if (type == "Replace") {
    TextPattern pattern = parse_pattern(n.at("pattern"), where);
    out.push_back(ReplaceNormalizer{std::move(pattern), n.at("content").get<std::string>()});
  } else if (type == "NFC") {
    out.push_back(NfcNormalizer{});
  } else if (type == "NFD") {
    out.push_back(NfdNormalizer{});
  } else if (type == "Strip") {
    out.push_back(StripNormalizer{bool_or(n, "strip_left", true), bool_or(n, "strip_right", true)});
  } else {
    fail(path_.string(), ": ", where, ": unsupported normalizer type \"", type, "\"");
  }
}

void HfReader::add_regex_split(std::string_view pattern, SplitBehavior behavior, bool invert) {
  spec_.pre_tokenizers.push_back(
      SplitPreTokenizer{TextPattern{std::string(pattern), true}, behavior, invert});
}

void HfReader::parse_pre_tokenizer(const json& p, const std::string& where) {
  if (p.is_null()) return;
  const std::string type = str_or(p, "type", "");
  if (type == "Sequence") {
    const json* seq = member(p, "pretokenizers");
    if (seq == nullptr || !seq->is_array())
      fail(path_.string(), ": ", where, ": Sequence without \"pretokenizers\"");
    for (size_t i = 0; i < seq->size(); ++i)
      parse_pre_tokenizer((*seq)[i], cat(where, "[", i, "]"));
    return;
  }
  std::vector<PreTokenizerStep>& out = spec_.pre_tokenizers;
  if (!out.empty() && std::holds_alternative<ByteLevelPreTokenizer>(out.back()))
    fail(path_.string(), ": ", where, ": a \"", type,
         "\" pre-tokenizer after ByteLevel is not supported");
  if (type == "Split") {
    TextPattern pattern = parse_pattern(p.at("pattern"), where);
    const SplitBehavior behavior = parse_behavior(str_or(p, "behavior", "Isolated"), path_, where);
    out.push_back(SplitPreTokenizer{std::move(pattern), behavior, bool_or(p, "invert", false)});
  } else if (type == "ByteLevel") {
    const bool add_prefix_space = bool_or(p, "add_prefix_space", true);
    out.push_back(ByteLevelPreTokenizer{add_prefix_space, bool_or(p, "use_regex", true)});
  } else if (type == "Metaspace") {
    MetaspacePreTokenizer st;
    st.replacement = str_or(p, "replacement", std::string(patterns::kMetaspaceChar));
    if (st.replacement.empty()) fail(path_.string(), ": ", where, ": empty Metaspace replacement");
    if (const json* s = member(p, "prepend_scheme")) {
      const auto scheme = s->get<std::string>();
      if (scheme == "always") {
        st.prepend_scheme = PrependScheme::kAlways;
      } else if (scheme == "first") {
        st.prepend_scheme = PrependScheme::kFirst;
      } else if (scheme == "never") {
        st.prepend_scheme = PrependScheme::kNever;
      } else {
        fail(path_.string(), ": ", where, ": unknown Metaspace prepend_scheme \"", scheme, "\"");
      }
    } else {
      st.prepend_scheme =
          bool_or(p, "add_prefix_space", true) ? PrependScheme::kAlways : PrependScheme::kNever;
    }
    st.split = bool_or(p, "split", true);
    out.push_back(std::move(st));
  } else if (type == "Digits") {
    const bool individual = bool_or(p, "individual_digits", false);
    add_regex_split(individual ? patterns::kDigit : patterns::kDigits, SplitBehavior::kIsolated,
                    false);
  } else if (type == "WhitespaceSplit") {
    add_regex_split(patterns::kWhitespaceSplit, SplitBehavior::kRemoved, false);
  } else if (type == "Whitespace") {
    add_regex_split(patterns::kWhitespace, SplitBehavior::kRemoved, true);
  } else if (type == "Punctuation") {
    add_regex_split(patterns::kPunctuation,
                    parse_behavior(str_or(p, "behavior", "Isolated"), path_, where), false);
  } else {
    fail(path_.string(), ": ", where, ": unsupported pre_tokenizer type \"", type, "\"");
  }
}

void HfReader::parse_decoder(const json& d, std::vector<DecoderStep>& out,
                             const std::string& where) {
  if (d.is_null()) return;
  const std::string type = str_or(d, "type", "");
  if (type == "Sequence") {
    const json* seq = member(d, "decoders");
    if (seq == nullptr || !seq->is_array())
      fail(path_.string(), ": ", where, ": Sequence without \"decoders\"");
    for (size_t i = 0; i < seq->size(); ++i) parse_decoder((*seq)[i], out, cat(where, "[", i, "]"));
    return;
  }
  if (type == "ByteLevel") {
    out.push_back(ByteLevelDecoder{});
  } else if (type == "ByteFallback") {
    out.push_back(ByteFallbackDecoder{});
  } else if (type == "Fuse") {
    out.push_back(FuseDecoder{});
  } else if (type == "Replace") {
    TextPattern pattern = parse_pattern(d.at("pattern"), where);
    out.push_back(ReplaceDecoder{std::move(pattern), d.at("content").get<std::string>()});
  } else if (type == "Strip") {
    StripDecoder st{str_or(d, "content", " "), d.value("start", size_t{0}),
                    d.value("stop", size_t{0})};
    if (st.content.empty()) fail(path_.string(), ": ", where, ": empty Strip content");
    out.push_back(std::move(st));
  } else if (type == "Metaspace") {
    MetaspaceDecoder st{str_or(d, "replacement", std::string(patterns::kMetaspaceChar)), true};
    if (const json* s = member(d, "prepend_scheme")) {
      st.prepend = s->get<std::string>() != "never";
    } else {
      st.prepend = bool_or(d, "add_prefix_space", true);
    }
    out.push_back(std::move(st));
  } else {
    fail(path_.string(), ": ", where, ": unsupported decoder type \"", type, "\"");
  }
}

void HfReader::parse(const json& j) {
  if (!j.is_object()) fail(path_.string(), ": expected a JSON object");
  const json* m = member(j, "model");
  if (m == nullptr) fail(path_.string(), ": missing \"model\"");
  parse_model(*m);
  if (const json* a = member(j, "added_tokens")) parse_added(*a);
  if (const json* n = member(j, "normalizer")) parse_normalizer(*n, "normalizer");
  if (const json* p = member(j, "pre_tokenizer")) parse_pre_tokenizer(*p, "pre_tokenizer");
  if (const json* d = member(j, "decoder")) {
    spec_.decoders.emplace();
    parse_decoder(*d, *spec_.decoders, "decoder");
  }
  const bool byte_level =
      (member(j, "pre_tokenizer") && contains_byte_level(j["pre_tokenizer"], "pretokenizers")) ||
      (member(j, "decoder") && contains_byte_level(j["decoder"], "decoders"));
  spec_.kind = byte_level ? TokenizerKind::kByteLevelBpe : TokenizerKind::kSentencePieceBpe;
}

void HfReader::finish(const json& j, const json* config, const fs::path& config_path) {
  TemplateTokens tmpl;
  if (const json* p = member(j, "post_processor")) find_template(*p, tmpl);
  auto lookup = [&](const std::string& name) { return find_token(spec_, name); };
  auto resolve = [&](const std::string& name, const char* key) {
    const int32_t id = lookup(name);
    if (id < 0)
      fail(config_path.string(), ": ", key, " \"", name, "\" is not in the vocabulary of ",
           path_.string());
    return id;
  };
  int32_t &bos = spec_.bos_id, &eos = spec_.eos_id, &unk = spec_.unk_id;
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
    if (auto s = token_field(*config, "pad_token")) spec_.pad_id = lookup(*s);
    if (const json* t = member(*config, "chat_template")) {
      if (t->is_string()) {
        spec_.chat_template = t->get<std::string>();
      } else if (t->is_array()) {
        for (const json& e : *t)
          if (e.is_object() && e.value("name", "") == "default" && e.contains("template") &&
              e["template"].is_string())
            spec_.chat_template = e["template"].get<std::string>();
      }
    }
  }
  const bool sp = spec_.kind == TokenizerKind::kSentencePieceBpe;
  if (bos < 0 && tmpl.first) bos = tmpl.first_id ? *tmpl.first_id : lookup(*tmpl.first);
  if (eos < 0 && tmpl.last) eos = tmpl.last_id ? *tmpl.last_id : lookup(*tmpl.last);
  if (bos < 0 && sp) bos = lookup("<s>");
  if (eos < 0 && sp) eos = lookup("</s>");
  if (unk < 0) unk = spec_.model.unk_id;
  const auto n = static_cast<int64_t>(id_space(spec_));
  if (bos >= n) bos = -1;
  if (eos >= n) eos = -1;
  spec_.add_bos = cfg_add_bos ? *cfg_add_bos : (tmpl.first ? true : sp);
  if (bos < 0) spec_.add_bos = false;
}

}  // namespace

TokenizerSpec read_hf_tokenizer(const json& tokenizer_json, const json* tokenizer_config_json,
                                const fs::path& tokenizer_path, const fs::path& config_path,
                                std::span<const int32_t> merge_ranks) {
  HfReader reader(tokenizer_path, merge_ranks);
  try {
    reader.parse(tokenizer_json);
  } catch (const json::exception& e) {
    fail(tokenizer_path.string(), ": unexpected tokenizer.json structure: ", e.what());
  }
  try {
    reader.finish(tokenizer_json, tokenizer_config_json, config_path);
  } catch (const json::exception& e) {
    fail(config_path.string(), ": unexpected tokenizer_config.json structure: ", e.what());
  }
  return reader.take();
}

}  // namespace lieq
