// Internals of jobs/compare.h: the checked inputs of a comparison, the
// settings its artifacts are saved under, and the evaluation of one row.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/tasks.h"
#include "jobs/compare.h"
#include "model/load.h"
#include "model/reader.h"

namespace lieq::jobs {

// Everything read and checked before any model work.
struct CompareInputs {
  std::vector<QuantMethod> methods;       // unique, in the order given
  std::vector<AllocatorKind> allocators;  // unique, in the order given
  std::vector<double> targets;            // ascending, unique
  std::vector<int> levels;                // ascending, unique
  std::vector<StorageFormat> formats;     // each level's integer grid
  std::vector<std::string> texts;         // per data file
  std::vector<Task> tasks;
  std::string kld_file, kld_text;
};
CompareInputs check_compare_inputs(const CompareRequest& r);

// The settings each artifact is saved under.
nlohmann::json eval_settings(const CompareRequest& r, const CompareInputs& in, bool with_kld);
// Its layers' formats are added when one is not its level's grid at
// r.group_size (uniform reaching a target by group size).
nlohmann::json quant_settings(const CompareRequest& r, QuantMethod method, const Plan& plan);
DiagnoseRequest compare_diagnose_request(const CompareRequest& r);
// The settings shown at the top of the reports.
std::vector<std::pair<std::string, std::string>> report_settings(const CompareRequest& r,
                                                                 const CompareInputs& in,
                                                                 const ModelReader& reader);

// Fills o.json and o.markdown from o.results (rows sorted, recovery and
// matched bits marked), the plans' summaries and the diagnostics, then writes
// OUT/results.json, results.md and report.html: everything rendered before
// the first file is written, each written atomically.
void write_compare_outputs(const std::filesystem::path& out, const Diagnostics& d,
                           const nlohmann::json& plans_json, CompareOutcome& o);

// The original model and its tokenizer, loaded when first needed.
struct Original {
  explicit Original(std::string p) : path(std::move(p)) {}
  void load();
  std::string path;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  // Per data file: the original's per-token NLLs [tokens] (empty: not known).
  std::vector<std::vector<float>> token_nll;
  // Per task: the original's item outcomes (empty: not known).
  std::vector<std::string> acc_items;
};

// The original's per-token NLLs of data file i: DIR/rows/original-<i>.nll,
// "LIEQNLL1", uint64 count, float32 x count (little endian).
std::filesystem::path nll_path(const std::filesystem::path& out, size_t i);
// A quantized row's per-token NLLs of data file i: DIR/rows/<name>-<i>.nll (same format).
std::filesystem::path row_nll_path(const std::filesystem::path& out, const std::string& name,
                                   size_t i);
// The verdict's paired standard errors (report/results_table.h PairedSe) from
// the rows' saved per-token NLLs in any of `dirs` (perplexity metrics) or their
// item outcomes (accuracy); NaN where they are missing.
PairedSe paired_se_from(const ComparisonResults& r, std::vector<std::filesystem::path> dirs);
void write_nll_file(const std::filesystem::path& path, const std::vector<float>& nll);
// Empty when the file is missing or malformed.
std::vector<float> read_nll_file(const std::filesystem::path& path);

// Perplexity per data file with its standard error, accuracy per task (with
// its standard error) and their average, and (with a base model) KL
// divergence from it. With ref_nll (per data file, the original's per-token
// NLLs; an empty entry skips that file): the paired perplexity differences.
// token_nll (optional) receives this model's per-token NLLs per data file.
// With ref_items (per task, the original's item outcomes): the paired accuracy differences.
void evaluate_row(const Model& model, const Tokenizer& tok, const Model* base,
                  const CompareRequest& r, const CompareInputs& in, ResultRow& row,
                  const std::vector<std::vector<float>>* ref_nll = nullptr,
                  std::vector<std::vector<float>>* token_nll = nullptr,
                  const std::vector<std::string>* ref_items = nullptr);
// " ppl 12.345 avg acc 40.0% kld 0.1234"
std::string row_summary(const ResultRow& row, const CompareInputs& in);

// A saved row when it was measured under `settings`.
bool reusable_row(const std::filesystem::path& path, const nlohmann::json& settings,
                  const ArtifactCache& cache, ResultRow* row);
void save_row(const std::filesystem::path& path, const ResultRow& row, const ArtifactCache& cache);

// The original's row: its stored linear bpw and file size, evaluated like
// the quantized models (saved in row_path; reused when the settings match
// and its per-token NLL files are there, which it fills fp.token_nll from).
ResultRow original_row(const CompareRequest& r, const CompareInputs& in, const ModelReader& reader,
                       int64_t other_params, const std::filesystem::path& row_path, Original& fp,
                       const ArtifactCache& cache);

}  // namespace lieq::jobs
