#include "pipeline/measure.h"

#include <chrono>

#include "kernels/gemm.h"
#include "pipeline/driver.h"
#include "pipeline/layer_pass.h"

namespace lieq {

Measurements measure_layers(ModelReader& reader, const CalibSet& calib,
                            const std::vector<StorageFormat>& levels, const QuantizeOptions& base,
                            Granularity granularity) {
  const auto t0 = std::chrono::steady_clock::now();
  Measurements m;
  m.model_path = reader.dir().string();
  m.method = method_name(base.method);
  m.levels = levels;
  m.granularity = granularity;
  m.calib_samples = calib.n_samples;
  m.calib_seqlen = calib.seqlen;
  const Quantizer q = Quantizer::from(base);
  q.validate(levels, true, "measure");
  m.error = granularity == Granularity::kGroup
                ? measure_group_errors(reader, calib, q, levels, DriverOptions::from(base))
                : measure_layer_errors(reader, calib, q, levels, DriverOptions::from(base));
  m.seconds = seconds_since(t0);
  return m;
}

std::vector<double> measure_head_errors(ModelReader& reader, const CalibSet& calib,
                                        const std::vector<GgmlType>& types,
                                        const QuantizeOptions& base) {
  const ModelConfig& c = reader.config();
  Forward fw(c);
  std::vector<float> x = calibration_embeddings(reader, calib);
  for (int l = 0; l < int(c.n_layers); ++l) {
    const LayerWeights w = reader.load_layer(l);
    run_layer_chunks(fw, w, l, x.data(), calib.n_samples, calib.seqlen, base.chunk_rows);
  }
  ModelWeights g;
  reader.load_globals(g);
  const int64_t rows = calib.rows();
  fw.final_norm(g, x.data(), rows);
  Gptq hessian(c.hidden);
  hessian.add_batch(x.data(), rows);
  const Tensor& w = g.output();
  // Logits of the first rows: [keep, vocab].
  const int64_t keep = std::min(rows, base.error_rows);
  std::vector<float> y(size_t(keep * w.rows())), yq(y.size());
  matmul_nt(x.data(), w.ptr(), y.data(), keep, w.rows(), w.cols());
  const Quantizer q = Quantizer::from(base);
  std::vector<double> err;
  for (GgmlType t : types) {
    Tensor wq = w;
    TensorReport tr;
    (void)q.quantize(StorageFormat::ggml(t), wq, &hessian, tr);
    matmul_nt(x.data(), wq.ptr(), yq.data(), keep, wq.rows(), wq.cols());
    err.push_back(relative_error(yq.data(), y.data(), y.size()));
  }
  return err;
}

}  // namespace lieq
