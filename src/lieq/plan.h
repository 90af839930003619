// Bit plans: per-decoder-layer widths chosen by an allocator under a
// bits-per-weight budget, saved as a readable JSON a person may edit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lieq/allocate.h"
#include "lieq/diagnose.h"
#include "model/config.h"
#include "quant/qspec.h"

namespace lieq {

enum class AllocatorKind : uint8_t { kLieq, kUniform, kPositional, kLim, kZd, kMeasured };
const char* allocator_name(AllocatorKind a);
bool parse_allocator(const std::string& s, AllocatorKind* out);
std::string allocator_names();  // "lieq, uniform, positional, lim, zd, measured"

// Each layer's relative output error at each level, measured by quantizing the
// layer alone (GPTQ) on calibration inputs from the float model.
struct Measurements {
  std::string model_path, method = "gptq";
  std::vector<int> levels;
  int group_size = 128;
  bool symmetric = false;
  int64_t calib_samples = 0, calib_seqlen = 0;
  std::vector<std::vector<double>> error;  // [layer][level index]
  double seconds = 0;
  // Errors for a subset of the measured levels (throws when one is missing
  // or the grid differs).
  std::vector<std::vector<double>> errors_for(const std::vector<int>& levels, int group_size,
                                              bool symmetric, const std::string& source) const;
};
nlohmann::json measurements_to_json(const Measurements& m);
Measurements read_measurements(const std::filesystem::path& path);

struct Plan {
  std::string model_path, architecture;
  int64_t n_layers = 0;
  std::string allocator;
  double target_bpw = 0;
  std::vector<int> levels;
  int group_size = 128;
  bool symmetric = false;
  // GGUF plans: the ggml type of each level (costs are those types' bytes);
  // empty for lieq's integer grids.
  std::vector<GgmlType> level_types;
  std::vector<int> bits;         // per decoder layer
  std::vector<double> scores;    // the allocator's per-layer scores (empty for uniform/measured)
  int64_t linear_params = 0, linear_bits = 0;
  int64_t other_params = 0, other_bits = 0;
  double linear_bpw() const { return double(linear_bits) / double(linear_params); }
  double file_bpw() const {
    return double(linear_bits + other_bits) / double(linear_params + other_params);
  }
  int64_t expected_file_bytes() const { return (linear_bits + other_bits + 7) / 8; }
  std::vector<QuantSpec> layer_specs() const;
  // Per-layer ggml types (needs level_types).
  std::vector<GgmlType> layer_types() const;
};

// Allocates with the chosen allocator. measured needs `m` (else Error).
Plan make_plan(const Diagnostics& d, AllocatorKind a, double target_bpw,
               const std::vector<int>& levels, int group_size, bool symmetric,
               const Measurements* m = nullptr, const std::vector<GgmlType>& level_types = {});

// Recomputes the exact accounting of plan.bits with the diagnostics' shapes.
void account_plan(Plan& p, const std::vector<LayerShapes>& shapes, int64_t other_params,
                  int64_t other_bits);

nlohmann::json plan_to_json(const Plan& p);
// Reads and validates a plan file (format, version, one entry per layer,
// bits among the supported widths, group size valid). Errors name the file.
Plan read_plan(const std::filesystem::path& path);
// Checks a plan against the model it is applied to (layer count, architecture).
void validate_plan_for_model(const Plan& p, const ModelConfig& c, const std::string& source);

}  // namespace lieq
