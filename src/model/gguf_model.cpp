#include "model/gguf_model.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <type_traits>

#include "util/error.h"
#include "util/mapped_file.h"
#include "util/thread_pool.h"

namespace lieq {
namespace fs = std::filesystem;

uint32_t gguf_file_type(GgmlType type) {
  // llama.cpp's llama_ftype values.
  switch (type) {
    case GgmlType::F32:
      return 0;
    case GgmlType::F16:
      return 1;
    case GgmlType::Q4_0:
      return 2;
    case GgmlType::Q4_1:
      return 3;
    case GgmlType::Q8_0:
      return 7;
    case GgmlType::Q5_0:
      return 8;
    case GgmlType::Q5_1:
      return 9;
    case GgmlType::Q2_K:
      return 10;
    case GgmlType::Q3_K:
      return 12;  // Q3_K_M
    case GgmlType::Q4_K:
      return 15;  // Q4_K_M
    case GgmlType::Q5_K:
      return 17;  // Q5_K_M
    case GgmlType::Q6_K:
      return 18;
    case GgmlType::IQ4_NL:
      return 25;
    case GgmlType::IQ4_XS:
      return 30;
    case GgmlType::BF16:
      return 32;
    case GgmlType::IQ2_XXS:
      return 19;
    case GgmlType::IQ2_XS:
      return 20;
    case GgmlType::IQ3_XXS:
      return 23;
    case GgmlType::IQ1_S:
      return 24;
    case GgmlType::IQ3_S:
      return 26;
    case GgmlType::IQ2_S:
      return 28;
    case GgmlType::IQ1_M:
      return 31;
    case GgmlType::TQ1_0:
      return 36;
    case GgmlType::TQ2_0:
      return 37;
  }
  return 0;
}

bool gguf_permutes_qk(const ModelConfig& c) {
  return c.arch && c.arch->permute_qk_gguf;
}

std::vector<float> gguf_rope_freq_factors(const ModelConfig& c) {
  if (c.rope_scaling.type != RopeScalingType::kLlama3) return {};
  ModelConfig plain = c;
  plain.rope_scaling = RopeScaling{};
  const std::vector<double> base = rope_inv_freq(plain), scaled = rope_inv_freq(c);
  std::vector<float> f(base.size());
  for (size_t i = 0; i < f.size(); ++i) f[i] = float(base[i] / scaled[i]);
  return f;
}

void write_gguf_hparams(GgufWriter& w, const ModelConfig& c, const std::string& name,
                        GgmlType dominant_type) {
  check(c.arch != nullptr, "gguf: config without an architecture");
  const std::string a = c.arch->gguf_arch;
  auto u32 = [](int64_t v) { return GgufValue(uint32_t(v)); };
  w.set("general.architecture", a);
  w.set("general.type", "model");
  w.set("general.name", name);
  w.set(a + ".block_count", u32(c.n_layers));
  w.set(a + ".context_length", u32(c.max_position_embeddings));
  w.set(a + ".embedding_length", u32(c.hidden));
  w.set(a + ".feed_forward_length", u32(c.intermediate));
  w.set(a + ".attention.head_count", u32(c.n_heads));
  w.set(a + ".attention.head_count_kv", u32(c.n_kv_heads));
  w.set(a + ".rope.freq_base", float(c.rope_theta));
  w.set(a + ".attention.layer_norm_rms_epsilon", float(c.rms_norm_eps));
  w.set(a + ".attention.key_length", u32(c.head_dim));
  w.set(a + ".attention.value_length", u32(c.head_dim));
  w.set("general.file_type", gguf_file_type(dominant_type));
  if (a == "llama") {
    w.set(a + ".vocab_size", u32(c.vocab));
    w.set(a + ".rope.dimension_count", u32(c.head_dim));
  }
  if (c.rope_scaling.type == RopeScalingType::kLinear) {
    w.set(a + ".rope.scaling.type", "linear");
    w.set(a + ".rope.scaling.factor", float(c.rope_scaling.factor));
  }
  w.set("general.quantization_version", uint32_t{2});
}

namespace {

int64_t get_count(const GgufReader& r, const std::string& key) {
  const int64_t v = r.get(key).as_int();
  check(v > 0, r.path().string(), ": key '", key, "' must be positive, got ", v);
  return v;
}
int64_t get_count_or(const GgufReader& r, const std::string& key, int64_t fallback) {
  return r.find(key) ? get_count(r, key) : fallback;
}
double get_float_or(const GgufReader& r, const std::string& key, double fallback) {
  const GgufValue* v = r.find(key);
  return v ? v->as_float() : fallback;
}

}  // namespace

ModelConfig config_from_gguf(const GgufReader& r) {
  const std::string p = r.path().string();
  const std::string a = r.get("general.architecture").as_string();
  ModelConfig c;
  c.arch = find_arch_by_gguf(a);
  if (!c.arch)
    fail(p, ": unsupported general.architecture \"", a, "\" (supported: llama, qwen2, qwen3)");
  c.architecture = c.arch->hf_name;
  c.n_layers = get_count(r, a + ".block_count");
  c.hidden = get_count(r, a + ".embedding_length");
  const GgufValue& ff = r.get(a + ".feed_forward_length");
  if (ff.is_array()) fail(p, ": per-layer feed_forward_length is not supported");
  c.intermediate = get_count(r, a + ".feed_forward_length");
  c.n_heads = get_count(r, a + ".attention.head_count");
  c.n_kv_heads = get_count_or(r, a + ".attention.head_count_kv", c.n_heads);
  check(c.n_heads % c.n_kv_heads == 0, p, ": head_count ", c.n_heads,
        " is not a multiple of head_count_kv ", c.n_kv_heads);
  check(c.hidden % c.n_heads == 0 || r.find(a + ".attention.key_length"), p,
        ": embedding_length is not divisible by head_count and key_length is not given");
  c.head_dim = get_count_or(r, a + ".attention.key_length", c.hidden / c.n_heads);
  check(get_count_or(r, a + ".attention.value_length", c.head_dim) == c.head_dim, p,
        ": value_length differs from key_length (not supported)");
  check(c.head_dim % 2 == 0, p, ": head dimension ", c.head_dim, " must be even");
  const int64_t rope_dim = get_count_or(r, a + ".rope.dimension_count", c.head_dim);
  check(rope_dim == c.head_dim, p, ": partial RoPE (rope.dimension_count ", rope_dim,
        " < head dimension ", c.head_dim, ") is not supported");
  c.max_position_embeddings = get_count_or(r, a + ".context_length", 2048);
  c.rms_norm_eps = r.get(a + ".attention.layer_norm_rms_epsilon").as_float();
  c.rope_theta = get_float_or(r, a + ".rope.freq_base", 10000.0);
  if (const GgufValue* t = r.find(a + ".rope.scaling.type")) {
    const std::string type = t->as_string();
    if (type == "linear") {
      c.rope_scaling.type = RopeScalingType::kLinear;
      c.rope_scaling.factor = r.get(a + ".rope.scaling.factor").as_float();
      check(c.rope_scaling.factor > 0, p, ": rope.scaling.factor must be positive");
    } else if (type != "none") {
      fail(p, ": unsupported rope.scaling.type \"", type, "\" (supported: none, linear)");
    }
  }
  if (const GgufTensorInfo* f = r.find_tensor(kGgufRopeFreqs)) {
    check(f->type == GgmlType::F32 && f->numel() == c.head_dim / 2, p, ": tensor ", kGgufRopeFreqs,
          " must be F32 with head_dim / 2 = ", c.head_dim / 2, " values");
    c.rope_scaling.type = RopeScalingType::kFactors;
    const float* v = reinterpret_cast<const float*>(f->data);
    c.rope_scaling.freq_factors.assign(v, v + f->numel());
  }
  const GgufTensorInfo& emb = r.get_tensor(kGgufEmbedding);
  check(emb.shape.size() == 2 && emb.shape[0] == c.hidden, p, ": tensor ", kGgufEmbedding,
        " must have ne[0] = embedding_length ", c.hidden);
  c.vocab = emb.shape[1];
  c.tie_word_embeddings = r.find_tensor(kGgufOutput) == nullptr;
  c.qkv_bias = c.arch->qkv_bias || r.find_tensor(gguf_layer_tensor_name(Role::kBq, 0)) != nullptr;
  c.qk_norm = c.arch->qk_norm;
  auto id = [&](const char* key) -> int64_t {
    const GgufValue* v = r.find(key);
    return v ? v->as_int() : -1;
  };
  c.bos_token_id = id("tokenizer.ggml.bos_token_id");
  c.eos_token_id = id("tokenizer.ggml.eos_token_id");
  c.torch_dtype = "";
  return c;
}

void permute_qk_rows(const uint8_t* src, uint8_t* dst, int64_t n_head, int64_t head_dim,
                     size_t row_bytes, bool to_gguf) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t g = h * head_dim + 2 * i + j, f = h * head_dim + j * half + i;
        const int64_t from = to_gguf ? f : g, to = to_gguf ? g : f;
        std::memcpy(dst + size_t(to) * row_bytes, src + size_t(from) * row_bytes, row_bytes);
      }
}

bool is_gguf_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

namespace {

// Tensor `name` of GGUF shape {cols, rows} (or {n}) dequantized to float32;
// with keep_16bit, a BF16/F16 matrix keeps its stored values (Tensor::half).
Tensor load_tensor(const GgufReader& r, const std::string& name,
                   const std::vector<int64_t>& shape, bool keep_16bit = false) {
  const GgufTensorInfo& t = r.get_tensor(name);
  std::vector<int64_t> want(shape.rbegin(), shape.rend());  // ggml order
  if (t.shape != want) {
    std::string got, exp;
    for (int64_t d : t.shape) got += (got.empty() ? "" : ", ") + std::to_string(d);
    for (int64_t d : want) exp += (exp.empty() ? "" : ", ") + std::to_string(d);
    fail(r.path().string(), ": tensor '", name, "' has ne [", got,
         "] but the hyperparameters imply [", exp, "]");
  }
  Tensor out;
  out.shape = shape;
  if (keep_16bit && shape.size() == 2 && (t.type == GgmlType::BF16 || t.type == GgmlType::F16)) {
    out.half.resize(size_t(t.numel()));
    std::memcpy(out.half.data(), t.data, out.half.size() * sizeof(uint16_t));
    out.half_dtype = t.type == GgmlType::BF16 ? Dtype16::kBf16 : Dtype16::kF16;
    release_pages(t.data, t.nbytes);  // the copy is what stays in memory
    return out;
  }
  out.data.resize(size_t(t.numel()));
  const int64_t n = t.shape[0], rows = t.rows();
  const size_t rb = ggml_row_size(t.type, n);
  ThreadPool::global().parallel_for(0, rows, 64, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i)
      ggml_dequantize_row(t.type, t.data + size_t(i) * rb, out.data.data() + i * n, n);
  });
  release_pages(t.data, t.nbytes);
  return out;
}

// q/k weights (and biases) back from llama.cpp's row order.
void unpermute(Tensor& t, int64_t n_head, int64_t head_dim) {
  auto rows_of = [&](auto& v) {  // float32 or 16-bit storage
    const size_t row_bytes = size_t(t.cols()) * sizeof(v[0]);
    std::remove_reference_t<decltype(v)> tmp(v.size());
    permute_qk_rows(reinterpret_cast<const uint8_t*>(v.data()),
                    reinterpret_cast<uint8_t*>(tmp.data()), n_head, head_dim, row_bytes, false);
    v.swap(tmp);
  };
  if (t.is_16bit())
    rows_of(t.half);
  else
    rows_of(t.data);
}

}  // namespace

Model load_gguf_model(const fs::path& path, const LoadOptions& opt) {
  const GgufReader r(path);
  Model m;
  m.path = path;
  m.format = ModelFormat::kGguf;
  m.config = config_from_gguf(r);
  const ModelConfig& c = m.config;
  ModelWeights& w = m.weights;
  const bool keep = opt.keep_16bit;
  w.embed = load_tensor(r, kGgufEmbedding, {c.vocab, c.hidden}, keep);
  w.final_norm = load_tensor(r, kGgufFinalNorm, {c.hidden});
  if (!c.tie_word_embeddings) w.lm_head = load_tensor(r, kGgufOutput, {c.vocab, c.hidden}, keep);
  std::map<std::string, int64_t> params_by_type;
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights lw;
    for (const RoleSpec& s : role_table()) {
      if (!role_present(s.role, c)) continue;
      const std::string name = gguf_layer_tensor_name(s.role, l);
      lw[s.role] = load_tensor(r, name, role_shape(s.role, c), keep);
      if (s.is_linear)
        params_by_type[ggml_type_name(r.get_tensor(name).type)] += lw[s.role].numel();
    }
    if (gguf_permutes_qk(c)) {
      unpermute(lw[Role::kWq], c.n_heads, c.head_dim);
      unpermute(lw[Role::kWk], c.n_kv_heads, c.head_dim);
      if (c.qkv_bias) {
        unpermute(lw[Role::kBq], c.n_heads, c.head_dim);
        unpermute(lw[Role::kBk], c.n_kv_heads, c.head_dim);
      }
    }
    w.layers.push_back(std::move(lw));
  }
  check(r.find_tensor(gguf_layer_tensor_name(Role::kWq, int(c.n_layers))) == nullptr, path.string(),
        ": file has more blocks than block_count = ", c.n_layers);
  int64_t best = -1;
  for (const auto& [name, n] : params_by_type)
    if (n > best) best = n, m.weight_dtype = name;
  return m;
}

}  // namespace lieq
