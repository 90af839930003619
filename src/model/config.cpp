#include "model/config.h"

#include <cmath>

#include "util/error.h"
#include "util/json_file.h"

namespace lieq {

ModelConfig load_config(const std::filesystem::path& config_json) {
  // A model directory stands for its config.json (as config.h documents).
  std::error_code ec;
  const std::filesystem::path path = std::filesystem::is_directory(config_json, ec)
                                         ? config_json / "config.json"
                                         : config_json;
  const json j = read_json_file(path);
  const std::string p = path.string();
  if (!j.is_object()) fail(p, ": expected a JSON object");
  ModelConfig c;
  if (!j.contains("architectures") || !j["architectures"].is_array() ||
      j["architectures"].empty() || !j["architectures"][0].is_string())
    fail(p, ": missing \"architectures\"");
  c.architecture = j["architectures"][0].get<std::string>();
  c.arch = find_arch(c.architecture);
  if (!c.arch)
    fail(p, ": unsupported architecture \"", c.architecture, "\" (supported: ",
         supported_arch_names(), ")");
  c.hidden = json_get<int64_t>(j, "hidden_size", path);
  c.intermediate = json_get<int64_t>(j, "intermediate_size", path);
  c.n_layers = json_get<int64_t>(j, "num_hidden_layers", path);
  c.n_heads = json_get<int64_t>(j, "num_attention_heads", path);
  c.n_kv_heads = json_get_or<int64_t>(j, "num_key_value_heads", c.n_heads, path);
  c.vocab = json_get<int64_t>(j, "vocab_size", path);
  check(c.hidden > 0 && c.intermediate > 0 && c.n_layers > 0 && c.n_heads > 0 &&
            c.n_kv_heads > 0 && c.vocab > 0,
        p, ": sizes must be positive");
  if (!j.contains("head_dim") || j["head_dim"].is_null()) {
    // Without an explicit head_dim the heads split hidden_size evenly.
    check(c.hidden % c.n_heads == 0, p, ": hidden_size (", c.hidden,
          ") is not divisible by num_attention_heads (", c.n_heads, ") and head_dim is not given");
  }
  const int64_t default_head_dim = c.hidden / c.n_heads;
  c.head_dim = json_get_or<int64_t>(j, "head_dim", default_head_dim, path);
  check(c.head_dim > 0 && c.head_dim % 2 == 0, p, ": head_dim must be positive and even");
  check(c.n_heads % c.n_kv_heads == 0, p, ": num_attention_heads (", c.n_heads,
        ") is not a multiple of num_key_value_heads (", c.n_kv_heads, ")");
  c.max_position_embeddings = json_get_or<int64_t>(j, "max_position_embeddings", 2048, path);
  c.rms_norm_eps = json_get_or<double>(j, "rms_norm_eps", 1e-6, path);
  c.rope_theta = json_get_or<double>(j, "rope_theta", 10000.0, path);
  c.tie_word_embeddings = json_get_or<bool>(j, "tie_word_embeddings", false, path);
  c.bos_token_id = j.contains("bos_token_id") && j["bos_token_id"].is_number_integer()
                       ? j["bos_token_id"].get<int64_t>()
                       : -1;
  if (j.contains("eos_token_id")) {
    const json& e = j["eos_token_id"];
    if (e.is_number_integer()) c.eos_token_id = e.get<int64_t>();
    if (e.is_array() && !e.empty() && e[0].is_number_integer()) c.eos_token_id = e[0].get<int64_t>();
  }
  c.torch_dtype = json_get_or<std::string>(j, "torch_dtype", "", path);
  c.initializer_range = json_get_or<double>(j, "initializer_range", 0.02, path);
  if (j.contains("sliding_window") && j["sliding_window"].is_number_integer()) {
    const bool use = json_get_or<bool>(j, "use_sliding_window", c.arch->model_type ==
                                                                   std::string("mistral"), path);
    if (use) c.sliding_window = j["sliding_window"].get<int64_t>();
  }
  c.qkv_bias = c.arch->qkv_bias || json_get_or<bool>(j, "attention_bias", false, path);
  c.qk_norm = c.arch->qk_norm;
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const json& rs = j["rope_scaling"];
    if (!rs.is_object()) fail(p, ": rope_scaling must be an object or null");
    // "rope_type" (current transformers) or "type" (older configs).
    const std::string type_key = rs.contains("rope_type") ? "rope_type" : "type";
    const std::string type = json_get_or<std::string>(rs, type_key, "default", path);
    if (type == "default") {
      c.rope_scaling.type = RopeScalingType::kNone;
    } else if (type == "linear") {
      c.rope_scaling.type = RopeScalingType::kLinear;
      c.rope_scaling.factor = json_get<double>(rs, "factor", path);
    } else if (type == "llama3") {
      c.rope_scaling.type = RopeScalingType::kLlama3;
      c.rope_scaling.factor = json_get<double>(rs, "factor", path);
      c.rope_scaling.low_freq_factor = json_get_or<double>(rs, "low_freq_factor", 1.0, path);
      c.rope_scaling.high_freq_factor = json_get_or<double>(rs, "high_freq_factor", 4.0, path);
      c.rope_scaling.original_max_position_embeddings =
          json_get_or<int64_t>(rs, "original_max_position_embeddings", 8192, path);
      // The smooth band divides by high - low; equal or inverted factors give NaN.
      check(c.rope_scaling.low_freq_factor > 0 &&
                c.rope_scaling.high_freq_factor > c.rope_scaling.low_freq_factor &&
                c.rope_scaling.original_max_position_embeddings > 0,
            p, ": rope_scaling llama3 needs 0 < low_freq_factor < high_freq_factor and a positive "
               "original_max_position_embeddings");
    } else {
      fail(p, ": unsupported rope_scaling type \"", type, "\" (supported: linear, llama3)");
    }
    check(c.rope_scaling.factor > 0, p, ": rope_scaling factor must be positive");
  }
  const std::string act = json_get_or<std::string>(j, "hidden_act", "silu", path);
  if (act != "silu") fail(p, ": unsupported hidden_act \"", act, "\" (only silu)");
  if (json_get_or<bool>(j, "mlp_bias", false, path)) fail(p, ": mlp_bias is not supported");
  return c;
}

}  // namespace lieq

namespace lieq {

std::vector<double> rope_inv_freq(const ModelConfig& c) {
  const int64_t half = c.head_dim / 2;
  std::vector<double> f(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    f[size_t(i)] = 1.0 / std::pow(c.rope_theta, double(2 * i) / double(c.head_dim));
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type == RopeScalingType::kLinear) {
    for (double& v : f) v /= rs.factor;
  } else if (rs.type == RopeScalingType::kLlama3) {
    // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, the
    // band between interpolated smoothly.
    const double old_ctx = double(rs.original_max_position_embeddings);
    const double low_wavelen = old_ctx / rs.low_freq_factor;
    const double high_wavelen = old_ctx / rs.high_freq_factor;
    for (double& v : f) {
      const double wavelen = 2.0 * M_PI / v;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        v /= rs.factor;
      } else {
        const double smooth =
            (old_ctx / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        v = (1.0 - smooth) * v / rs.factor + smooth * v;
      }
    }
  } else if (rs.type == RopeScalingType::kFactors) {
    check(rs.freq_factors.size() == f.size(), "rope: ", rs.freq_factors.size(),
          " frequency factors for head_dim ", c.head_dim);
    for (size_t i = 0; i < f.size(); ++i) f[i] /= rs.freq_factors[i];
  }
  return f;
}

}  // namespace lieq
