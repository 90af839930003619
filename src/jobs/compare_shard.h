// Sweeps of `lieq compare` across machines: `--shard I/N` runs a
// deterministic subset of the combinations, `--merge DIR...` joins the
// shards' results into the results.json, results.md and report.html an
// unsharded run writes.
//
// The combinations are numbered 0..n-1 in the unsharded run's order (targets
// ascending, then methods, then allocators, as given); shard I of N runs
// those with index mod N == I. Every shard makes the diagnostics and all
// plans (the plans' summary goes into results.json) and evaluates the
// original model itself, so each row's paired differences and KL divergence
// are against an original measured in its own shard; in a directory that
// shards share, whichever shard comes first saves them and the others reuse
// them through the artifact cache (they reuse them only when made with the
// same settings, as any resumed run). A shard writes the unsharded layout
// (DIR/rows, DIR/models, DIR/plans, DIR/diagnostics.json) and, instead of
// results.json, DIR/shards/shard-<I>-of-<N>.json: results.json's schema for
// its rows, plus a "shard" member {index, count, n_combos, settings (what
// every shard must share), report_settings (the reports' settings in order)}.
// Several shards may write into one directory or each into its own.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/artifact.h"

namespace lieq::jobs {

struct CompareOutcome;
struct CompareRequest;
struct CompareInputs;

struct ShardSpec {
  int index = 0, count = 1;  // count 1: the whole sweep
  bool sharded() const { return count > 1; }
  bool has(size_t i_combo) const { return int(i_combo % size_t(count)) == index; }
};

// "I/N" with 0 <= I < N; anything else is an Error naming --shard.
ShardSpec parse_shard(const std::string& text);

// DIR/shards/shard-<I>-of-<N>.json
std::filesystem::path shard_results_path(const std::filesystem::path& dir, const ShardSpec& s);

// What every shard of one sweep must share: the model, calibrations,
// targets, methods, allocators, levels, grid, evaluation data and limits,
// the bpw tolerance (not the output directory or --no-keep-models).
nlohmann::json shard_settings(const CompareRequest& r, const CompareInputs& in);

// The names of the sweep's combinations in run order ("rtn-uniform-3", ...),
// from shard_settings' targets, methods and allocators.
std::vector<std::string> combo_names(const nlohmann::json& shard_settings);

struct MergeRequest {
  std::vector<std::filesystem::path> inputs;  // directories (their shards/*.json) or shard files
  std::filesystem::path out;
};

// Reads every shard, checks that they are the shards 0..N-1 of one sweep
// (same settings and count, each once, each with exactly its rows, every
// file well formed; errors name the file and the problem) and only then
// writes OUT/results.json, results.md and report.html, each atomically.
CompareOutcome merge_compare(const MergeRequest& m, const ArtifactCache& cache);

}  // namespace lieq::jobs
