// Bit plans: per-decoder-layer widths chosen by an allocator under a
// bits-per-weight budget, saved as a readable JSON a person may edit.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lieq/allocate.h"
#include "lieq/diagnose.h"
#include "model/arch.h"
#include "model/config.h"
#include "format/storage_format.h"

namespace lieq {

enum class AllocatorKind : uint8_t { kLieq, kUniform, kPositional, kLim, kZd, kMeasured };
const char* allocator_name(AllocatorKind a);
bool parse_allocator(const std::string& s, AllocatorKind* out);
std::string allocator_names();  // "lieq, uniform, positional, lim, zd, measured"

// What one allocation choice covers: a whole decoder layer (the paper's mode,
// one width for all its linear weights) or one tensor group of a layer
// (q/k/v, o, gate/up, down: model/arch.h kTensorGroupNames), as llama.cpp's
// mixes give attn_v and ffn_down more bits than the rest.
enum class Granularity : uint8_t { kLayer, kGroup };
const char* granularity_name(Granularity g);  // "layer", "group"
bool parse_granularity(const std::string& s, Granularity* out);
// LieQ's order for promoting a layer's groups (most deserving first): down,
// then q/k/v, then o, then gate/up. llama.cpp's mixes raise ffn_down and
// attn_v first; gate/up, the largest group, last. Layers come first (by
// score): promoting q/k/v and o of every layer before any down was measured
// on tinylm and lost at the IQ1_M, IQ2_XXS and IQ2_XS sizes (KL divergence
// 15-20% higher; docs/results/tinylm-iquant.md).
inline constexpr std::array<int, kTensorGroups> kGroupPromotionOrder = {3, 0, 1, 2};

// Each layer's (or each tensor group's) relative output error at each level,
// measured by quantizing the layer (the group, the rest of the layer float)
// alone on calibration inputs from the float model.
struct Measurements {
  std::string model_path, method = "gptq";
  Granularity granularity = Granularity::kLayer;
  std::vector<StorageFormat> levels;  // the measured formats
  int64_t calib_samples = 0, calib_seqlen = 0;
  // [layer][level index], or per group [layer * kTensorGroups + group][level index]
  std::vector<std::vector<double>> error;
  double seconds = 0;
  // Errors for a subset of the measured formats (throws naming `source` when
  // one was not measured).
  std::vector<std::vector<double>> errors_for(const std::vector<StorageFormat>& formats,
                                              const std::string& source) const;
};
nlohmann::json measurements_to_json(const Measurements& m);
// Reads version 2 ("levels" as storage formats) and version 1 (bit widths
// with one group size) files. Errors name the file (`source`).
Measurements read_measurements(const std::filesystem::path& path);
Measurements measurements_from_json(const nlohmann::json& j, const std::string& source);

struct Plan {
  std::string model_path, architecture;
  int64_t n_layers = 0;
  std::string allocator;
  Granularity granularity = Granularity::kLayer;
  double target_bpw = 0;
  uint64_t target_size = 0;  // the whole-file limit in bytes it was made for (0: none)
  // With target_size: the embedding's and head's ggml types the size counts
  // (quantize uses them unless told otherwise).
  std::string embed_type, output_type;
  // The levels the allocator chose from: each one's label (the bit width a
  // user names with --levels 2,4) and storage format (int2 g128 asym, Q2_K).
  std::vector<int> levels;
  std::vector<StorageFormat> formats;
  // Per decoder layer: its level's label and its storage format (in a
  // per-group plan: those of the layer's group with the most weights).
  std::vector<int> bits;
  std::vector<StorageFormat> layer_formats;
  // A per-group plan's label and format of each layer's tensor groups
  // (kTensorGroupNames order); empty in a per-layer plan.
  std::vector<std::array<int, kTensorGroups>> group_bits;
  std::vector<std::array<StorageFormat, kTensorGroups>> group_formats;
  bool per_group() const { return !group_formats.empty(); }
  // The format linear `role` of layer l is stored in.
  const StorageFormat& format_of(size_t l, Role role) const;
  std::vector<double> scores;    // the allocator's per-layer scores (empty for uniform/measured)
  int64_t linear_params = 0, linear_bits = 0;
  // The other tensors (embedding, norms, head) as the output stores them;
  // other_bits < 0 when the output chooses their types itself (GGUF).
  int64_t other_params = 0, other_bits = 0;
  bool other_known() const { return other_bits >= 0; }
  double linear_bpw() const { return double(linear_bits) / double(linear_params); }
  double file_bpw() const {
    return double(linear_bits + other_bits) / double(linear_params + other_params);
  }
  int64_t expected_file_bytes() const { return (linear_bits + other_bits + 7) / 8; }
  // Per-layer integer grids / ggml types; Error when a layer has the other kind.
  std::vector<QuantSpec> layer_specs() const;
  std::vector<GgmlType> layer_types() const;
};

// Allocates with the chosen allocator among `formats` (one per label in
// `levels`, both ascending). measured needs `m` (else Error), measured at
// the same granularity. Per group, the score allocators promote (layer,
// group) pairs level by level in order of the layer's score, a layer's
// groups in kGroupPromotionOrder; uniform is the same in both modes.
Plan make_plan(const Diagnostics& d, AllocatorKind a, double target_bpw, const std::vector<int>& levels,
               const std::vector<StorageFormat>& formats, const Measurements* m = nullptr,
               Granularity granularity = Granularity::kLayer);
// The allocation problem of a granularity: one item per layer, or per
// (layer, group) at index layer * kTensorGroups + group, with its linears.
std::vector<LayerShapes> allocation_items(const std::vector<LayerShapes>& layers, Granularity g);

// Recomputes the exact accounting of plan.bits with the diagnostics' shapes.
void account_plan(Plan& p, const std::vector<LayerShapes>& shapes, int64_t other_params,
                  int64_t other_bits);

nlohmann::json plan_to_json(const Plan& p);
// Reads and validates a plan file (format, version, one entry per layer, each
// layer's format valid). Errors name the file.
Plan read_plan(const std::filesystem::path& path);
// Checks a plan against the model it is applied to (layer count, architecture).
void validate_plan_for_model(const Plan& p, const ModelConfig& c, const std::string& source);

}  // namespace lieq
