#include "model/reader.h"

#include <cstring>

#include "kernels/convert.h"
#include "util/error.h"
#include "util/mapped_file.h"

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

}  // namespace

ModelReader::ModelReader(const fs::path& dir, const LoadOptions& opt) : dir_(dir), opt_(opt) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(dir.string(), ": no such model directory");
  if (!fs::is_directory(dir, ec)) fail(dir.string(), ": not a directory");
  config_ = load_config(dir / "config.json");
  if (is_quantized_dir(dir))
    manifest_ = std::make_unique<QuantManifest>(QuantManifest::read(dir / kQuantManifestFile));
  store_ = std::make_unique<TensorStore>(dir);
}

std::string ModelReader::stored_type(const std::string& name) const {
  if (manifest_) {
    auto it = manifest_->tensors.find(name);
    if (it != manifest_->tensors.end()) return it->second.spec.name();
  }
  return dtype_name(store_->get(name).dtype);
}

int64_t ModelReader::stored_bits(const std::string& name) const {
  if (manifest_) {
    auto it = manifest_->tensors.find(name);
    if (it != manifest_->tensors.end())
      return it->second.spec.storage_bits(it->second.rows, it->second.cols);
  }
  return int64_t(store_->get(name).nbytes) * 8;
}

const TensorView& ModelReader::float_view(const std::string& name,
                                          const std::vector<int64_t>& shape) const {
  const TensorView& t = store_->get(name);
  const std::string where = t.file.string() + ": tensor \"" + name + "\"";
  if (!dtype_info(t.dtype).is_float || t.dtype == DType::kF64)
    fail(where, ": dtype ", dtype_name(t.dtype), " is not a supported weight type (F32, F16, BF16)");
  const std::string want = expected_dtype(config_);
  if (!want.empty() && want != dtype_name(t.dtype))
    fail(where, ": dtype ", dtype_name(t.dtype), " does not match config.json torch_dtype ",
         config_.torch_dtype);
  if (t.shape != shape)
    fail(where, ": shape ", t.shape_str(), " does not match ", shape_str(shape),
         " implied by config.json");
  return t;
}

Tensor ModelReader::load(const std::string& name, const std::vector<int64_t>& shape) {
  Tensor out;
  out.shape = shape;
  if (manifest_) {
    auto it = manifest_->tensors.find(name);
    if (it != manifest_->tensors.end()) {
      const QuantEntry& e = it->second;
      if (std::vector<int64_t>{e.rows, e.cols} != shape)
        fail((dir_ / kQuantManifestFile).string(), ": tensor \"", name, "\" has shape [", e.rows,
             ", ", e.cols, "] but config.json implies ", shape_str(shape));
      out.data = read_quantized(*store_, name, e).dequantize();
      dtype_params_[e.spec.name()] += e.rows * e.cols;
      return out;
    }
  }
  const TensorView& t = float_view(name, shape);
  dtype_params_[dtype_name(t.dtype)] += t.numel();
  if (opt_.keep_16bit && shape.size() == 2 && (t.dtype == DType::kBF16 || t.dtype == DType::kF16)) {
    out.half.resize(size_t(t.numel()));  // [rows, cols] as stored
    std::memcpy(out.half.data(), t.data, t.nbytes);
    out.half_dtype = t.dtype == DType::kBF16 ? Dtype16::kBf16 : Dtype16::kF16;
    release_pages(t.data, t.nbytes);
    return out;
  }
  out.data = tensor_to_f32(t);
  release_pages(t.data, t.nbytes);  // the float copy is what stays in memory
  return out;
}

void ModelReader::embed_tokens(const int32_t* ids, int64_t n, float* x) {
  const ModelConfig& c = config_;
  const TensorView& t = float_view(kHfEmbedding, {c.vocab, c.hidden});
  const size_t row_bytes = t.nbytes / size_t(c.vocab);
  for (int64_t i = 0; i < n; ++i) {
    check(ids[i] >= 0 && ids[i] < c.vocab, "token id ", ids[i], " out of range [0, ", c.vocab, ")");
    convert_to_f32(t.dtype, t.data + size_t(ids[i]) * row_bytes, x + i * c.hidden, size_t(c.hidden));
  }
  release_pages(t.data, t.nbytes);
}

void ModelReader::load_globals(ModelWeights& w) {
  const ModelConfig& c = config_;
  w.embed = load(kHfEmbedding, {c.vocab, c.hidden});
  w.final_norm = load(kHfFinalNorm, {c.hidden});
  if (!c.tie_word_embeddings) w.lm_head = load(kHfLmHead, {c.vocab, c.hidden});
  // A checkpoint with more layers than the config says is inconsistent.
  if (store_->find(hf_layer_tensor_name(Role::kWq, int(c.n_layers))))
    fail(dir_.string(), ": checkpoint has more decoder layers than num_hidden_layers = ",
         c.n_layers, " in config.json");
}

LayerWeights ModelReader::load_layer(int layer) {
  check(layer >= 0 && layer < config_.n_layers, dir_.string(), ": layer ", layer, " out of range");
  LayerWeights lw;
  for (const RoleSpec& r : role_table()) {
    if (!role_present(r.role, config_)) continue;
    lw[r.role] = load(hf_layer_tensor_name(r.role, layer), role_shape(r.role, config_));
  }
  return lw;
}

ModelWeights ModelReader::load_all() {
  ModelWeights w;
  load_globals(w);
  for (int l = 0; l < int(config_.n_layers); ++l) w.layers.push_back(load_layer(l));
  return w;
}

std::string ModelReader::weight_dtype() const {
  std::string best;
  int64_t n = -1;
  for (const auto& [name, count] : dtype_params_)
    if (count > n) n = count, best = name;
  return best;
}

}  // namespace lieq
