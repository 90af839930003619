// `lieq diagnose`: the three layer-wise diagnostics of docs/METHOD.md on
// calibration tokens (Perplexity Drop, Representational Compactness, Top-k
// Energy Gain), their min-max combined score and ranking, and LIM and ZD for
// comparison; plus the model facts a plan needs (shapes, stored bits).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lieq/allocate.h"
#include "model/reader.h"
#include "eval/calibration.h"

namespace lieq {

struct DiagnoseOptions {
  int64_t energy_k = 0;           // top-k of the energy share; 0 = 1% of hidden, at least 8
  uint64_t random_seed = 1234;    // the random reference model's init
  bool random_reference = true;   // RC and TEG of a random model of the same config
  double w_dppl = 1, w_rc = 1, w_teg = 1;
  std::string normalisation = "minmax";  // "minmax" (METHOD.md) or "rank"
  bool teg_magnitude = true;             // score |TEG| (docs/DIAGNOSTICS.md) or signed TEG
  int64_t chunk_rows = 2048;      // calibration rows per forward pass
  bool progress = true;
};

struct LayerDiagnostics {
  int layer = 0;
  double ppl_bypassed = 0;
  double dppl = 0;                   // (ppl with the layer bypassed - base) / base
  double rc_trained = 0, rc_random = 0;
  double rc = 0;                     // trained - random (or trained alone), mean over q, k, v
  double rc_q = 0, rc_k = 0, rc_v = 0;  // trained, per projection
  double energy_in = 0, energy_out = 0;  // top-k share of the input / output hidden states
  double teg = 0;                    // energy_out - energy_in
  double teg_random = 0;             // the same for the random model
  double lim = 0, zd = 0;
  double score = 0;                  // w1 norm(dPPL) + w2 norm(RC) + w3 norm(TEG)
  int rank = 0;                      // 1 = highest score
};

struct Diagnostics {
  std::string model_path, architecture;
  int64_t n_layers = 0, hidden = 0, energy_k = 0;
  double base_ppl = 0;
  int64_t calib_samples = 0, calib_seqlen = 0;
  std::string calib_source;
  double w_dppl = 1, w_rc = 1, w_teg = 1;
  std::string normalisation = "minmax";
  bool teg_magnitude = true;
  bool random_reference = true;
  uint64_t random_seed = 0;
  std::vector<LayerDiagnostics> layers;
  // For planning without the model: linear shapes per layer and the other
  // tensors (embedding, output head, norms, biases) as stored.
  std::vector<LayerShapes> layer_shapes;
  int64_t other_params = 0, other_bits = 0;
  std::map<std::string, double> seconds;  // per stage
};

Diagnostics diagnose(ModelReader& reader, const CalibSet& calib, const DiagnoseOptions& opt);
// The metrics for weights already in memory (fills d.layers, d.base_ppl and
// the settings; the model description fields are left to the caller).
void diagnose_weights(const ModelConfig& c, const ModelWeights& w, const CalibSet& calib,
                      const DiagnoseOptions& opt, Diagnostics& d);

// Combined score and rank from the metrics (weights and normalisation as
// stored in d: "minmax" or "rank"; anything else is an Error).
void score_layers(Diagnostics& d);

nlohmann::json diagnostics_to_json(const Diagnostics& d);
// Throws Error naming `source` when a field is missing or malformed.
Diagnostics diagnostics_from_json(const nlohmann::json& j, const std::string& source);
Diagnostics read_diagnostics(const std::filesystem::path& path);

// The shapes and stored bits of a model (what a plan needs).
void describe_model(const ModelReader& reader, Diagnostics& d);

}  // namespace lieq
