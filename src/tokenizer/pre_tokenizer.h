// The text stages before the model, compiled from their spec steps
// (spec.h): the normalizers, applied to each text segment between added
// tokens, and the pre-tokenizer steps that cut a normalized segment into the
// pieces BPE encodes one by one.
//
// Bytes that are not valid UTF-8 never reach a regex: a Replace by regex
// leaves such a text as it is, and a regex split treats each invalid byte as
// a gap between the valid runs it matches in.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/fn_ref.h"
#include "tokenizer/regex.h"
#include "tokenizer/spec.h"

namespace lieq {

class Normalizer {
 public:
  // Throws Error naming origin for an invalid Replace regex.
  Normalizer(const std::vector<NormalizerStep>& steps, const std::filesystem::path& origin);

  bool empty() const { return steps_.empty(); }
  // text through every step in order.
  std::string apply(std::string_view text) const;

 private:
  struct Step {
    NormalizerStep spec;
    std::unique_ptr<const Regex> regex;  // Replace by a regex
  };
  std::vector<Step> steps_;
};

// Receives the pieces in text order; at_start: the piece starts the text
// given to encode (Metaspace's "first" scheme).
using PieceSink = FnRef<void(std::string_view piece, bool at_start)>;

class PreTokenizer {
 public:
  // Throws Error naming origin for an invalid Split regex.
  PreTokenizer(const std::vector<PreTokenizerStep>& steps, const std::filesystem::path& origin);

  // Calls sink for each non-empty piece of text, in order. No steps: text
  // itself is the one piece.
  void split(std::string_view text, bool at_start, PieceSink sink) const {
    run(0, text, at_start, sink);
  }

 private:
  struct Step {
    PreTokenizerStep spec;
    std::unique_ptr<const Regex> regex;  // Split by a regex; ByteLevel with use_regex
  };
  // Step k and the ones after it on text.
  void run(size_t k, std::string_view text, bool at_start, PieceSink sink) const;
  std::vector<Step> steps_;
};

// One split of text by regex (when not null) or else by literal (nothing
// when empty), the matches kept or dropped as behavior says (matches and gaps
// swapped when invert), each non-empty piece passed to sink; a piece is
// at_start when text is and the piece begins it.
void split_text(const Regex* regex, std::string_view literal, SplitBehavior behavior, bool invert,
                std::string_view text, bool at_start, PieceSink sink);

}  // namespace lieq
