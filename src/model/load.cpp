#include "model/load.h"

#include "io/gguf.h"
#include "tokenizer/gguf_tokenizer.h"
#include "model/gguf_model.h"
#include "util/error.h"

namespace lieq {
namespace fs = std::filesystem;

Model load_model(const fs::path& path, const LoadOptions& opt) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path.string(), ": no such file or directory");
  if (fs::is_directory(path, ec)) return load_hf_model(path, opt);
  if (is_gguf_file(path)) return load_gguf_model(path, opt);
  fail(path.string(), ": neither a model directory nor a GGUF file");
}

Tokenizer load_tokenizer(const Model& model) {
  if (model.format == ModelFormat::kGguf) return tokenizer_from_gguf(GgufReader(model.path));
  return Tokenizer::load(model.path);
}

}  // namespace lieq
