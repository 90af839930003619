// The pipeline's stages as library calls with typed requests: calibration,
// diagnose, measure and plan. Each stage's file goes through the artifact
// cache (jobs/artifact.h), so a rerun with the same settings reuses it and
// any other settings make it anew. The command line (src/cli) only turns
// flags into these requests and prints what comes back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/calibration.h"
#include "format/ggml_policy.h"
#include "format/storage_format.h"
#include "jobs/artifact.h"
#include "lieq/diagnose.h"
#include "lieq/plan.h"

namespace lieq::jobs {

struct CalibRequest {
  std::string file;
  int64_t samples = 128, seqlen = 2048;
  uint64_t seed = 0;
};
// {"file": absolute path, "samples", "seqlen", "seed"}.
nlohmann::json calib_settings(const CalibRequest& c);
// Tokenizes the calibration file for the model (a warning on stderr when the
// text is short).
CalibSet load_calibration(const std::string& model, const CalibRequest& c, int64_t max_positions);

struct DiagnoseRequest {
  std::string model;
  CalibRequest calib{"", 32, 512, 0};
  DiagnoseOptions options;
};
// What the diagnostics depend on: the model, the calibration and the options.
nlohmann::json diagnose_settings(const DiagnoseRequest& r);
// Diagnoses the model (an Error for a lieq quantized directory).
Diagnostics run_diagnose(const DiagnoseRequest& r);
// The diagnostics saved at `path` (with their chart, .svg beside it) when
// made with r's settings, else diagnosed and saved.
Diagnostics diagnose_cached(const DiagnoseRequest& r, const std::filesystem::path& path,
                            const ArtifactCache& cache);
// The diagnostics chart (min-max normalised metrics and the score per layer).
std::string diagnostics_chart_svg(const Diagnostics& d);

// Diagnostics rescored before allocation; empty fields keep the stored ones.
struct Rescore {
  std::string normalisation;          // "minmax" or "rank"
  std::vector<double> weights;        // dPPL, RC, TEG
  std::optional<bool> teg_magnitude;  // |TEG| (true) or signed TEG
};

struct MeasureRequest {
  std::string model;                   // empty: the diagnosed model
  CalibRequest calib{"", 32, 512, 0};  // empty file: the diagnostics' calibration
  std::filesystem::path path;          // empty: beside the diagnostics
};
// What measurements depend on besides the formats: model, calibration,
// method, granularity.
nlohmann::json measure_settings(const std::string& model, const CalibRequest& calib,
                                Granularity g = Granularity::kLayer);
// Errors of every layer (or tensor group) at each of `formats`: from the measurements file when
// it was made with the same settings and holds them all, else measured (with
// the formats measured before under those settings, so the file grows) and saved.
Measurements measurements_cached(const std::string& model, const CalibRequest& calib,
                                 const std::vector<StorageFormat>& formats, Granularity g,
                                 const std::filesystem::path& path, const ArtifactCache& cache);

struct PlanRequest {
  AllocatorKind allocator = AllocatorKind::kLieq;
  double target_bpw = 0;
  std::vector<int> levels;             // labels (bit widths), strictly ascending
  std::vector<StorageFormat> formats;  // the storage format of each level
  Granularity granularity = Granularity::kLayer;  // one choice per layer or per tensor group
  Rescore rescore;
  MeasureRequest measure;  // the measured allocator's
  // A GGUF plan's whole-file size limit in bytes (0: use target_bpw): the
  // linear layers' budget is what remains of it after the header, tokenizer,
  // norms, embedding and head at embed_type / output_type, so that the file
  // quantize writes for the plan is at most this size (checked exactly).
  // Types left empty are chosen by choose_global_types and kept in the plan.
  uint64_t target_size = 0;
  std::optional<GgmlType> embed_type, output_type;
  // With a size target and no output_type (the CLI's default for the
  // measured allocator, opt-in for the others): the head's
  // type chosen end to end (of Q3_K .. Q6_K, the one whose quantized file is
  // closest to the float model on the calibration text: jobs/head_choice.h)
  // instead of choose_global_types' rule; then, for an untied model without
  // embed_type, the embedding's the same way (of Q2_K, IQ3_S, Q4_K, Q5_K).
  bool measured_head = false;
  std::string method = "gptq";  // lieq.method in the file (a few bytes of it)
};
// "1500000", "1.5MB", "700 MiB", "2GB" -> bytes (MB = 1e6, MiB = 2^20);
// Error naming `flag` otherwise.
uint64_t parse_size(const std::string& s, const char* flag);
// The levels' formats: integer grids of group_size/symmetric, or (gguf) the
// ggml types a type map gives the widths ("2=Q2_K,3=IQ4_XS" over the default).
std::vector<StorageFormat> level_formats(const std::vector<int>& levels, bool gguf,
                                         const std::string& gguf_types, int group_size,
                                         bool symmetric);
// The ggml format a type map gives `bits`-bit layers (Error naming
// --gguf-types when it has none).
StorageFormat ggml_format_for_bits(const GgmlTypeMap& map, int bits);
// Sorted, duplicates removed.
std::vector<int> sorted_levels(std::vector<int> levels);
// --levels as typed: each entry a bit width ("2": an integer grid, or with
// gguf the type map's type) or a ggml type name ("IQ2_XXS", "q4_k"), which
// makes the plan a GGUF plan. With names, the levels are sorted by their
// bits per weight and labelled 1..K (labels are then ranks, not widths);
// without, the labels are the sorted widths, as before. Errors name --levels.
struct ResolvedLevels {
  std::vector<int> labels;
  std::vector<StorageFormat> formats;
  bool gguf = false;
  bool named = false;  // some entry was a type name
};
ResolvedLevels resolve_levels(const std::vector<std::string>& entries, bool gguf,
                              const std::string& gguf_types, int group_size, bool symmetric);
// The entries as bit widths; an Error naming `flag` for a type name.
std::vector<int> level_widths(const std::vector<std::string>& entries, const char* flag);
// Allocates (measuring first for the measured allocator). diag_path: where
// the diagnostics live (measurements default beside them).
Plan run_plan(const Diagnostics& d, const PlanRequest& r, const std::filesystem::path& diag_path,
              const ArtifactCache& cache);
// One-shot quantization's first two stages, resumable: the diagnostics
// (dir/diagnostics.json and .svg, reused when made with the same settings)
// and the plan (dir/plan.json; the measured allocator's measurements in
// dir/diagnostics.measurements.json).
struct PlannedModel {
  Diagnostics diagnostics;
  Plan plan;
};
PlannedModel diagnose_and_plan(const DiagnoseRequest& diagnose, const PlanRequest& plan,
                               const std::filesystem::path& dir, const ArtifactCache& cache);
// Where one-shot quantization to `out` keeps its stages: "<out>.stages".
std::filesystem::path stages_dir_for(const std::filesystem::path& out);
// Default measurements file beside a diagnostics file (one per granularity).
std::filesystem::path measurements_path_for(const std::filesystem::path& diag_path,
                                            Granularity g = Granularity::kLayer);
// The embedding's and head's types for a size target where r leaves them
// open, from the bits per weight the linear layers would get with a Q6_K
// head and a Q4_K embedding (llama.cpp's choice for its own mixes): the head
// (and a tied embedding) Q5_K below 3.1 bpw (the IQ1_S ... IQ3_XXS mixes),
// else Q6_K; an untied embedding Q2_K below 2.4 bpw, IQ3_S below 3.1, else Q4_K.
struct GlobalTypes {
  GgmlType embed = GgmlType::Q4_K, output = GgmlType::Q6_K;
};
GlobalTypes choose_global_types(double linear_bpw, std::optional<GgmlType> embed,
                                std::optional<GgmlType> output);
// A per-group GGUF plan's linear types by GGUF tensor name (GgufExportOptions::
// tensor_types); empty for a per-layer plan.
std::map<std::string, GgmlType> plan_tensor_types(const Plan& p, const ModelConfig& c);

}  // namespace lieq::jobs
