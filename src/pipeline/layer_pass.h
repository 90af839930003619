// What the layer-sequential driver and AWQ's scale search share: the
// projection groups of a decoder layer in GPTQ's order, calibration passes
// through one layer, the first layer's calibration input, and the relative
// error both report.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "eval/calibration.h"
#include "model/forward.h"
#include "model/reader.h"

namespace lieq {

// The projections fed by one input, named by the input's observer role
// (LayerObserver::on_linear_input).
struct ProjectionGroup {
  Role input;
  std::vector<Role> roles;
};
// q/k/v, o, gate/up, down: GPTQ's order inside a layer.
const std::vector<ProjectionGroup>& projection_groups();
// The group whose input is `input` (kWq, kWo, kWgate, kWdown); Error otherwise.
const ProjectionGroup& projection_group(Role input);

// Runs `layer` in place over calibration rows x [n_seq * seqlen, hidden] in
// chunks of whole sequences (chunk_rows rows at most per pass).
void run_layer_chunks(Forward& fw, const LayerWeights& lw, int layer, float* x, int64_t n_seq,
                      int64_t seqlen, int64_t chunk_rows, LayerObserver* obs = nullptr);

// The calibration samples' embeddings [n_samples * seqlen, hidden] (the first
// layer's input), read row by row from the checkpoint.
std::vector<float> calibration_embeddings(ModelReader& reader, const CalibSet& calib);

// ||a - b||^2 / ||b||^2 over n values (0 when b is 0).
double relative_error(const float* a, const float* b, size_t n);

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace lieq
