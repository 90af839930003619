// The decoder chain (spec.h's DecoderStep), compiled: token strings -> text.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/spec.h"

namespace lieq {

class Decoder {
 public:
  // steps nullopt: no decoder (tokens joined with spaces). Throws Error naming
  // origin for an invalid Replace regex.
  Decoder(const std::optional<std::vector<DecoderStep>>& steps,
          const std::filesystem::path& origin);

  // The text of tokens after every step in order. Bytes that are not valid
  // UTF-8 (in the tokens, or made by ByteLevel / ByteFallback) are kept as
  // they are, not replaced by U+FFFD.
  std::string decode(std::vector<std::string> tokens) const;

 private:
  struct Step {
    DecoderStep spec;
    std::unique_ptr<const Regex> regex;  // Replace by a regex
  };
  bool has_decoder_ = false;
  std::vector<Step> steps_;
};

}  // namespace lieq
