#include "pipeline/gguf_export.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <utility>

#include "model/gguf_model.h"
#include "pipeline/layer_pass.h"
#include "quant/gptq.h"
#include "tokenizer/gguf_tokenizer.h"
#include "util/error.h"

namespace lieq {
namespace fs = std::filesystem;

namespace {

std::vector<int64_t> ggml_shape(const std::vector<int64_t>& shape) {
  return {shape.rbegin(), shape.rend()};
}

// Float tensor data as a ggml type without calibration (norms, biases: F32).
std::vector<uint8_t> encode_plain(const Tensor& t, GgmlType type, const float* importance) {
  const int64_t cols = t.shape.size() < 2 ? t.numel() : t.cols();
  const int64_t rows = t.numel() / cols;
  std::vector<uint8_t> out(size_t(rows) * ggml_row_size(type, cols));
  ggml_quantize_rows(type, t.ptr(), out.data(), rows, cols, importance);
  return out;
}

// Whether the model has a tensor of this GGUF name.
bool gguf_name_known(const std::string& name, const ModelConfig& c) {
  if (name == kGgufEmbedding || name == kGgufFinalNorm) return true;
  if (name == kGgufOutput) return !c.tie_word_embeddings;
  for (int l = 0; l < c.n_layers; ++l)
    for (const RoleSpec& s : role_table())
      if (s.is_linear && name == gguf_layer_tensor_name(s.role, l)) return true;
  return false;
}

// The most frequent type (the first of equals in type order), which names the file type.
GgmlType dominant_type(const std::vector<GgmlType>& types) {
  std::map<GgmlType, int> count;
  for (GgmlType t : types) ++count[t];
  GgmlType dominant = types.empty() ? GgmlType::F16 : types[0];
  for (const auto& [t, n] : count)
    if (n > count[dominant]) dominant = t;
  return dominant;
}

}  // namespace

// opt.tensor_types' type for a GGUF name, else `fallback`.
static GgmlType gguf_type_for(const GgufExportOptions& opt, const std::string& gguf_name,
                       GgmlType fallback) {
  const auto it = opt.tensor_types.find(gguf_name);
  return it != opt.tensor_types.end() ? it->second : fallback;
}

GgufLayout declare_gguf(GgufWriter& w, const ModelReader& reader, const Tokenizer& tok,
                        const GgufExportOptions& opt,
                        const std::vector<StorageFormat>& layer_formats,
                        const std::string& method, std::vector<std::string>* fallbacks) {
  const ModelConfig& c = reader.config();
  std::vector<GgmlType> layer_types;
  std::vector<std::string> type_names;
  for (const StorageFormat& f : layer_formats) {
    layer_types.push_back(f.ggml_type());
    type_names.push_back(f.name());
  }
  write_gguf_hparams(w, c, opt.name.empty() ? reader.dir().filename().string() : opt.name,
                     dominant_type(layer_types));
  write_gguf_tokenizer(w, tok, c.vocab);
  w.set("lieq.method", method);
  w.set("lieq.layer_types", type_names);
  if (!opt.imatrix.importance.empty()) {  // llama-quantize's keys for the same
    w.set("quantize.imatrix.file", opt.imatrix.path);
    if (!opt.imatrix.datasets.empty()) w.set("quantize.imatrix.dataset", opt.imatrix.datasets[0]);
    w.set("quantize.imatrix.entries_count", int32_t(opt.imatrix.importance.size()));
    w.set("quantize.imatrix.chunks_count", int32_t(opt.imatrix.chunk_count));
  }
  for (const auto& [name, t] : opt.tensor_types) {
    (void)t;
    check(gguf_name_known(name, c), "gguf export: a type is given for \"", name,
          "\", which the model does not have");
  }
  // A type after llama.cpp's row-length fallback, the change noted.
  auto row_type = [&](const std::string& name, GgmlType asked, int64_t cols) {
    const GgmlType t = ggml_row_type(asked, cols);
    if (t != asked && fallbacks)
      fallbacks->push_back(cat(name, ": ", ggml_type_name(asked), " -> ", ggml_type_name(t),
                               " (rows of ", cols, " values, not a multiple of ",
                               ggml_traits(asked).block_size, ")"));
    return t;
  };
  // Declarations, in writing order.
  const bool tied = c.tie_word_embeddings;
  GgufLayout lay;
  lay.embed_type = row_type(
      kGgufEmbedding, gguf_type_for(opt, kGgufEmbedding, tied ? opt.output_type : opt.embed_type),
      c.hidden);
  lay.output_type = tied ? ggml_row_type(gguf_type_for(opt, kGgufOutput, opt.output_type), c.hidden)
                         : row_type(kGgufOutput, gguf_type_for(opt, kGgufOutput, opt.output_type),
                                    c.hidden);
  auto declare = [&](const std::string& name, const std::vector<int64_t>& shape, GgmlType t) {
    w.declare_tensor(name, ggml_shape(shape), t);
  };
  for (int l = 0; l < int(layer_formats.size()); ++l)
    for (const RoleSpec& s : role_table()) {
      if (!role_present(s.role, c)) continue;
      const auto shape = role_shape(s.role, c);
      const std::string name = gguf_layer_tensor_name(s.role, l);
      declare(name, shape,
              s.is_linear
                  ? row_type(name, gguf_type_for(opt, name, layer_formats[size_t(l)].ggml_type()),
                             shape[1])
                  : GgmlType::F32);
    }
  declare(kGgufFinalNorm, {c.hidden}, GgmlType::F32);
  declare(kGgufEmbedding, {c.vocab, c.hidden}, lay.embed_type);
  if (!tied) declare(kGgufOutput, {c.vocab, c.hidden}, lay.output_type);
  const std::vector<float> rope_factors = gguf_rope_freq_factors(c);
  if (!rope_factors.empty()) declare(kGgufRopeFreqs, {int64_t(rope_factors.size())}, GgmlType::F32);
  return lay;
}

uint64_t gguf_file_bytes(const ModelReader& reader, const Tokenizer& tok,
                         const GgufExportOptions& opt,
                         const std::vector<StorageFormat>& layer_formats,
                         const std::string& method) {
  GgufWriter w;
  declare_gguf(w, reader, tok, opt, layer_formats, method, nullptr);
  return w.file_size();
}

GgufSink::GgufSink(ModelReader& reader, const Tokenizer& tok, const GgufExportOptions& opt,
                   const Quantizer& q, fs::path out_path)
    : reader_(reader), tok_(tok), opt_(opt), q_(q), out_path_(std::move(out_path)) {}

GgmlType GgufSink::type_for(const std::string& gguf_name, GgmlType fallback) const {
  return gguf_type_for(opt_, gguf_name, fallback);
}

StorageFormat GgufSink::tensor_format(int layer, Role role,
                                      const StorageFormat& layer_format) const {
  return StorageFormat::ggml(
      type_for(gguf_layer_tensor_name(role, layer), layer_format.ggml_type()));
}

void GgufSink::begin(const std::vector<StorageFormat>& layer_formats, QuantizeReport& rep) {
  const GgufLayout lay =
      declare_gguf(w_, reader_, tok_, opt_, layer_formats, rep.method, &rep.fallbacks);
  embed_type_ = lay.embed_type;
  output_type_ = lay.output_type;
  w_.write_header(out_path_);
}

void GgufSink::put(const std::string& name, const std::vector<uint8_t>& bytes, bool linear,
                   QuantizeReport& rep) {
  w_.write_tensor_data(name, bytes.data(), bytes.size());
  const GgufTensorInfo* info = nullptr;
  for (const auto& i : w_.tensors())
    if (i.name == name) info = &i;
  check(info != nullptr, "gguf export: undeclared tensor ", name);
  rep.total_params += info->numel();
  rep.total_bits += int64_t(info->nbytes) * 8;
  if (linear) {
    rep.linear_params += info->numel();
    rep.linear_bits += int64_t(info->nbytes) * 8;
  }
}

void GgufSink::put_layer(const QuantizedLayer& q, QuantizeReport& rep) {
  const ModelConfig& c = reader_.config();
  for (const RoleSpec& s : role_table()) {
    if (!role_present(s.role, c)) continue;
    // The stored blocks of a projection, F32 values of the others; q/k rows
    // in llama.cpp's order when its converter permutes them.
    std::vector<uint8_t> own;
    if (!s.is_linear) own = encode_plain(q.dequantized[s.role], GgmlType::F32, nullptr);
    const std::vector<uint8_t>* data = s.is_linear ? &q.tensors.at(s.role).blocks : &own;
    const bool qk =
        s.role == Role::kWq || s.role == Role::kWk || s.role == Role::kBq || s.role == Role::kBk;
    if (qk && gguf_permutes_qk(c)) {
      const int64_t heads = (s.role == Role::kWq || s.role == Role::kBq) ? c.n_heads : c.n_kv_heads;
      std::vector<uint8_t> perm(data->size());
      permute_qk_rows(data->data(), perm.data(), heads, c.head_dim,
                      data->size() / size_t(heads * c.head_dim), true);
      own.swap(perm);
      data = &own;
    }
    put(gguf_layer_tensor_name(s.role, q.layer), *data, s.is_linear, rep);
  }
}

void GgufSink::finish(Forward& fw, std::vector<float>* x, QuantizeReport& rep) {
  // Final norm, embedding and output head. The output's calibration input is
  // the final-normed hidden state of the quantized model.
  const auto t_out = std::chrono::steady_clock::now();
  const ModelConfig& c = reader_.config();
  const bool tied = c.tie_word_embeddings;
  ModelWeights g;
  reader_.load_globals(g);
  put(kGgufFinalNorm, encode_plain(g.final_norm, GgmlType::F32, nullptr), false, rep);
  // One accumulator of the head's input: its importance (mean x^2 per
  // column, llama.cpp's imatrix) weighs rounding, its Hessian drives GPTQ.
  std::unique_ptr<Gptq> head_input;
  std::vector<float> importance;
  if (x) {
    const int64_t rows = int64_t(x->size()) / c.hidden;
    fw.final_norm(g, x->data(), rows);
    head_input = std::make_unique<Gptq>(c.hidden);
    head_input->add_batch(x->data(), rows);
    importance = head_input->importance();
    std::vector<float>().swap(*x);
  }
  auto global_report = [&](const std::string& name, const Tensor& t) {
    TensorReport tr;
    tr.name = name;
    tr.layer = -1;
    tr.rows = t.rows();
    tr.cols = t.cols();
    return tr;
  };
  // Tied: the embedding is also the output head, weighted by its input.
  // With an imatrix file: its entry for the embedding where it has one (as
  // llama-quantize; llama-imatrix records the head's input under that name
  // for tied models), else unweighted.
  const bool weigh_embedding = tied && opt_.importance && !importance.empty();
  const float* embed_imp = weigh_embedding ? importance.data() : nullptr;
  if (q_.imatrix) {
    const std::vector<float>* e = q_.imatrix->find(kGgufEmbedding);
    embed_imp = e && int64_t(e->size()) == c.hidden ? e->data() : nullptr;
  }
  put(kGgufEmbedding, encode_plain(g.embed, embed_type_, embed_imp), false, rep);
  TensorReport embed = global_report(kHfEmbedding, g.embed);
  embed.set_storage(StorageFormat::ggml(embed_type_));
  embed.seconds = seconds_since(t_out);
  rep.tensors.push_back(embed);
  if (!tied) {
    TensorReport head = global_report(kHfLmHead, g.lm_head);
    Quantizer qh = q_;  // the head's imatrix entry is optional (as in llama-quantize)
    if (qh.imatrix && !qh.imatrix->find(kGgufOutput)) qh.imatrix = nullptr;
    const StoredTensor st = qh.quantize(StorageFormat::ggml(output_type_), g.lm_head,
                                        head_input.get(), head, kGgufOutput);
    put(kGgufOutput, st.blocks, false, rep);
    head.seconds = seconds_since(t_out);
    rep.tensors.push_back(head);
  }
  const std::vector<float> rope_factors = gguf_rope_freq_factors(c);
  if (!rope_factors.empty()) {
    std::vector<uint8_t> data(rope_factors.size() * sizeof(float));
    std::memcpy(data.data(), rope_factors.data(), data.size());
    put(kGgufRopeFreqs, data, false, rep);
  }
  w_.commit();
  rep.file_bytes = int64_t(fs::file_size(out_path_));
}

QuantizeReport export_gguf(ModelReader& reader, const Tokenizer& tok, const CalibSet* calib,
                           const GgufExportOptions& opt, const fs::path& out_path) {
  const ModelConfig& c = reader.config();
  check_quantizable(reader);
  check(int64_t(opt.layer_types.size()) == c.n_layers, "gguf export: ", opt.layer_types.size(),
        " layer types for ", c.n_layers, " layers");
  std::vector<StorageFormat> formats;
  for (GgmlType t : opt.layer_types) formats.push_back(StorageFormat::ggml(t));
  Quantizer q = Quantizer::from(opt.base, opt.importance);
  q.imatrix = opt.imatrix.importance.empty() ? nullptr : &opt.imatrix;
  q.validate(formats, calib != nullptr, "gguf export");
  std::error_code ec;
  check(!fs::is_directory(out_path, ec), out_path.string(),
        ": is a directory; give a .gguf file name");
  QuantizeReport rep;
  rep.source = reader.dir().string();
  rep.method = std::string(method_name(q.method)) +
               (q.imatrix ? " (imatrix file)"
                : q.method != QuantMethod::kGptq && calib && opt.importance ? " (imatrix)"
                                                                            : "");
  GgufSink sink(reader, tok, opt, q, out_path);
  quantize_layers(reader, calib, q, formats, sink, DriverOptions::from(opt.base), rep);
  return rep;
}

}  // namespace lieq
