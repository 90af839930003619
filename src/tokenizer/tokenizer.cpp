// The facade: a spec compiled into its stages, and the loaders.
//
// Deliberate differences from the Rust library: added tokens are always
// matched in the raw text (also those marked "normalized"); bytes that do not
// form valid UTF-8 (in the input, or produced by the ByteLevel / ByteFallback
// decoders) are kept as they are instead of becoming U+FFFD; ids outside the
// vocabulary are skipped when decoding, as the library does.
#include "tokenizer/tokenizer.h"

#include <utility>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/decoder.h"
#include "tokenizer/hf_json.h"
#include "tokenizer/patterns.h"
#include "tokenizer/pre_tokenizer.h"
#include "util/error.h"
#include "util/json_file.h"

namespace lieq {

namespace fs = std::filesystem;

struct Tokenizer::Impl {
  explicit Impl(const TokenizerSpec& spec);
  // The ids of one segment between added tokens.
  void encode_segment(std::string_view text, bool at_start, std::vector<int32_t>& out) const;

  fs::path path;
  TokenizerKind kind;
  BpeModel bpe;
  AddedTokens added;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  Decoder decoder;

  // Per id (the id space: max id + 1 over vocabulary and added tokens).
  std::vector<std::string> id_to_token;  // raw spelling (added tokens: content)
  std::vector<TokenType> types;
  std::vector<uint8_t> is_special;

  std::vector<std::string> split_patterns;
  bool add_space_prefix = false;
  bool add_bos = false;
  int32_t bos, eos, unk, pad;
  std::string chat_template;
};

namespace {

// SentencePiece BPE: whether "▁" goes before the text (a Prepend of it, or a
// Metaspace that prepends).
bool puts_space_prefix(const TokenizerSpec& spec) {
  if (spec.kind != TokenizerKind::kSentencePieceBpe) return false;
  for (const NormalizerStep& n : spec.normalizers)
    if (const auto* p = std::get_if<PrependNormalizer>(&n);
        p && p->prefix == patterns::kMetaspaceChar)
      return true;
  for (const PreTokenizerStep& st : spec.pre_tokenizers)
    if (const auto* m = std::get_if<MetaspacePreTokenizer>(&st);
        m && m->prepend_scheme != PrependScheme::kNever)
      return true;
  return false;
}

void check_special_id(const TokenizerSpec& spec, const char* name, int32_t id, size_t n) {
  if (id >= 0 && static_cast<size_t>(id) >= n)
    fail(spec.origin.string(), ": ", name, " ", id, " is outside the id space [0, ", n, ")");
}

}  // namespace

Tokenizer::Impl::Impl(const TokenizerSpec& spec)
    : path(spec.origin),
      kind(spec.kind),
      bpe(spec.model, spec.kind, spec.origin),
      added(spec.added_tokens, spec.origin),
      normalizer(spec.normalizers, spec.origin),
      pre_tokenizer(spec.pre_tokenizers, spec.origin),
      decoder(spec.decoders, spec.origin),
      split_patterns(lieq::split_patterns(spec)),
      add_space_prefix(puts_space_prefix(spec)),
      add_bos(spec.add_bos),
      bos(spec.bos_id),
      eos(spec.eos_id),
      unk(spec.unk_id),
      pad(spec.pad_id),
      chat_template(spec.chat_template) {
  const size_t n = id_space(spec);
  for (const AddedToken& t : spec.added_tokens)
    if (t.id < 0 || t.id > kMaxTokenId)
      fail(spec.origin.string(), ": added token \"", t.content, "\": id ", t.id, " out of range");
  check_special_id(spec, "bos id", bos, n);
  check_special_id(spec, "eos id", eos, n);
  check_special_id(spec, "unk id", unk, n);
  check_special_id(spec, "pad id", pad, n);
  id_to_token.assign(n, std::string());
  types.assign(n, TokenType::kUnused);
  is_special.assign(n, 0);
  for (const auto& [tok, id] : bpe.vocab()) {
    id_to_token[id] = tok;
    types[id] = TokenType::kNormal;
  }
  if (spec.model.byte_fallback)
    for (int b = 0; b < 256; ++b)
      if (const int32_t id = bpe.byte_token(static_cast<uint8_t>(b)); id >= 0)
        types[id] = TokenType::kByte;
  for (const AddedToken& t : spec.added_tokens) {
    id_to_token[t.id] = t.content;
    types[t.id] = t.special ? TokenType::kControl : TokenType::kUserDefined;
    is_special[t.id] = t.special ? 1 : 0;
  }
  if (unk >= 0) types[unk] = TokenType::kUnknown;
}

void Tokenizer::Impl::encode_segment(std::string_view text, bool at_start,
                                     std::vector<int32_t>& out) const {
  if (text.empty()) return;
  auto sink = [&](std::string_view piece, bool) { bpe.encode(piece, out); };
  if (normalizer.empty()) {
    pre_tokenizer.split(text, at_start, sink);
  } else {
    pre_tokenizer.split(normalizer.apply(text), at_start, sink);
  }
}

// ---------------------------------------------------------------------------
// Construction

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_spec(const TokenizerSpec& spec) {
  return Tokenizer(std::make_unique<Impl>(spec));
}

Tokenizer Tokenizer::load(const fs::path& dir) {
  const fs::path tokenizer_json = dir / "tokenizer.json";
  const fs::path config = dir / "tokenizer_config.json";
  std::error_code ec;
  if (!fs::exists(tokenizer_json, ec))
    fail(tokenizer_json.string(), ": no such file (a Hugging Face tokenizer.json is required)");
  return load_files(tokenizer_json, fs::exists(config, ec) ? config : fs::path());
}

Tokenizer Tokenizer::load_files(const fs::path& tokenizer_json,
                                const fs::path& tokenizer_config_json) {
  std::error_code ec;
  if (!fs::exists(tokenizer_json, ec))
    fail(tokenizer_json.string(), ": no such file (a Hugging Face tokenizer.json is required)");
  const json j = read_json_file(tokenizer_json);
  json config;
  if (!tokenizer_config_json.empty()) config = read_json_file(tokenizer_config_json);
  return from_spec(read_hf_tokenizer(j, tokenizer_config_json.empty() ? nullptr : &config,
                                     tokenizer_json, tokenizer_config_json, {}));
}

Tokenizer Tokenizer::from_json(const json& tokenizer_json, const json* tokenizer_config_json,
                               const fs::path& origin, std::span<const int32_t> merge_ranks) {
  return from_spec(
      read_hf_tokenizer(tokenizer_json, tokenizer_config_json, origin, origin, merge_ranks));
}

// ---------------------------------------------------------------------------
// Encoding and decoding

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
  const Impl& im = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && im.bos >= 0) out.push_back(im.bos);
  im.added.split(
      text,
      [&](std::string_view segment, bool at_start) { im.encode_segment(segment, at_start, out); },
      [&](int32_t id) { out.push_back(id); });
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
  return im.decoder.decode(std::move(tokens));
}

// ---------------------------------------------------------------------------
// Properties

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
  return impl_->add_space_prefix;
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
  return impl_->bpe.merges_text();
}

std::string Tokenizer::pre_tokenizer_name() const {
  const auto& p = impl_->split_patterns;
  if (p.size() == 1 && p[0] == patterns::kGpt2) return "gpt-2";
  if (p.size() == 1 && p[0] == patterns::kQwen2) return "qwen2";
  if (p.size() == 1 && p[0] == patterns::kLlama3) return "llama-bpe";
  if (p.size() == 2 && p[0] == patterns::kDigit && p[1] == patterns::kGpt2) return "smollm";
  return "default";
}

std::vector<std::string> Tokenizer::split_patterns_of(std::string_view pre_name) {
  if (pre_name == "gpt-2") return {std::string(patterns::kGpt2)};
  if (pre_name == "qwen2") return {std::string(patterns::kQwen2)};
  if (pre_name == "llama-bpe") return {std::string(patterns::kLlama3)};
  if (pre_name == "smollm") return {std::string(patterns::kDigit), std::string(patterns::kGpt2)};
  return {};
}

const std::vector<std::string>& Tokenizer::split_patterns() const {
  return impl_->split_patterns;
}

}  // namespace lieq
