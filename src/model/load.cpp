#include "model/load.h"

#include "util/error.h"

namespace lieq {
namespace fs = std::filesystem;

Model load_model(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path.string(), ": no such file or directory");
  if (fs::is_directory(path, ec)) return load_hf_model(path);
  fail(path.string(), ": not a model directory");
}

Tokenizer load_tokenizer(const Model& model) { return Tokenizer::load(model.path); }

}  // namespace lieq
