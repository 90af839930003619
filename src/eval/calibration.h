// Calibration samples: N windows of L tokens cut from a calibration text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace lieq {

struct CalibOptions {
  int64_t n_samples = 128;
  int64_t seqlen = 2048;  // capped by the model's context
  uint64_t seed = 0;
};

struct CalibSet {
  std::vector<int32_t> tokens;  // [n_samples * seqlen], BOS first in each sample when added
  int64_t n_samples = 0, seqlen = 0;
  int64_t text_tokens = 0;      // tokens of the whole text
  std::string warning;          // non-empty when fewer/shorter samples than asked were used
  int64_t rows() const { return n_samples * seqlen; }
};

// Tokenizes `text` once and picks n_samples non-overlapping windows at seeded
// random positions. A text too short for the request gives fewer samples (or
// one shorter sample) and a warning saying what was used; fewer than 2
// tokens is an error. `source` names the text in messages.
CalibSet make_calibration(const Tokenizer& tok, const std::string& text, const CalibOptions& opt,
                          int64_t max_positions, const std::string& source);

}  // namespace lieq
