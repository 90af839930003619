#include "model/arch.h"

#include "model/config.h"
#include "util/error.h"

namespace lieq {

static constexpr ArchSpec kArchs[] = {
    // hf_name, model_type, gguf_arch, qkv_bias, qk_norm, permute_qk_gguf
    {"LlamaForCausalLM", "llama", "llama", false, false, true},
    {"MistralForCausalLM", "mistral", "llama", false, false, true},
    {"Qwen2ForCausalLM", "qwen2", "qwen2", true, false, false},
    {"Qwen3ForCausalLM", "qwen3", "qwen3", false, true, false},
};

const ArchSpec* find_arch(const std::string& hf_name) {
  for (const auto& a : kArchs)
    if (hf_name == a.hf_name) return &a;
  return nullptr;
}

const ArchSpec* find_arch_by_gguf(const std::string& gguf_arch) {
  for (const auto& a : kArchs)
    if (gguf_arch == a.gguf_arch) return &a;
  return nullptr;
}

std::string supported_arch_names() {
  std::string s;
  for (const auto& a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a.hf_name);
  return s;
}

static constexpr std::array<RoleSpec, kNumRoles> kRoles = {{
    {Role::kAttnNorm, "input_layernorm.weight", "attn_norm.weight", Presence::kAlways, false},
    {Role::kWq, "self_attn.q_proj.weight", "attn_q.weight", Presence::kAlways, true},
    {Role::kBq, "self_attn.q_proj.bias", "attn_q.bias", Presence::kIfQkvBias, false},
    {Role::kWk, "self_attn.k_proj.weight", "attn_k.weight", Presence::kAlways, true},
    {Role::kBk, "self_attn.k_proj.bias", "attn_k.bias", Presence::kIfQkvBias, false},
    {Role::kWv, "self_attn.v_proj.weight", "attn_v.weight", Presence::kAlways, true},
    {Role::kBv, "self_attn.v_proj.bias", "attn_v.bias", Presence::kIfQkvBias, false},
    {Role::kQNorm, "self_attn.q_norm.weight", "attn_q_norm.weight", Presence::kIfQkNorm, false},
    {Role::kKNorm, "self_attn.k_norm.weight", "attn_k_norm.weight", Presence::kIfQkNorm, false},
    {Role::kWo, "self_attn.o_proj.weight", "attn_output.weight", Presence::kAlways, true},
    {Role::kFfnNorm, "post_attention_layernorm.weight", "ffn_norm.weight", Presence::kAlways,
     false},
    {Role::kWgate, "mlp.gate_proj.weight", "ffn_gate.weight", Presence::kAlways, true},
    {Role::kWup, "mlp.up_proj.weight", "ffn_up.weight", Presence::kAlways, true},
    {Role::kWdown, "mlp.down_proj.weight", "ffn_down.weight", Presence::kAlways, true},
}};

const std::array<RoleSpec, kNumRoles>& role_table() { return kRoles; }
const RoleSpec& role_spec(Role r) { return kRoles[size_t(r)]; }

std::vector<int64_t> role_shape(Role r, const ModelConfig& c) {
  const int64_t q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
  switch (r) {
    case Role::kAttnNorm:
    case Role::kFfnNorm: return {c.hidden};
    case Role::kWq: return {q, c.hidden};
    case Role::kWk:
    case Role::kWv: return {kv, c.hidden};
    case Role::kBq: return {q};
    case Role::kBk:
    case Role::kBv: return {kv};
    case Role::kQNorm:
    case Role::kKNorm: return {c.head_dim};
    case Role::kWo: return {c.hidden, q};
    case Role::kWgate:
    case Role::kWup: return {c.intermediate, c.hidden};
    case Role::kWdown: return {c.hidden, c.intermediate};
  }
  return {};
}

bool role_present(Role r, const ModelConfig& c) {
  switch (role_spec(r).presence) {
    case Presence::kAlways: return true;
    case Presence::kIfQkvBias: return c.qkv_bias;
    case Presence::kIfQkNorm: return c.qk_norm;
  }
  return false;
}

std::string hf_layer_tensor_name(Role r, int layer) {
  return cat("model.layers.", layer, ".", role_spec(r).hf_suffix);
}

std::string gguf_layer_tensor_name(Role r, int layer) {
  return cat("blk.", layer, ".", role_spec(r).gguf_name);
}

int tensor_group_of(Role r) {
  switch (r) {
    case Role::kWq: case Role::kWk: case Role::kWv: return 0;
    case Role::kWo: return 1;
    case Role::kWgate: case Role::kWup: return 2;
    case Role::kWdown: return 3;
    default: fail("tensor groups: role ", int(r), " is not a linear projection");
  }
}

int tensor_group_by_name(const std::string& name) {
  for (int g = 0; g < kTensorGroups; ++g)
    if (name == kTensorGroupNames[size_t(g)]) return g;
  return -1;
}

}  // namespace lieq
