// lieq compare as a library call: every method x allocator x target, each
// plan made by the plan stage for the same target (exact accounting), each
// quantized model evaluated like the original: perplexity per data file
// (plain protocol), zero-shot accuracy per task and their average, KL
// divergence from the original. Writes DIR/results.json, DIR/results.md (the
// paper's table layout) and a self-contained DIR/report.html.
//
// With r.shard, only that shard's combinations (jobs/compare_shard.h).
//
// Resumable through the artifact cache: the diagnostics (DIR/diagnostics.json),
// the measured allocator's measurements, the original's row, each quantized
// model (DIR/models/<name>/compare.json) and each finished combination's row
// (DIR/rows/<name>.json) are saved with the settings they were made under and
// reused only when those settings are the same. The original's per-token
// NLLs (DIR/rows/original-<i>.nll, per data file) give each row's perplexity
// difference from it, paired over the same tokens (eval/ppl_stats.h). Combinations whose plans
// coincide (uniform at two targets, or two allocators choosing the same bits)
// are quantized and measured once.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/artifact.h"
#include "jobs/compare_shard.h"
#include "jobs/stages.h"
#include "lieq/plan.h"
#include "pipeline/quantize.h"
#include "report/results_table.h"

namespace lieq::jobs {

struct CompareRequest {
  std::string model;
  std::filesystem::path out;
  CalibRequest calib;                       // quantization (GPTQ's Hessians, output errors)
  CalibRequest diag_calib{"", 32, 512, 0};  // diagnostics and measurements
  std::vector<double> targets;              // linear bpw
  std::vector<QuantMethod> methods = {QuantMethod::kRtn, QuantMethod::kGptq};
  std::vector<AllocatorKind> allocators = {AllocatorKind::kUniform, AllocatorKind::kLieq};
  std::vector<int> levels = {2, 4};
  int group_size = 128;
  bool symmetric = false;
  double damp = 0.01;
  std::vector<std::string> data, tasks;  // files
  std::string kld_data;                  // empty: the first data file
  int64_t task_limit = 0, ppl_windows = 0, kld_windows = 0, ctx = 0;
  // A row is shown under its target only when its real linear bpw is this close (bpw).
  double bpw_tolerance = kDefaultBpwTolerance;
  bool keep_models = true;
  // Only the combinations of this shard (jobs/compare_shard.h), whose results go to
  // DIR/shards/shard-<I>-of-<N>.json instead of results.json, results.md and report.html.
  ShardSpec shard;
};

struct CompareOutcome {
  ComparisonResults results;
  nlohmann::json json;   // results.json (a shard's: its shard file)
  std::string markdown;  // the table of results.md
  size_t n_combos = 0, n_reused = 0;  // of this shard when sharded
  double seconds = 0;
};

// Checks every input first (methods, allocators, levels, targets, files),
// then runs. Errors name the flag or file.
CompareOutcome run_compare(const CompareRequest& r, const ArtifactCache& cache);

}  // namespace lieq::jobs
