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
nlohmann::json quant_settings(const CompareRequest& r, QuantMethod method,
                              const std::vector<int>& bits);
DiagnoseRequest compare_diagnose_request(const CompareRequest& r);
// The settings shown at the top of the reports.
std::vector<std::pair<std::string, std::string>> report_settings(const CompareRequest& r,
                                                                 const CompareInputs& in,
                                                                 const ModelReader& reader);

// The original model and its tokenizer, loaded when first needed.
struct Original {
  explicit Original(std::string p) : path(std::move(p)) {}
  void load();
  std::string path;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
};

// Perplexity per data file, accuracy per task and their average, and (with
// a base model) KL divergence from it.
void evaluate_row(const Model& model, const Tokenizer& tok, const Model* base,
                  const CompareRequest& r, const CompareInputs& in, ResultRow& row);
// " ppl 12.345 avg acc 40.0% kld 0.1234"
std::string row_summary(const ResultRow& row, const CompareInputs& in);

// A saved row when it was measured under `settings`.
bool reusable_row(const std::filesystem::path& path, const nlohmann::json& settings,
                  const ArtifactCache& cache, ResultRow* row);
void save_row(const std::filesystem::path& path, const ResultRow& row, const ArtifactCache& cache);

// The original's row: its stored linear bpw and file size, evaluated like
// the quantized models (saved in row_path; reused when the settings match).
ResultRow original_row(const CompareRequest& r, const CompareInputs& in, const ModelReader& reader,
                       int64_t other_params, const std::filesystem::path& row_path, Original& fp,
                       const ArtifactCache& cache);

}  // namespace lieq::jobs
