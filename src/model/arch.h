// Architectures as data: which Hugging Face architectures lieq runs, and the
// tensors each decoder layer holds (name in the HF checkpoint, name in GGUF,
// shape as a function of the config, and when the tensor is present).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace lieq {

struct ModelConfig;

struct ArchSpec {
  const char* hf_name;     // config.json "architectures"[0]
  const char* model_type;  // config.json "model_type"
  const char* gguf_arch;   // general.architecture in GGUF
  bool qkv_bias;           // q/k/v projections always carry a bias (Qwen2)
  bool qk_norm;            // per-head RMSNorm of q and k before RoPE (Qwen3)
  bool permute_qk_gguf;    // llama.cpp's llama arch wants q/k rows permuted
};

// Returns nullptr when unknown.
const ArchSpec* find_arch(const std::string& hf_name);
// The first architecture writing this general.architecture (llama -> Llama);
// nullptr when unknown.
const ArchSpec* find_arch_by_gguf(const std::string& gguf_arch);
// "LlamaForCausalLM, MistralForCausalLM, ..." for error messages.
std::string supported_arch_names();

// Per-layer tensors. The order is the order of computation.
enum class Role : uint8_t {
  kAttnNorm, kWq, kBq, kWk, kBk, kWv, kBv, kQNorm, kKNorm, kWo,
  kFfnNorm, kWgate, kWup, kWdown,
};
inline constexpr int kNumRoles = 14;

enum class Presence : uint8_t { kAlways, kIfQkvBias, kIfQkNorm };

struct RoleSpec {
  Role role;
  const char* hf_suffix;  // after "model.layers.{i}."
  const char* gguf_name;  // after "blk.{i}."
  Presence presence;
  bool is_linear;         // a 2-D projection weight (quantizable)
};

const std::array<RoleSpec, kNumRoles>& role_table();
const RoleSpec& role_spec(Role r);
// Expected shape ([out, in] for weights, [n] for vectors) under a config.
std::vector<int64_t> role_shape(Role r, const ModelConfig& c);
bool role_present(Role r, const ModelConfig& c);
std::string hf_layer_tensor_name(Role r, int layer);
std::string gguf_layer_tensor_name(Role r, int layer);  // "blk.{layer}.attn_q.weight"

// The linear projections of a decoder layer, in the order GPTQ visits them.
inline constexpr std::array<Role, 7> kLinearRoles = {Role::kWq, Role::kWk, Role::kWv, Role::kWo,
                                                     Role::kWgate, Role::kWup, Role::kWdown};

// The tensor groups a per-group plan gives their own storage formats: the
// projections sharing one input (q/k/v, o, gate/up, down), in GPTQ's order.
inline constexpr int kTensorGroups = 4;
inline constexpr std::array<const char*, kTensorGroups> kTensorGroupNames = {"qkv", "o", "gate_up",
                                                                             "down"};
// The group (index into kTensorGroupNames) of a linear role; Error otherwise.
int tensor_group_of(Role linear);
// The group named `name` ("qkv", ...); -1 when none is.
int tensor_group_by_name(const std::string& name);

inline constexpr const char* kHfEmbedding = "model.embed_tokens.weight";
inline constexpr const char* kHfFinalNorm = "model.norm.weight";
inline constexpr const char* kHfLmHead = "lm_head.weight";
inline constexpr const char* kGgufEmbedding = "token_embd.weight";
inline constexpr const char* kGgufFinalNorm = "output_norm.weight";
inline constexpr const char* kGgufOutput = "output.weight";
inline constexpr const char* kGgufRopeFreqs = "rope_freqs.weight";

}  // namespace lieq
