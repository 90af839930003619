// Reads a model directory tensor by tensor: a Hugging Face checkpoint or a lieq
// quantized directory (whose quantized weights are dequantized on load). The
// files stay memory-mapped; a decoder layer is converted to float32 only when
// asked for, so a driver can hold one layer at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/quant_manifest.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/tensor_f32.h"
#include "model/weights.h"

namespace lieq {

class ModelReader {
 public:
  // Throws Error naming the file: missing/malformed config.json, weights, manifest.
  explicit ModelReader(const std::filesystem::path& dir, const LoadOptions& opt = {});

  const std::filesystem::path& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  const TensorStore& store() const { return *store_; }
  bool quantized() const { return manifest_ != nullptr; }
  const QuantManifest* manifest() const { return manifest_.get(); }

  // Float32 tensor under its HF name, checked against the shape the config
  // implies (and, for stored float tensors, config.json's torch_dtype).
  // With LoadOptions::keep_16bit, a stored BF16/F16 matrix stays 16-bit.
  Tensor load(const std::string& name, const std::vector<int64_t>& shape);
  // Embedding rows of n token ids into x [n, hidden] (float32), converting only
  // those rows: the first layer's input without the whole table in float.
  void embed_tokens(const int32_t* ids, int64_t n, float* x);
  // Embedding, final norm and (untied) output head.
  void load_globals(ModelWeights& w);
  LayerWeights load_layer(int layer);
  // Everything: globals and every layer.
  ModelWeights load_all();

  // Stored dtype name of a tensor ("BF16", or "int4 g128 asym" when quantized).
  std::string stored_type(const std::string& name) const;
  // Bits the tensor occupies in the file (codes, scales and zeros included).
  int64_t stored_bits(const std::string& name) const;
  // Dominant stored dtype of the loaded linear weights.
  std::string weight_dtype() const;

 private:
  // A stored float tensor, checked: F32/F16/BF16, config.json's torch_dtype, shape.
  const TensorView& float_view(const std::string& name, const std::vector<int64_t>& shape) const;

  std::filesystem::path dir_;
  LoadOptions opt_;
  ModelConfig config_;
  std::unique_ptr<TensorStore> store_;
  std::unique_ptr<QuantManifest> manifest_;
  std::map<std::string, int64_t> dtype_params_;
};

}  // namespace lieq
