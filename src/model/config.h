// Model hyperparameters read from a Hugging Face config.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/arch.h"

namespace lieq {

// kFactors: per-frequency divisors given directly (GGUF's rope_freqs.weight,
// which llama.cpp's converter writes for llama3 scaling).
enum class RopeScalingType : uint8_t { kNone, kLinear, kLlama3, kFactors };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  // llama3 only:
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
  // kFactors only: [head_dim / 2] divisors of the inverse frequencies.
  std::vector<double> freq_factors;
};

struct ModelConfig {
  std::string architecture;  // HF class name
  const ArchSpec* arch = nullptr;
  int64_t hidden = 0;
  int64_t intermediate = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab = 0;
  int64_t max_position_embeddings = 0;
  int64_t sliding_window = 0;  // 0 = full causal attention
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // q/k/v projections have biases
  bool qk_norm = false;   // Qwen3 per-head q/k RMSNorm
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;
  std::string torch_dtype;
  double initializer_range = 0.02;  // std of the normal init (random reference models)

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
};

// Parses dir/config.json (or a config.json path). Throws Error naming the file
// on a missing file, malformed JSON, unknown architecture or bad values.
ModelConfig load_config(const std::filesystem::path& config_json);

}  // namespace lieq

namespace lieq {
// RoPE inverse frequencies [head_dim / 2] after rope_scaling (none, linear, llama3).
std::vector<double> rope_inv_freq(const ModelConfig& c);
}  // namespace lieq
