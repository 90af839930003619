// Model weights in float32, and loading them from a Hugging Face directory.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/arch.h"
#include "model/config.h"

namespace lieq {

// A dense float32 tensor, row-major.
struct Tensor {
  std::vector<float> data;
  std::vector<int64_t> shape;

  bool empty() const { return data.empty(); }
  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  int64_t cols() const { return shape.size() < 2 ? 1 : shape[1]; }
  int64_t numel() const { return int64_t(data.size()); }
  const float* ptr() const { return data.data(); }
  float* ptr() { return data.data(); }
};

struct LayerWeights {
  std::array<Tensor, kNumRoles> t;  // indexed by Role; absent roles are empty
  Tensor& operator[](Role r) { return t[size_t(r)]; }
  const Tensor& operator[](Role r) const { return t[size_t(r)]; }
};

struct ModelWeights {
  Tensor embed;       // [vocab, hidden]
  Tensor final_norm;  // [hidden]
  Tensor lm_head;     // [vocab, hidden]; empty when tied to embed
  std::vector<LayerWeights> layers;
  const Tensor& output() const { return lm_head.empty() ? embed : lm_head; }
};

// Where a model came from and how its weights were stored.
enum class ModelFormat : uint8_t { kHuggingFace, kLieqQuantized, kGguf };

struct Model {
  std::filesystem::path path;  // directory (or file for GGUF)
  ModelFormat format = ModelFormat::kHuggingFace;
  ModelConfig config;
  ModelWeights weights;
  std::string weight_dtype;  // dominant stored dtype of the linear weights ("BF16", ...)
};

// Loads config.json and the safetensors weights of a Hugging Face directory
// (or of a lieq quantized directory, dequantized), checking every tensor
// against the config (presence, shape, dtype).
Model load_hf_model(const std::filesystem::path& dir);

// Parameter counts by role for `inspect`.
struct ParamCounts {
  int64_t embedding = 0, output = 0, attention = 0, mlp = 0, norms = 0, biases = 0;
  int64_t total() const { return embedding + output + attention + mlp + norms + biases; }
};
ParamCounts count_params(const ModelConfig& c);

}  // namespace lieq
