#include "model/weights.h"

#include <map>

#include "io/safetensors.h"
#include "util/error.h"

namespace lieq {
namespace fs = std::filesystem;

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Expected dtype name from config.json torch_dtype, or "" when unspecified.
std::string expected_dtype(const ModelConfig& c) {
  if (c.torch_dtype == "float32") return "F32";
  if (c.torch_dtype == "float16") return "F16";
  if (c.torch_dtype == "bfloat16") return "BF16";
  return "";
}

Tensor load_tensor(const TensorStore& store, const std::string& name,
                   const std::vector<int64_t>& shape, const ModelConfig& c,
                   std::map<std::string, int64_t>& dtype_counts) {
  const TensorView& t = store.get(name);
  const std::string where = t.file.string() + ": tensor \"" + name + "\"";
  if (!dtype_info(t.dtype).is_float || t.dtype == DType::kF64)
    fail(where, ": dtype ", dtype_name(t.dtype), " is not a supported weight type (F32, F16, BF16)");
  const std::string want = expected_dtype(c);
  if (!want.empty() && want != dtype_name(t.dtype))
    fail(where, ": dtype ", dtype_name(t.dtype), " does not match config.json torch_dtype ",
         c.torch_dtype);
  if (t.shape != shape)
    fail(where, ": shape ", t.shape_str(), " does not match ", shape_str(shape),
         " implied by config.json");
  dtype_counts[dtype_name(t.dtype)] += t.numel();
  Tensor out;
  out.shape = shape;
  out.data = tensor_to_f32(t);
  return out;
}

}  // namespace

Model load_hf_model(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir.string(), ": not a directory");
  Model m;
  m.path = dir;
  m.format = ModelFormat::kHuggingFace;
  m.config = load_config(dir / "config.json");
  const ModelConfig& c = m.config;
  const TensorStore store(dir);
  std::map<std::string, int64_t> dtype_counts;
  m.weights.embed = load_tensor(store, kHfEmbedding, {c.vocab, c.hidden}, c, dtype_counts);
  m.weights.final_norm = load_tensor(store, kHfFinalNorm, {c.hidden}, c, dtype_counts);
  if (!c.tie_word_embeddings)
    m.weights.lm_head = load_tensor(store, kHfLmHead, {c.vocab, c.hidden}, c, dtype_counts);
  m.weights.layers.resize(size_t(c.n_layers));
  for (int l = 0; l < int(c.n_layers); ++l) {
    for (const RoleSpec& r : role_table()) {
      if (!role_present(r.role, c)) continue;
      m.weights.layers[size_t(l)][r.role] =
          load_tensor(store, hf_layer_tensor_name(r.role, l), role_shape(r.role, c), c, dtype_counts);
    }
  }
  // A checkpoint with more layers than the config says is inconsistent.
  if (store.find(hf_layer_tensor_name(Role::kWq, int(c.n_layers))))
    fail(dir.string(), ": checkpoint has more decoder layers than num_hidden_layers = ",
         c.n_layers, " in config.json");
  int64_t best = -1;
  for (const auto& [name, n] : dtype_counts)
    if (n > best) best = n, m.weight_dtype = name;
  return m;
}

ParamCounts count_params(const ModelConfig& c) {
  ParamCounts p;
  p.embedding = c.vocab * c.hidden;
  p.output = c.tie_word_embeddings ? 0 : c.vocab * c.hidden;
  p.norms = c.hidden;
  auto numel = [](const std::vector<int64_t>& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
  };
  for (const RoleSpec& r : role_table()) {
    if (!role_present(r.role, c)) continue;
    const int64_t n = numel(role_shape(r.role, c)) * c.n_layers;
    switch (r.role) {
      case Role::kWq: case Role::kWk: case Role::kWv: case Role::kWo: p.attention += n; break;
      case Role::kWgate: case Role::kWup: case Role::kWdown: p.mlp += n; break;
      case Role::kBq: case Role::kBk: case Role::kBv: p.biases += n; break;
      default: p.norms += n; break;
    }
  }
  return p;
}

}  // namespace lieq
