#include "pipeline/gguf_export.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include "io/gguf.h"
#include "io/gguf_tokenizer.h"
#include "model/forward.h"
#include "model/gguf_model.h"
#include "pipeline/awq_layer.h"
#include "quant/gptq.h"
#include "util/error.h"
#include "util/progress.h"

namespace lieq {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

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

}  // namespace

QuantizeReport export_gguf(ModelReader& reader, const Tokenizer& tok, const CalibSet* calib,
                           const GgufExportOptions& opt, const fs::path& out_path) {
  const auto t_start = Clock::now();
  const ModelConfig& c = reader.config();
  const int n_layers = int(c.n_layers);
  const QuantizeOptions& qo = opt.base;
  check(!reader.quantized(), reader.dir().string(),
        ": is already a lieq quantized model; quantize the original model instead");
  check(int64_t(opt.layer_types.size()) == c.n_layers, "gguf export: ", opt.layer_types.size(),
        " layer types for ", n_layers, " layers");
  check(qo.method == QuantMethod::kRtn || calib,
        "gguf export: ", qo.method == QuantMethod::kAwq ? "AWQ" : "GPTQ",
        " needs calibration data");
  check(!qo.gptq.act_order, "gguf export: --act-order is not supported for ggml block types");
  std::error_code ec;
  check(!fs::is_directory(out_path, ec), out_path.string(),
        ": is a directory; give a .gguf file name");

  QuantizeReport rep;
  rep.source = reader.dir().string();
  rep.method = std::string(method_name(qo.method)) +
               (qo.method != QuantMethod::kGptq && calib && opt.importance ? " (imatrix)" : "");
  // The dominant layer type names the file type.
  std::map<GgmlType, int> count;
  for (GgmlType t : opt.layer_types) ++count[t];
  GgmlType dominant = opt.layer_types.empty() ? GgmlType::F16 : opt.layer_types[0];
  for (const auto& [t, n] : count)
    if (n > count[dominant]) dominant = t;

  GgufWriter w;
  write_gguf_hparams(w, c, opt.name.empty() ? reader.dir().filename().string() : opt.name,
                     dominant);
  write_gguf_tokenizer(w, tok, c.vocab);
  w.set("lieq.method", rep.method);
  std::vector<std::string> type_names;
  for (GgmlType t : opt.layer_types) type_names.push_back(ggml_type_name(t));
  w.set("lieq.layer_types", type_names);

  // The type of each tensor: an explicit per-tensor type, else the default.
  auto type_of = [&](const std::string& gguf_name, GgmlType fallback, int64_t cols) {
    const auto it = opt.tensor_types.find(gguf_name);
    return ggml_row_type(it != opt.tensor_types.end() ? it->second : fallback, cols);
  };
  for (const auto& [name, t] : opt.tensor_types) {
    (void)t;
    check(gguf_name_known(name, c), "gguf export: a type is given for \"", name,
          "\", which the model does not have");
  }
  // Declarations, in writing order.
  const bool tied = c.tie_word_embeddings;
  const GgmlType emb_type =
      type_of(kGgufEmbedding, tied ? opt.output_type : opt.embed_type, c.hidden);
  const GgmlType out_type = type_of(kGgufOutput, opt.output_type, c.hidden);
  auto declare = [&](const std::string& name, const std::vector<int64_t>& shape, GgmlType t) {
    w.declare_tensor(name, ggml_shape(shape), t);
  };
  for (int l = 0; l < n_layers; ++l)
    for (const RoleSpec& s : role_table()) {
      if (!role_present(s.role, c)) continue;
      const auto shape = role_shape(s.role, c);
      const std::string name = gguf_layer_tensor_name(s.role, l);
      declare(name, shape,
              s.is_linear ? type_of(name, opt.layer_types[size_t(l)], shape[1]) : GgmlType::F32);
    }
  declare(kGgufFinalNorm, {c.hidden}, GgmlType::F32);
  declare(kGgufEmbedding, {c.vocab, c.hidden}, emb_type);
  if (!tied) declare(kGgufOutput, {c.vocab, c.hidden}, out_type);
  const std::vector<float> rope_factors = gguf_rope_freq_factors(c);
  if (!rope_factors.empty()) declare(kGgufRopeFreqs, {int64_t(rope_factors.size())}, GgmlType::F32);
  w.write_header(out_path);

  auto account = [&](const GgufTensorInfo& info, bool linear) {
    rep.total_params += info.numel();
    rep.total_bits += int64_t(info.nbytes) * 8;
    if (linear) {
      rep.linear_params += info.numel();
      rep.linear_bits += int64_t(info.nbytes) * 8;
    }
  };
  auto info_of = [&](const std::string& name) -> const GgufTensorInfo& {
    for (const auto& i : w.tensors())
      if (i.name == name) return i;
    fail("gguf export: undeclared tensor ", name);
  };
  auto put = [&](const std::string& name, const std::vector<uint8_t>& bytes, bool linear) {
    w.write_tensor_data(name, bytes.data(), bytes.size());
    account(info_of(name), linear);
  };

  // Calibration activations: embeddings of the samples, [n * seqlen, hidden].
  Forward fw(c);
  std::vector<float> x, x_fp;
  int64_t n_seq = 0, seqlen = 0;
  if (calib) {
    n_seq = calib->n_samples;
    seqlen = calib->seqlen;
    x = calibration_embeddings(reader, *calib, rep);
  }

  Progress bar("quantize", n_layers + 1, qo.progress);
  for (int l = 0; l < n_layers; ++l) {
    const auto t_layer = Clock::now();
    const GgmlType layer_type = opt.layer_types[size_t(l)];
    // AWQ: the layer with its scales folded in (norms are stored F32 here, so
    // no rounding); the scale search and the projections then take ggml's
    // rounding, weighted by the scaled input's mean x^2 when opt.importance.
    std::unique_ptr<AwqLayer> awq;
    LayerWeights lw = reader.load_layer(l);
    // The float layer's output (for the layer error), before lw is quantized in place.
    if (calib) {
      x_fp = x;
      run_layer_chunks(fw, lw, l, x_fp.data(), n_seq, seqlen, qo.chunk_rows, nullptr);
    }
    if (qo.method == QuantMethod::kAwq) {
      auto fake_quantizer = [&](Role role) -> FakeQuantizer {
        const GgmlType t = type_of(gguf_layer_tensor_name(role, l), layer_type, lw[role].cols());
        const bool weigh = opt.importance;
        return [t, weigh](const float* wp, int64_t rows, int64_t cols, const float* imp) {
          return quantize_ggml_rtn(wp, rows, cols, t, weigh ? imp : nullptr).dequant;
        };
      };
      awq = std::make_unique<AwqLayer>(
          awq_scale_layer(fw, lw, l, x.data(), n_seq, seqlen, qo, fake_quantizer));
      lw = std::move(awq->scaled);
    }
    std::map<Role, std::vector<uint8_t>> bytes;
    auto quantizer = [&](Role role, Tensor& wt, Gptq* gptq, TensorReport& tr) {
      const GgmlType t = type_of(gguf_layer_tensor_name(role, l), layer_type, wt.cols());
      tr.type = ggml_type_name(t);
      tr.bpw = ggml_bits_per_weight(t);
      GgmlQuantized q;
      if (qo.method == QuantMethod::kGptq) {
        check(gptq != nullptr, "gguf export: GPTQ needs calibration data");
        gptq->factor(qo.gptq);  // in place, once for the projections sharing the input
        q = gptq->quantize_ggml_in_place(wt.ptr(), wt.rows(), t, qo.gptq);
        tr.gptq_loss = q.loss;
      } else {
        std::vector<float> imp;
        if (gptq && opt.importance) imp = gptq->importance();
        q = quantize_ggml_rtn(wt.ptr(), wt.rows(), wt.cols(), t,
                              imp.empty() ? nullptr : imp.data());
        wt.data = std::move(q.dequant);
      }
      bytes[role] = std::move(q.data);
    };
    std::vector<TensorReport> reports =
        quantize_layer_with(fw, lw, l, calib ? x.data() : nullptr, n_seq, seqlen, qo, quantizer);
    if (awq) set_awq_alphas(*awq, reports);
    LayerReport lr;
    lr.layer = l;
    lr.type = ggml_type_name(layer_type);
    lr.spec.bits = int(std::lround(ggml_bits_per_weight(layer_type)));
    if (calib) {
      run_layer_chunks(fw, lw, l, x.data(), n_seq, seqlen, qo.chunk_rows, nullptr);
      lr.output_rel_error = relative_error(x.data(), x_fp.data(), x.size());
    }
    for (const RoleSpec& s : role_table()) {
      if (!role_present(s.role, c)) continue;
      const std::string name = gguf_layer_tensor_name(s.role, l);
      std::vector<uint8_t> data = s.is_linear ? std::move(bytes.at(s.role))
                                              : encode_plain(lw[s.role], GgmlType::F32, nullptr);
      const bool qk =
          s.role == Role::kWq || s.role == Role::kWk || s.role == Role::kBq || s.role == Role::kBk;
      if (qk && gguf_permutes_qk(c)) {
        const int64_t heads =
            (s.role == Role::kWq || s.role == Role::kBq) ? c.n_heads : c.n_kv_heads;
        std::vector<uint8_t> perm(data.size());
        permute_qk_rows(data.data(), perm.data(), heads, c.head_dim,
                        data.size() / size_t(heads * c.head_dim), true);
        data.swap(perm);
      }
      put(name, data, s.is_linear);
    }
    for (auto& tr : reports) rep.tensors.push_back(tr);
    lr.seconds = since(t_layer);
    rep.layers.push_back(lr);
    bar.update(l + 1, calib ? cat("layer ", l, " ", lr.type, " out err ", lr.output_rel_error)
                            : cat("layer ", l, " ", lr.type));
  }

  // Final norm, embedding and output head. The output's calibration input is
  // the final-normed hidden state of the quantized model.
  const auto t_out = Clock::now();
  ModelWeights g;
  reader.load_globals(g);
  put(kGgufFinalNorm, encode_plain(g.final_norm, GgmlType::F32, nullptr), false);
  // One accumulator of the head's input: its importance (mean x^2 per
  // column, llama.cpp's imatrix) weighs rounding, its Hessian drives GPTQ.
  std::vector<float> out_importance;
  std::unique_ptr<Gptq> out_gptq;
  if (calib) {
    fw.final_norm(g, x.data(), calib->rows());
    out_gptq = std::make_unique<Gptq>(c.hidden);
    out_gptq->add_batch(x.data(), calib->rows());
    out_importance = out_gptq->importance();
  }
  std::vector<float>().swap(x);
  std::vector<float>().swap(x_fp);
  auto global_report = [&](const std::string& name, const Tensor& t, GgmlType type, double loss) {
    TensorReport tr;
    tr.name = name;
    tr.layer = -1;
    tr.rows = t.rows();
    tr.cols = t.cols();
    tr.type = ggml_type_name(type);
    tr.bpw = ggml_bits_per_weight(type);
    tr.gptq_loss = loss;
    tr.seconds = since(t_out);
    rep.tensors.push_back(tr);
  };
  // Tied: the embedding is also the output head, weighted by its input.
  const bool weigh_embedding = tied && opt.importance && !out_importance.empty();
  put(kGgufEmbedding,
      encode_plain(g.embed, emb_type, weigh_embedding ? out_importance.data() : nullptr), false);
  global_report(kHfEmbedding, g.embed, emb_type, -1);
  if (!tied) {
    std::vector<uint8_t> data;
    double loss = -1;
    if (out_gptq && qo.method == QuantMethod::kGptq) {
      GgmlQuantized q = out_gptq->quantize_ggml(g.lm_head.ptr(), c.vocab, out_type, qo.gptq);
      data = std::move(q.data);
      loss = q.loss;
    } else {
      data =
          encode_plain(g.lm_head, out_type,
                       opt.importance && !out_importance.empty() ? out_importance.data() : nullptr);
    }
    put(kGgufOutput, data, false);
    global_report(kHfLmHead, g.lm_head, out_type, loss);
  }
  if (!rope_factors.empty()) {
    std::vector<uint8_t> data(rope_factors.size() * sizeof(float));
    std::memcpy(data.data(), rope_factors.data(), data.size());
    put(kGgufRopeFreqs, data, false);
  }
  w.commit();
  bar.update(n_layers + 1, "output");
  rep.file_bytes = int64_t(fs::file_size(out_path));
  rep.seconds = since(t_start);
  bar.finish(cat("linear ", rep.linear_bpw(), " bpw, file ", rep.file_bpw(), " bpw"));
  return rep;
}

}  // namespace lieq
