// Helpers shared by the pipeline tests: a small calibration set from the
// TinyStories excerpt and uniform quantization options.
#pragma once

#include <filesystem>

#include "eval/calibration.h"
#include "model/reader.h"
#include "pipeline/options.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/mapped_file.h"

namespace lieq::testing {

inline CalibSet small_calib(const std::filesystem::path& model_dir, int64_t n, int64_t len) {
  const auto data = shared_data("tinystories/valid-excerpt.txt");
  const Tokenizer tok = Tokenizer::load(model_dir);
  return make_calibration(tok, read_text_file(data), {n, len, 0}, 4096, "tinystories");
}

inline QuantizeOptions uniform(const ModelReader& r, QuantMethod m, QuantSpec s) {
  QuantizeOptions o;
  o.method = m;
  o.layer_specs.assign(size_t(r.config().n_layers), s);
  o.progress = false;
  return o;
}

}  // namespace lieq::testing
