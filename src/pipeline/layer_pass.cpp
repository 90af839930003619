#include "pipeline/layer_pass.h"

#include <algorithm>

#include "util/error.h"

namespace lieq {

const std::vector<ProjectionGroup>& projection_groups() {
  static const std::vector<ProjectionGroup> g = {{Role::kWq, {Role::kWq, Role::kWk, Role::kWv}},
                                                 {Role::kWo, {Role::kWo}},
                                                 {Role::kWgate, {Role::kWgate, Role::kWup}},
                                                 {Role::kWdown, {Role::kWdown}}};
  return g;
}

const ProjectionGroup& projection_group(Role input) {
  for (const ProjectionGroup& g : projection_groups())
    if (g.input == input) return g;
  fail("layer pass: role ", int(input), " is not a projection group's input");
}

void run_layer_chunks(Forward& fw, const LayerWeights& lw, int l, float* x, int64_t n_seq,
                      int64_t seqlen, int64_t chunk_rows, LayerObserver* obs) {
  const int64_t per = std::max<int64_t>(1, chunk_rows / seqlen);
  const int64_t d = fw.config().hidden;
  for (int64_t s = 0; s < n_seq; s += per) {
    const int64_t n = std::min(per, n_seq - s);
    fw.layer(lw, l, x + s * seqlen * d, n, seqlen, 0, nullptr, obs);
  }
}

std::vector<float> calibration_embeddings(ModelReader& reader, const CalibSet& calib) {
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

}  // namespace lieq
