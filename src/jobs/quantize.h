// lieq quantize as a library call: each decoder layer's storage format from a
// plan file, from one-shot LieQ (diagnose and plan first, resumable from
// OUT.stages), or the same for every layer; then the driver into a lieq
// quantized directory or (OUT ending in .gguf) a GGUF file; then perplexity
// before and after on the evaluation files.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "format/ggml_formats.h"
#include "jobs/artifact.h"
#include "jobs/stages.h"
#include "pipeline/options.h"
#include "pipeline/report.h"

namespace lieq::jobs {

struct OneShotRequest {
  DiagnoseRequest diagnose;
  PlanRequest plan;
};

struct QuantizeRequest {
  std::string model, out;
  QuantMethod method = QuantMethod::kGptq;
  CalibRequest calib;  // empty file: none (RTN only)
  GptqOptions gptq;
  bool mse_clip = false;
  // The layers' formats: from plan_file, else one_shot, else `uniform` for all.
  std::string plan_file;
  std::optional<OneShotRequest> one_shot;
  QuantSpec uniform;
  // GGUF output: integer-grid widths map to ggml types through gguf_types
  // ("2=Q2_K,3=IQ4_XS" over the default map).
  std::string gguf_types;
  // Empty: the plan's (a size target's), else Q4_K / Q6_K.
  std::optional<GgmlType> embed_type, output_type;
  std::string types_from;  // take every tensor's type from this GGUF file
  bool importance = true;  // RTN/AWQ into ggml types: weigh by the calibration's mean x^2
  std::string imatrix_file;  // RTN into GGUF: llama-imatrix's file weighs the rounding instead
  // Perplexity before and after.
  std::vector<std::string> eval_data;
  int64_t eval_windows = 0;
  // Called with the one-shot plan before quantizing (to show it).
  std::function<void(const Plan&)> on_plan;
};

struct PplRow {
  std::string file;
  double before = 0, after = 0;
};

struct QuantizeOutcome {
  QuantizeReport report;
  std::string mode;  // "int4 g128 asym", "plan lieq at 2.5 bpw -> GGUF: 5 layers Q4_K"
  std::vector<PplRow> ppl;
  double total_seconds = 0;
};

bool is_gguf_path(const std::string& path);

// Checks the request (method and calibration, evaluation files, the model)
// before any work; errors name the flag or file.
QuantizeOutcome run_quantize(const QuantizeRequest& r, const ArtifactCache& cache);

}  // namespace lieq::jobs
