// Model weights (float32, or 16-bit as stored for inference), and loading
// them from a Hugging Face directory.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "kernels/gemm16.h"
#include "model/arch.h"
#include "model/config.h"

namespace lieq {

// A dense row-major tensor: float32 in `data`, or, for weight matrices loaded
// with LoadOptions::keep_16bit, the stored BF16/F16 values in `half` (then
// `data` is empty; use linear_nt / tensor_row_to_f32, not ptr()).
struct Tensor {
  std::vector<float> data;
  std::vector<int64_t> shape;
  std::vector<uint16_t> half{};         // (after shape: Tensor{data, shape} still works)
  Dtype16 half_dtype = Dtype16::kBf16;  // type of `half`

  bool empty() const { return data.empty() && half.empty(); }
  bool is_16bit() const { return !half.empty(); }
  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  int64_t cols() const { return shape.size() < 2 ? 1 : shape[1]; }
  int64_t numel() const { return is_16bit() ? int64_t(half.size()) : int64_t(data.size()); }
  // Bytes of the values held in memory.
  int64_t nbytes() const {
    return int64_t(data.size() * sizeof(float) + half.size() * sizeof(uint16_t));
  }
  // Float32 tensors only.
  const float* ptr() const { return data.data(); }
  float* ptr() { return data.data(); }
};

// y[m, rows] (+)= x[m, cols] * w^T, w: [rows, cols] float32 (matmul_nt) or
// 16-bit (matmul_nt_16).
void linear_nt(const float* x, const Tensor& w, float* y, int64_t m, bool accumulate = false);
// out[cols] = row i of a 2-D tensor, as float32.
void tensor_row_to_f32(const Tensor& t, int64_t i, float* out);

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

struct LoadOptions {
  // Keep BF16/F16 weight matrices (linear weights, embedding, output head)
  // 16-bit in memory for inference; norms, biases, F32 checkpoints and
  // quantized weights load as float32. Off: everything float32 (what
  // quantization and diagnostics need).
  bool keep_16bit = false;
};

// Loads config.json and the safetensors weights of a Hugging Face directory
// (or of a lieq quantized directory, dequantized), checking every tensor
// against the config (presence, shape, dtype).
Model load_hf_model(const std::filesystem::path& dir, const LoadOptions& opt = {});

// Parameter counts by role for `inspect`.
struct ParamCounts {
  int64_t embedding = 0, output = 0, attention = 0, mlp = 0, norms = 0, biases = 0;
  int64_t total() const { return embedding + output + attention + mlp + norms + biases; }
};
ParamCounts count_params(const ModelConfig& c);

}  // namespace lieq
