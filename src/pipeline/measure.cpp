#include "pipeline/measure.h"

#include <chrono>

#include "util/error.h"
#include "util/progress.h"

namespace lieq {

Measurements measure_layers(ModelReader& reader, const CalibSet& calib,
                            const std::vector<int>& levels, int group_size, bool symmetric,
                            const QuantizeOptions& base) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig& c = reader.config();
  Measurements m;
  m.model_path = reader.dir().string();
  m.method = method_name(base.method);
  m.levels = levels;
  m.group_size = group_size;
  m.symmetric = symmetric;
  m.calib_samples = calib.n_samples;
  m.calib_seqlen = calib.seqlen;
  Forward fw(c);
  std::vector<float> x(size_t(calib.rows() * c.hidden)), y_fp, y_q;
  reader.embed_tokens(calib.tokens.data(), calib.rows(), x.data());
  Progress bar("measure", c.n_layers, base.progress);
  for (int l = 0; l < int(c.n_layers); ++l) {
    const LayerWeights w = reader.load_layer(l);
    y_fp = x;
    run_layer_chunks(fw, w, l, y_fp.data(), calib.n_samples, calib.seqlen, base.chunk_rows);
    std::vector<double> row;
    for (int b : levels) {
      const QuantSpec spec{b, group_size, symmetric};
      validate_spec(spec, cat("level ", b));
      const QuantizedLayer ql =
          quantize_layer(fw, w, l, spec, x.data(), calib.n_samples, calib.seqlen, base);
      y_q = x;
      run_layer_chunks(fw, ql.dequantized, l, y_q.data(), calib.n_samples, calib.seqlen,
                       base.chunk_rows);
      row.push_back(relative_error(y_q.data(), y_fp.data(), y_q.size()));
    }
    m.error.push_back(row);
    x.swap(y_fp);  // the next layer sees the float model's activations
    bar.update(l + 1);
  }
  bar.finish();
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

}  // namespace lieq
