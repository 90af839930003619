// Loading any model lieq can run: a Hugging Face directory, a lieq quantized
// directory or a GGUF file, with its tokenizer.
#pragma once

#include <filesystem>

#include "tokenizer/tokenizer.h"
#include "model/weights.h"

namespace lieq {

// opt applies to directories; GGUF files load as before.
Model load_model(const std::filesystem::path& path, const LoadOptions& opt = {});
Tokenizer load_tokenizer(const Model& model);

}  // namespace lieq
