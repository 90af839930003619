#include "pipeline/quantize.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "kernels/gemm.h"
#include "model/forward.h"
#include "pipeline/awq_layer.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/half.h"
#include "util/json_file.h"
#include "util/progress.h"

namespace lieq {
namespace fs = std::filesystem;

const char* method_name(QuantMethod m) {
  switch (m) {
    case QuantMethod::kRtn:
      return "rtn";
    case QuantMethod::kGptq:
      return "gptq";
    case QuantMethod::kAwq:
      return "awq";
  }
  return "?";
}

bool parse_method(const std::string& s, QuantMethod* out) {
  for (QuantMethod m : {QuantMethod::kRtn, QuantMethod::kGptq, QuantMethod::kAwq}) {
    if (s == method_name(m)) {
      *out = m;
      return true;
    }
  }
  return false;
}

namespace {

using Clock = std::chrono::steady_clock;

// Rows per forward pass while a group's Hessian is accumulated (see quantize_layer_with).
constexpr int64_t kCaptureRows = 512;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The projections fed by each input group, in GPTQ's order inside a layer.
struct Group {
  Role input;               // the group's observer role
  std::vector<Role> roles;  // projections sharing that input
};
const std::vector<Group>& layer_groups() {
  static const std::vector<Group> g = {{Role::kWq, {Role::kWq, Role::kWk, Role::kWv}},
                                       {Role::kWo, {Role::kWo}},
                                       {Role::kWgate, {Role::kWgate, Role::kWup}},
                                       {Role::kWdown, {Role::kWdown}}};
  return g;
}

// Accumulates the Hessian of one group's input and keeps its first rows for
// measuring output errors; stops the layer once the input was seen.
class GroupCapture : public LayerObserver {
 public:
  GroupCapture(Role group, int64_t n_in, int64_t keep_rows)
      : group_(group), n_in_(n_in), keep_rows_(keep_rows), gptq_(n_in) {}
  void on_linear_input(int, Role g, const float* x, int64_t rows, int64_t cols) override {
    if (g != group_) return;
    check(cols == n_in_, "calibration: unexpected input width");
    gptq_.add_batch(x, rows);
    const int64_t take = std::min(rows, keep_rows_ - int64_t(kept_.size()) / n_in_);
    if (take > 0) kept_.insert(kept_.end(), x, x + take * cols);
  }
  bool stop_after_input(Role g) override { return g == group_; }
  Gptq& gptq() { return gptq_; }
  const std::vector<float>& kept() const { return kept_; }  // [rows, n_in]

 private:
  Role group_;
  int64_t n_in_, keep_rows_;
  Gptq gptq_;
  std::vector<float> kept_;
};

// y [rows, n_out] = x [rows, n_in] W^T: the outputs of the kept calibration rows.
std::vector<float> kept_outputs(const Tensor& w, const std::vector<float>& x) {
  const int64_t rows = int64_t(x.size()) / w.cols();
  std::vector<float> y(static_cast<size_t>(rows * w.rows()));
  matmul_nt(x.data(), w.ptr(), y.data(), rows, w.rows(), w.cols());
  return y;
}

// ||X Q^T - X W^T||^2 / ||X W^T||^2 given yw = X W^T (kept_outputs of the
// float weights, computed before W was replaced by Q).
double relative_output_error(const std::vector<float>& yw, const Tensor& q,
                             const std::vector<float>& x) {
  if (x.empty()) return -1;
  const std::vector<float> yq = kept_outputs(q, x);
  return relative_error(yq.data(), yw.data(), yw.size());
}

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

}  // namespace

void run_layer_chunks(Forward& fw, const LayerWeights& lw, int l, float* x, int64_t n_seq,
                      int64_t seqlen, int64_t chunk_rows, LayerObserver* obs) {
  const int64_t per = std::max<int64_t>(1, chunk_rows / seqlen);
  const int64_t d = fw.config().hidden;
  for (int64_t s = 0; s < n_seq; s += per) {
    const int64_t n = std::min(per, n_seq - s);
    fw.layer(lw, l, x + s * seqlen * d, n, seqlen, 0, nullptr, obs);
  }
}

std::vector<float> calibration_embeddings(ModelReader& reader, const CalibSet& calib,
                                          QuantizeReport& rep) {
  rep.calib_samples = calib.n_samples;
  rep.calib_seqlen = calib.seqlen;
  rep.calib_text_tokens = calib.text_tokens;
  rep.calib_warning = calib.warning;
  std::vector<float> x(size_t(calib.rows() * reader.config().hidden));
  reader.embed_tokens(calib.tokens.data(), calib.rows(), x.data());
  return x;
}

double relative_error(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(a[i]) - b[i];
    num += d * d;
    den += double(b[i]) * b[i];
  }
  return den > 0 ? num / den : 0.0;
}

std::vector<TensorReport> quantize_layer_with(Forward& fw, LayerWeights& w, int l, const float* x,
                                              int64_t n_seq, int64_t seqlen,
                                              const QuantizeOptions& opt,
                                              const TensorQuantizer& quantize) {
  std::vector<TensorReport> reports;
  std::vector<float> xc;
  for (const Group& g : layer_groups()) {
    std::unique_ptr<GroupCapture> cap;
    if (x) {
      const int64_t n_in = w[g.roles[0]].cols();
      cap = std::make_unique<GroupCapture>(g.input, n_in, opt.error_rows);
      // Inputs of this group with every earlier group already quantized.
      // In passes of at most kCaptureRows rows: the group's Hessian is held
      // while the pass runs, so its activations are kept small (at
      // Qwen3-4B's shape: 66 MB of scratch next to down_proj's 378 MB Hessian).
      xc.assign(x, x + n_seq * seqlen * fw.config().hidden);
      run_layer_chunks(fw, w, l, xc.data(), n_seq, seqlen,
                       std::min<int64_t>(opt.chunk_rows, kCaptureRows), cap.get());
      // The activations are not needed until the next group's pass: the
      // sweep gets their memory (265 MB at Qwen3-4B's shape, 2048 rows).
      std::vector<float>().swap(xc);
      fw.release_scratch();
    }
    for (Role role : g.roles) {
      const auto t0 = Clock::now();
      Tensor& wt = w[role];
      TensorReport tr;
      tr.name = hf_layer_tensor_name(role, l);
      tr.layer = l;
      tr.rows = wt.rows();
      tr.cols = wt.cols();
      const std::vector<float> yw = cap ? kept_outputs(wt, cap->kept()) : std::vector<float>{};
      quantize(role, wt, cap ? &cap->gptq() : nullptr, tr);  // float -> dequantized, in place
      if (cap) tr.output_rel_error = relative_output_error(yw, wt, cap->kept());
      tr.seconds = since(t0);
      reports.push_back(tr);
    }
  }
  return reports;
}

QuantizedLayer quantize_layer(Forward& fw, LayerWeights w, int l, const QuantSpec& spec,
                              const float* x, int64_t n_seq, int64_t seqlen,
                              const QuantizeOptions& opt) {
  QuantizedLayer out;
  auto quantizer = [&](Role role, Tensor& wt, Gptq* gptq, TensorReport& tr) {
    tr.spec = spec;
    tr.type = spec.name();
    tr.bpw = spec.bits_per_weight(wt.rows(), wt.cols());
    QuantizedTensor qt;
    if (opt.method == QuantMethod::kGptq) {
      check(gptq != nullptr, "quantize: GPTQ needs calibration data");
      gptq->factor(opt.gptq);  // in place, once for the projections sharing the input
      GptqResult r = gptq->quantize_in_place(wt.ptr(), wt.rows(), spec, opt.gptq);
      tr.gptq_loss = r.loss;
      out.tensors[role] = std::move(r.q);
      return;
    }
    if (opt.method == QuantMethod::kAwq) {
      check(gptq != nullptr, "quantize: AWQ needs calibration data");
      qt = awq_quantize_clipped(wt.ptr(), wt.rows(), wt.cols(), spec, gptq->hessian().data(),
                                opt.awq);
    } else {
      qt = quantize_rtn(wt.ptr(), wt.rows(), wt.cols(), spec, opt.rtn);
    }
    qt.dequantize_into(wt.ptr());
    out.tensors[role] = std::move(qt);
  };
  if (opt.method == QuantMethod::kAwq) {
    check(x != nullptr, "quantize: AWQ needs calibration data");
    // The scale search rounds with plain RTN (the reference's pseudo-quantizer).
    const FakeQuantizer rtn = [&spec](const float* wp, int64_t rows, int64_t cols, const float*) {
      return quantize_rtn(wp, rows, cols, spec).dequantize();
    };
    AwqLayer a = awq_scale_layer(fw, w, l, x, n_seq, seqlen, opt, [&](Role) { return rtn; });
    w = std::move(a.scaled);
    out.reports = quantize_layer_with(fw, w, l, x, n_seq, seqlen, opt, quantizer);
    set_awq_alphas(a, out.reports);
  } else {
    out.reports = quantize_layer_with(fw, w, l, x, n_seq, seqlen, opt, quantizer);
  }
  out.dequantized = std::move(w);
  return out;
}

QuantizeReport quantize_model(ModelReader& reader, const CalibSet* calib,
                              const QuantizeOptions& opt, const fs::path& out_dir) {
  const auto t_start = Clock::now();
  const ModelConfig& c = reader.config();
  const int n_layers = int(c.n_layers);
  check(!reader.quantized(), reader.dir().string(),
        ": is already a lieq quantized model; quantize the original model instead");
  check(int64_t(opt.layer_specs.size()) == c.n_layers, "quantize: ", opt.layer_specs.size(),
        " layer specs for ", n_layers, " layers");
  for (int l = 0; l < n_layers; ++l) validate_spec(opt.layer_specs[size_t(l)], cat("layer ", l));
  check(opt.method == QuantMethod::kRtn || calib,
        "quantize: ", opt.method == QuantMethod::kAwq ? "AWQ" : "GPTQ", " needs calibration data");

  // Output directory: refuse to clobber something that is not ours.
  std::error_code ec;
  if (fs::exists(out_dir, ec)) {
    check(fs::is_directory(out_dir, ec), out_dir.string(), ": exists and is not a directory");
    check(fs::is_empty(out_dir, ec) || is_quantized_dir(out_dir), out_dir.string(),
          ": exists and is not a lieq quantized model; choose another output directory");
  }
  fs::path tmp_dir = out_dir;
  tmp_dir += cat(".partial.", ::getpid());
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir);
  struct Cleanup {
    fs::path dir;
    bool keep = false;
    ~Cleanup() {
      std::error_code e;
      if (!keep) fs::remove_all(dir, e);
    }
  } cleanup{tmp_dir};

  QuantizeReport rep;
  rep.source = reader.dir().string();
  rep.method = method_name(opt.method);

  // Declare every output tensor up front, in the order they will be written:
  // globals, then layer by layer (its unquantized tensors, then the linears).
  QuantManifest manifest;
  manifest.method = rep.method;
  manifest.source = rep.source;
  std::vector<SafetensorsStreamWriter::Decl> decls;
  std::vector<std::string> globals = {kHfEmbedding, kHfFinalNorm};
  if (!c.tie_word_embeddings) globals.push_back(kHfLmHead);
  auto declare_raw = [&](const std::string& name) {
    const TensorView& t = reader.store().get(name);
    decls.push_back({name, t.dtype, t.shape});
    rep.total_params += t.numel();
    rep.total_bits += int64_t(t.nbytes) * 8;
  };
  for (const auto& g : globals) declare_raw(g);
  for (int l = 0; l < n_layers; ++l) {
    for (const RoleSpec& r : role_table())
      if (role_present(r.role, c) && !r.is_linear) declare_raw(hf_layer_tensor_name(r.role, l));
    for (Role role : kLinearRoles) {
      const auto shape = role_shape(role, c);
      const QuantEntry e{opt.layer_specs[size_t(l)], shape[0], shape[1]};
      const std::string name = hf_layer_tensor_name(role, l);
      manifest.tensors[name] = e;
      for (auto& d : quantized_decls(name, e)) decls.push_back(d);
      const int64_t bits = e.spec.storage_bits(e.rows, e.cols);
      rep.linear_params += e.rows * e.cols;
      rep.linear_bits += bits;
      rep.total_params += e.rows * e.cols;
      rep.total_bits += bits;
    }
  }
  SafetensorsStreamWriter writer(tmp_dir / "model.safetensors", decls,
                                 {{"format", "lieq-quant"}, {"method", rep.method}});
  auto write_raw = [&](const std::string& name) {
    const TensorView& t = reader.store().get(name);
    writer.write(name, t.data, t.nbytes);
  };
  for (const auto& g : globals) write_raw(g);

  // Calibration activations: embeddings of the samples, [n * seqlen, hidden].
  Forward fw(c);
  std::vector<float> x, x_fp;
  int64_t n_seq = 0, seqlen = 0;
  if (calib) {
    n_seq = calib->n_samples;
    seqlen = calib->seqlen;
    x = calibration_embeddings(reader, *calib, rep);
  }

  Progress bar("quantize", n_layers, opt.progress);
  for (int l = 0; l < n_layers; ++l) {
    const auto t_layer = Clock::now();
    const QuantSpec& spec = opt.layer_specs[size_t(l)];
    LayerWeights w = reader.load_layer(l);
    QuantizeOptions lo = opt;
    for (const RoleSpec& r : role_table())
      if (role_present(r.role, c) && !r.is_linear)
        lo.stored_dtypes[r.role] = reader.store().get(hf_layer_tensor_name(r.role, l)).dtype;
    // The layer's output with float weights (for its error), before the
    // weights are quantized in place.
    if (calib) {
      x_fp = x;
      run_layer_chunks(fw, w, l, x_fp.data(), n_seq, seqlen, opt.chunk_rows, nullptr);
    }
    QuantizedLayer ql =
        quantize_layer(fw, std::move(w), l, spec, calib ? x.data() : nullptr, n_seq, seqlen, lo);
    for (auto& tr : ql.reports) rep.tensors.push_back(tr);
    const LayerWeights& q = ql.dequantized;
    LayerReport lr;
    lr.layer = l;
    lr.spec = spec;
    lr.type = spec.name();
    if (calib) {
      // With the quantized weights: the next layer's input.
      run_layer_chunks(fw, q, l, x.data(), n_seq, seqlen, opt.chunk_rows, nullptr);
      lr.output_rel_error = relative_error(x.data(), x_fp.data(), x.size());
    }
    // Stream this layer: unquantized tensors (AWQ's folded norms and biases
    // re-encoded in their source dtype; they were rounded to it before the
    // fold, so the encoding is exact), then the quantized linears.
    for (const RoleSpec& r : role_table()) {
      if (!role_present(r.role, c) || r.is_linear) continue;
      const std::string name = hf_layer_tensor_name(r.role, l);
      const bool folded =
          r.role == Role::kAttnNorm || r.role == Role::kFfnNorm || r.role == Role::kBv;
      if (opt.method == QuantMethod::kAwq && folded) {
        const std::vector<uint8_t> bytes =
            encode_float_tensor(q[r.role], reader.store().get(name).dtype, name);
        writer.write(name, bytes.data(), bytes.size());
      } else {
        write_raw(name);
      }
    }
    for (Role role : kLinearRoles)
      write_quantized(writer, hf_layer_tensor_name(role, l), ql.tensors.at(role));
    lr.seconds = since(t_layer);
    rep.layers.push_back(lr);
    bar.update(l + 1, calib ? cat("layer ", l, " ", spec.name(), " out err ", lr.output_rel_error)
                            : cat("layer ", l, " ", spec.name()));
  }
  writer.commit();
  manifest.write(tmp_dir / kQuantManifestFile);
  copy_aux_files(reader.dir(), tmp_dir);
  for (const auto& [name, contents] : opt.extra_files) write_file_atomic(tmp_dir / name, contents);
  rep.file_bytes = int64_t(fs::file_size(tmp_dir / "model.safetensors"));
  rep.seconds = since(t_start);
  bar.finish(cat("linear ", rep.linear_bpw(), " bpw, file ", rep.file_bpw(), " bpw"));
  write_file_atomic(tmp_dir / "quantize_report.json", report_json(rep));

  // Put the finished directory in place.
  if (fs::exists(out_dir, ec)) fs::remove_all(out_dir);
  fs::rename(tmp_dir, out_dir);
  cleanup.keep = true;
  return rep;
}

std::string report_json(const QuantizeReport& r) {
  json j;
  j["source"] = r.source;
  j["method"] = r.method;
  j["seconds"] = r.seconds;
  j["linear_bpw"] = r.linear_bpw();
  j["file_bpw"] = r.file_bpw();
  j["linear_params"] = r.linear_params;
  j["total_params"] = r.total_params;
  j["file_bytes"] = r.file_bytes;
  j["calibration"] = {{"samples", r.calib_samples},
                      {"seqlen", r.calib_seqlen},
                      {"text_tokens", r.calib_text_tokens},
                      {"warning", r.calib_warning}};
  auto spec_json = [](const QuantSpec& s) {
    return json{{"bits", s.bits}, {"group_size", s.group_size}, {"symmetric", s.symmetric}};
  };
  j["layers"] = json::array();
  for (const auto& l : r.layers)
    j["layers"].push_back({{"layer", l.layer},
                           {"spec", spec_json(l.spec)},
                           {"type", l.type},
                           {"output_rel_error", l.output_rel_error},
                           {"seconds", l.seconds}});
  j["tensors"] = json::array();
  for (const auto& t : r.tensors)
    j["tensors"].push_back({{"name", t.name},
                            {"layer", t.layer},
                            {"spec", spec_json(t.spec)},
                            {"type", t.type},
                            {"shape", {t.rows, t.cols}},
                            {"bpw", t.bpw},
                            {"output_rel_error", t.output_rel_error},
                            {"gptq_loss", t.gptq_loss},
                            {"awq_alpha", t.awq_alpha},
                            {"seconds", t.seconds}});
  return j.dump(1) + "\n";
}

}  // namespace lieq
