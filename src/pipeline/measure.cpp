#include "pipeline/measure.h"

#include <chrono>

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

}  // namespace lieq
