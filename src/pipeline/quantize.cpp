#include "pipeline/quantize.h"

#include <unistd.h>

#include <cstring>
#include <utility>

#include "pipeline/awq_layer.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/half.h"

namespace lieq {
namespace fs = std::filesystem;

namespace {

// Float tensor values as stored in `dtype` (F32, F16, BF16; rounded to nearest even).
std::vector<uint8_t> encode_float_tensor(const Tensor& t, DType dtype, const std::string& name) {
  std::vector<uint8_t> out(t.data.size() * dtype_size(dtype));
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out.data(), t.data.data(), out.size());
      break;
    case DType::kF16:
    case DType::kBF16:
      for (size_t i = 0; i < t.data.size(); ++i) {
        const uint16_t h = dtype == DType::kF16 ? f32_to_f16(t.data[i]) : f32_to_bf16(t.data[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      break;
    default:
      fail("quantize: ", name, ": cannot store a modified ", dtype_name(dtype), " tensor");
  }
  return out;
}

void copy_aux_files(const fs::path& src, const fs::path& dst) {
  for (const auto& e : fs::directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    const bool tokenizer_or_config =
        name == "config.json" || name == "generation_config.json" ||
        name.rfind("tokenizer", 0) == 0 || name == "special_tokens_map.json" ||
        name == "vocab.json" || name == "merges.txt" || name == "tokenizer.model";
    if (tokenizer_or_config) fs::copy_file(e.path(), dst / name, fs::copy_options::overwrite_existing);
  }
}

// The tensors besides the linear weights of a decoder layer, in role-table order.
std::vector<Role> other_layer_roles(const ModelConfig& c) {
  std::vector<Role> roles;
  for (const RoleSpec& r : role_table())
    if (role_present(r.role, c) && !r.is_linear) roles.push_back(r.role);
  return roles;
}

}  // namespace

DirectorySink::DirectorySink(ModelReader& reader, const fs::path& out_dir,
                             std::map<std::string, std::string> extra_files,
                             std::map<std::string, QuantSpec> tensor_specs)
    : reader_(reader),
      out_dir_(out_dir),
      extra_files_(std::move(extra_files)),
      tensor_specs_(std::move(tensor_specs)) {
  // Refuse to clobber something that is not ours.
  std::error_code ec;
  if (fs::exists(out_dir, ec)) {
    check(fs::is_directory(out_dir, ec), out_dir.string(), ": exists and is not a directory");
    check(fs::is_empty(out_dir, ec) || is_quantized_dir(out_dir), out_dir.string(),
          ": exists and is not a lieq quantized model; choose another output directory");
  }
  tmp_dir_ = out_dir;
  tmp_dir_ += cat(".partial.", ::getpid());
  fs::remove_all(tmp_dir_, ec);
  fs::create_directories(tmp_dir_);
}

DirectorySink::~DirectorySink() {
  writer_.reset();
  std::error_code ec;
  if (!committed_) fs::remove_all(tmp_dir_, ec);
}

void DirectorySink::begin(const std::vector<StorageFormat>& layer_formats, QuantizeReport& rep) {
  const ModelConfig& c = reader_.config();
  manifest_.method = rep.method;
  manifest_.source = rep.source;
  // Every output tensor, in the order it is written: globals, then layer by
  // layer (its unquantized tensors, then the linears).
  std::vector<SafetensorsStreamWriter::Decl> decls;
  std::vector<std::string> globals = {kHfEmbedding, kHfFinalNorm};
  if (!c.tie_word_embeddings) globals.push_back(kHfLmHead);
  auto declare_source = [&](const std::string& name) {
    const TensorView& t = reader_.store().get(name);
    decls.push_back({name, t.dtype, t.shape});
    rep.total_params += t.numel();
    rep.total_bits += int64_t(t.nbytes) * 8;
  };
  for (const auto& g : globals) declare_source(g);
  for (size_t l = 0; l < layer_formats.size(); ++l) {
    const StorageFormat& f = layer_formats[l];
    check(f.is_grid(), "quantize: layer ", l, " is ", f.name(),
          ", a ggml type; a lieq quantized directory stores integer grids (write a .gguf file)");
    for (Role role : other_layer_roles(c)) declare_source(hf_layer_tensor_name(role, int(l)));
    for (Role role : kLinearRoles) {
      const auto shape = role_shape(role, c);
      const StorageFormat tf = tensor_format(int(l), role, f);
      const QuantEntry e{tf.spec(), shape[0], shape[1]};
      const std::string name = hf_layer_tensor_name(role, int(l));
      manifest_.tensors[name] = e;
      for (auto& d : quantized_decls(name, e)) decls.push_back(d);
      const int64_t bits = tf.storage_bits(e.rows, e.cols);
      rep.linear_params += e.rows * e.cols;
      rep.linear_bits += bits;
      rep.total_params += e.rows * e.cols;
      rep.total_bits += bits;
    }
  }
  writer_ = std::make_unique<SafetensorsStreamWriter>(
      tmp_dir_ / "model.safetensors", decls,
      std::map<std::string, std::string>{{"format", kQuantFormat}, {"method", rep.method}});
  for (const auto& g : globals) write_source(g);
}

void DirectorySink::write_source(const std::string& name) {
  const TensorView& t = reader_.store().get(name);
  writer_->write(name, t.data, t.nbytes);
}

StorageFormat DirectorySink::tensor_format(int layer, Role role,
                                           const StorageFormat& layer_format) const {
  const auto it = tensor_specs_.find(hf_layer_tensor_name(role, layer));
  return it == tensor_specs_.end() ? layer_format : StorageFormat::grid(it->second);
}

std::map<Role, DType> DirectorySink::folded_dtypes(int layer) const {
  std::map<Role, DType> d;
  for (Role role : other_layer_roles(reader_.config()))
    d[role] = reader_.store().get(hf_layer_tensor_name(role, layer)).dtype;
  return d;
}

void DirectorySink::put_layer(const QuantizedLayer& q, QuantizeReport&) {
  // Unquantized tensors as the source stores them, except AWQ's folded norms
  // and biases, re-encoded in the source's dtype (they were rounded to it
  // before the fold, so the encoding is exact); then the quantized linears.
  for (Role role : other_layer_roles(reader_.config())) {
    const std::string name = hf_layer_tensor_name(role, q.layer);
    if (q.awq_folded && awq_folds_into(role)) {
      const std::vector<uint8_t> bytes =
          encode_float_tensor(q.dequantized[role], reader_.store().get(name).dtype, name);
      writer_->write(name, bytes.data(), bytes.size());
    } else {
      write_source(name);
    }
  }
  for (Role role : kLinearRoles)
    write_quantized(*writer_, hf_layer_tensor_name(role, q.layer), q.tensors.at(role).grid);
}

void DirectorySink::finish(Forward&, std::vector<float>*, QuantizeReport& rep) {
  writer_->commit();
  manifest_.write(tmp_dir_ / kQuantManifestFile);
  copy_aux_files(reader_.dir(), tmp_dir_);
  for (const auto& [name, contents] : extra_files_) write_file_atomic(tmp_dir_ / name, contents);
  rep.file_bytes = int64_t(fs::file_size(tmp_dir_ / "model.safetensors"));
}

void DirectorySink::commit(const QuantizeReport& rep) {
  write_file_atomic(tmp_dir_ / "quantize_report.json", report_json(rep));
  // Put the finished directory in place.
  std::error_code ec;
  if (fs::exists(out_dir_, ec)) fs::remove_all(out_dir_);
  fs::rename(tmp_dir_, out_dir_);
  committed_ = true;
}

QuantizeReport quantize_model(ModelReader& reader, const CalibSet* calib,
                              const QuantizeOptions& opt, const fs::path& out_dir) {
  const ModelConfig& c = reader.config();
  check_quantizable(reader);
  check(int64_t(opt.layer_specs.size()) == c.n_layers, "quantize: ", opt.layer_specs.size(),
        " layer specs for ", c.n_layers, " layers");
  std::vector<StorageFormat> formats;
  for (size_t l = 0; l < opt.layer_specs.size(); ++l) {
    validate_spec(opt.layer_specs[l], cat("layer ", l));
    formats.push_back(StorageFormat::grid(opt.layer_specs[l]));
  }
  std::vector<StorageFormat> all = formats;
  for (const auto& [name, spec] : opt.tensor_specs) {
    validate_spec(spec, name);
    all.push_back(StorageFormat::grid(spec));
  }
  const Quantizer q = Quantizer::from(opt);
  q.validate(all, calib != nullptr, "quantize");
  DirectorySink sink(reader, out_dir, opt.extra_files, opt.tensor_specs);
  QuantizeReport rep;
  rep.source = reader.dir().string();
  rep.method = method_name(opt.method);
  quantize_layers(reader, calib, q, formats, sink, DriverOptions::from(opt), rep);
  return rep;
}

}  // namespace lieq
