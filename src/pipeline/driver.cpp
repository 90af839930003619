#include "pipeline/driver.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "kernels/gemm.h"
#include "pipeline/awq_layer.h"
#include "pipeline/layer_pass.h"
#include "util/error.h"
#include "util/progress.h"

namespace lieq {

DriverOptions DriverOptions::from(const QuantizeOptions& opt) {
  DriverOptions d;
  d.chunk_rows = opt.chunk_rows;
  d.error_rows = opt.error_rows;
  d.progress = opt.progress;
  return d;
}

void check_quantizable(const ModelReader& reader) {
  check(!reader.quantized(), reader.dir().string(),
        ": is already a lieq quantized model; quantize the original model instead");
}

namespace {

using Clock = std::chrono::steady_clock;

// Rows per forward pass while a group's Hessian is accumulated (see sweep_layer).
constexpr int64_t kCaptureRows = 512;

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

// The projections of out.dequantized quantized in GPTQ's order, in place:
// each is replaced by its dequantized values as soon as it is quantized, so
// the layer is held once.
void sweep_layer(Forward& fw, QuantizedLayer& out, const float* x, int64_t n_seq, int64_t seqlen,
                 const Quantizer& q, const LayerSink& sink, const DriverOptions& opt) {
  LayerWeights& w = out.dequantized;
  const int l = out.layer;
  std::vector<float> xc;
  for (const ProjectionGroup& g : projection_groups()) {
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
      // float -> dequantized, in place
      out.tensors[role] = q.quantize(sink.tensor_format(l, role, out.format), wt,
                                     cap ? &cap->gptq() : nullptr, tr, gguf_layer_tensor_name(role, l));
      if (cap) tr.output_rel_error = relative_output_error(yw, wt, cap->kept());
      tr.seconds = seconds_since(t0);
      out.reports.push_back(tr);
    }
  }
}

}  // namespace

QuantizedLayer quantize_layer(Forward& fw, LayerWeights w, int l, const StorageFormat& format,
                              const float* x, int64_t n_seq, int64_t seqlen, const Quantizer& q,
                              const LayerSink& sink, const DriverOptions& opt) {
  QuantizedLayer out;
  out.layer = l;
  out.format = format;
  AwqLayer awq;
  if (q.method == QuantMethod::kAwq) {
    check(x != nullptr, "quantize: AWQ needs calibration data");
    awq = awq_scale_layer(
        fw, w, l, x, n_seq, seqlen, q.awq, opt.chunk_rows, sink.folded_dtypes(l),
        [&](Role role) { return q.fake_quantizer(sink.tensor_format(l, role, format)); });
    w = std::move(awq.scaled);
    out.awq_folded = true;
  }
  out.dequantized = std::move(w);
  sweep_layer(fw, out, x, n_seq, seqlen, q, sink, opt);
  if (out.awq_folded) set_awq_alphas(awq, out.reports);
  return out;
}

namespace {

// The walk both entry points share. formats[l]: the formats layer l is
// quantized into, each from the float layer. float_inputs: every layer
// calibrated on the float model's outputs (measurements) instead of the
// quantized layers' (an output: one format per layer).
void walk_layers(ModelReader& reader, const CalibSet* calib, const Quantizer& q,
                 const std::vector<std::vector<StorageFormat>>& formats, bool float_inputs,
                 LayerSink& sink, const DriverOptions& opt, const char* label,
                 QuantizeReport& rep) {
  const auto t_start = Clock::now();
  const ModelConfig& c = reader.config();
  const int n_layers = int(c.n_layers);
  check(int64_t(formats.size()) == c.n_layers, "quantize: ", formats.size(), " layer formats for ",
        n_layers, " layers");
  // Calibration activations: embeddings of the samples, [n * seqlen, hidden].
  Forward fw(c);
  std::vector<float> x, x_fp, y;
  int64_t n_seq = 0, seqlen = 0;
  if (calib) {
    n_seq = calib->n_samples;
    seqlen = calib->seqlen;
    rep.calib_samples = calib->n_samples;
    rep.calib_seqlen = calib->seqlen;
    rep.calib_text_tokens = calib->text_tokens;
    rep.calib_warning = calib->warning;
    x = calibration_embeddings(reader, *calib);
  }
  Progress bar(label, n_layers + sink.n_finish_steps(), opt.progress);
  for (int l = 0; l < n_layers; ++l) {
    const auto t_layer = Clock::now();
    const std::vector<StorageFormat>& fl = formats[size_t(l)];
    check(!fl.empty() && (float_inputs || fl.size() == 1),
          "quantize: one format per layer, except for measurements");
    LayerWeights w = reader.load_layer(l);
    // The layer's output with float weights (for its error), before the
    // weights are quantized in place.
    if (calib) {
      x_fp = x;
      run_layer_chunks(fw, w, l, x_fp.data(), n_seq, seqlen, opt.chunk_rows);
    }
    std::string note;
    for (size_t k = 0; k < fl.size(); ++k) {
      LayerWeights wk = k + 1 < fl.size() ? LayerWeights(w) : std::move(w);
      QuantizedLayer ql = quantize_layer(fw, std::move(wk), l, fl[k], calib ? x.data() : nullptr,
                                         n_seq, seqlen, q, sink, opt);
      LayerReport lr;
      lr.layer = l;
      lr.format = fl[k];
      lr.type = fl[k].name();
      for (const TensorReport& tr : ql.reports) {
        lr.params += tr.rows * tr.cols;
        lr.bits += tr.bits;
      }
      if (calib) {
        // With the quantized weights: the next layer's input (of a copy
        // when the next layer sees the float model's).
        float* xq = x.data();
        if (float_inputs) xq = (y = x).data();
        run_layer_chunks(fw, ql.dequantized, l, xq, n_seq, seqlen, opt.chunk_rows);
        lr.output_rel_error = relative_error(xq, x_fp.data(), x.size());
      }
      sink.put_layer(ql, rep);
      for (TensorReport& tr : ql.reports) rep.tensors.push_back(std::move(tr));
      lr.seconds = seconds_since(t_layer);
      rep.layers.push_back(lr);
      note += cat(note.empty() ? cat("layer ", l, " ") : std::string(", "), lr.type,
                  calib ? cat(" out err ", lr.output_rel_error) : std::string());
    }
    if (float_inputs && calib) x.swap(x_fp);  // the next layer sees the float model's outputs
    bar.update(l + 1, note);
  }
  std::vector<float>().swap(x_fp);
  std::vector<float>().swap(y);
  sink.finish(fw, calib ? &x : nullptr, rep);
  if (sink.n_finish_steps() > 0) bar.update(n_layers + sink.n_finish_steps(), "output");
  rep.seconds = seconds_since(t_start);
  bar.finish(rep.linear_params > 0
                 ? cat("linear ", rep.linear_bpw(), " bpw, file ", rep.file_bpw(), " bpw")
                 : std::string());
  sink.commit(rep);
}

}  // namespace

void quantize_layers(ModelReader& reader, const CalibSet* calib, const Quantizer& q,
                     const std::vector<StorageFormat>& layer_formats, LayerSink& sink,
                     const DriverOptions& opt, QuantizeReport& rep) {
  check_quantizable(reader);
  std::vector<std::vector<StorageFormat>> formats;
  for (const StorageFormat& f : layer_formats) formats.push_back({f});
  sink.begin(layer_formats, rep);
  walk_layers(reader, calib, q, formats, false, sink, opt, "quantize", rep);
}

std::vector<std::vector<double>> measure_layer_errors(ModelReader& reader, const CalibSet& calib,
                                                      const Quantizer& q,
                                                      const std::vector<StorageFormat>& levels,
                                                      const DriverOptions& opt) {
  const int n_layers = int(reader.config().n_layers);
  NullSink sink;
  QuantizeReport rep;
  walk_layers(reader, &calib, q, std::vector<std::vector<StorageFormat>>(size_t(n_layers), levels),
              true, sink, opt, "measure", rep);
  std::vector<std::vector<double>> error(static_cast<size_t>(n_layers));
  for (const LayerReport& lr : rep.layers) error[size_t(lr.layer)].push_back(lr.output_rel_error);
  return error;
}

std::vector<std::vector<double>> measure_group_errors(ModelReader& reader, const CalibSet& calib,
                                                      const Quantizer& q,
                                                      const std::vector<StorageFormat>& levels,
                                                      const DriverOptions& opt) {
  check_quantizable(reader);
  const ModelConfig& c = reader.config();
  const int n_layers = int(c.n_layers);
  const size_t K = levels.size();
  const int64_t n_seq = calib.n_samples, seqlen = calib.seqlen;
  Forward fw(c);
  std::vector<float> x = calibration_embeddings(reader, calib), x_fp, y;
  std::vector<std::vector<double>> error(size_t(n_layers) * kTensorGroups, std::vector<double>(K));
  const bool awq = q.method == QuantMethod::kAwq;
  Progress bar("measure", n_layers * kTensorGroups, opt.progress);
  for (int l = 0; l < n_layers; ++l) {
    const LayerWeights w = reader.load_layer(l);
    x_fp = x;
    run_layer_chunks(fw, w, l, x_fp.data(), n_seq, seqlen, opt.chunk_rows);
    // AWQ: the layer scaled for each level (its float output unchanged).
    std::vector<LayerWeights> scaled;
    if (awq)
      for (const StorageFormat& f : levels)
        scaled.push_back(awq_scale_layer(fw, w, l, x.data(), n_seq, seqlen, q.awq, opt.chunk_rows,
                                         {}, [&](Role) { return q.fake_quantizer(f); })
                             .scaled);
    // The float layer with one group quantized at a time (restored after);
    // AWQ: a copy of the layer scaled for the level.
    LayerWeights work = awq ? LayerWeights() : w;
    int gi = 0;
    for (const ProjectionGroup& g : projection_groups()) {
      const int group = tensor_group_of(g.input);
      std::unique_ptr<GroupCapture> cap;
      std::string note;
      for (size_t k = 0; k < K; ++k) {
        if (awq) work = scaled[k];
        if (!cap || awq) {
          // The group's inputs with the rest of the layer float: one Hessian
          // for every level (factored by the first, reused after).
          cap = std::make_unique<GroupCapture>(g.input, work[g.roles[0]].cols(), 0);
          y = x;
          run_layer_chunks(fw, work, l, y.data(), n_seq, seqlen,
                           std::min<int64_t>(opt.chunk_rows, kCaptureRows), cap.get());
        }
        for (Role role : g.roles) {
          TensorReport tr;
          (void)q.quantize(levels[k], work[role], &cap->gptq(), tr, gguf_layer_tensor_name(role, l));
        }
        y = x;
        run_layer_chunks(fw, work, l, y.data(), n_seq, seqlen, opt.chunk_rows);
        const double e = relative_error(y.data(), x_fp.data(), x.size());
        error[size_t(l) * kTensorGroups + size_t(group)][k] = e;
        if (!awq)
          for (Role role : g.roles) work[role] = w[role];
        note += cat(note.empty() ? cat("layer ", l, " ", kTensorGroupNames[size_t(group)], " ")
                                 : std::string(", "),
                    levels[k].name(), " ", e);
      }
      bar.update(l * kTensorGroups + ++gi, note);
    }
    x.swap(x_fp);  // the next layer sees the float model's outputs
    fw.release_scratch();
  }
  bar.finish("");
  return error;
}

}  // namespace lieq
