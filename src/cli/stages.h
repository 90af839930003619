// The pipeline stages shared by subcommands (diagnose, plan, quantize's
// one-shot mode): flags, running a stage, printing and saving its result.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "eval/calibration.h"
#include "lieq/diagnose.h"
#include "lieq/plan.h"

namespace lieq::cli {

struct CalibArgs {
  std::string file;
  int64_t samples = 128, seqlen = 2048;
  uint64_t seed = 0;
};
// --calib, --samples, --seqlen, --calib-seed (with c's values as defaults).
void add_calib_flags(CLI::App* sub, CalibArgs& c, bool required = true);
// Tokenizes the calibration file for the model (warning on stderr when short).
CalibSet load_calibration(const std::string& model_dir, const CalibArgs& c, int64_t max_positions);

struct DiagnoseArgs {
  std::string model, out;
  CalibArgs calib;
  int64_t energy_k = 0;
  std::vector<double> weights = {1, 1, 1};
  std::string normalisation = "minmax";
  bool signed_teg = false;
  bool no_random = false, json = false;
  uint64_t random_seed = 1234;
};
// Runs diagnose and writes out (JSON) and its chart (.svg beside it).
Diagnostics run_diagnose_stage(const DiagnoseArgs& a);
void print_diagnostics_table(const Diagnostics& d, std::ostream& os);
std::string diagnostics_chart_svg(const Diagnostics& d);

struct PlanArgs {
  std::string allocator = "lieq", measurements, model;
  // Rescoring of the diagnostics before allocation (empty: as stored).
  std::string normalisation;
  std::vector<double> score_weights;
  std::string teg;  // "abs" or "signed"; empty: as stored
  double target_bpw = 0;
  std::vector<int> levels = {2, 4};
  int group_size = 128;
  bool symmetric = false;
  CalibArgs calib;  // for the measured allocator (defaults: the diagnostics' model and calibration)
  // GGUF plans: levels map to ggml types and cost those types' bytes.
  bool gguf = false;
  std::string gguf_types;  // "2=Q2_K,3=IQ4_XS" over the default map
};
// --target-bpw, --levels, --allocator, --group-size, --sym, --measurements.
void add_plan_flags(CLI::App* sub, PlanArgs& p);
// Makes the plan (measuring first when the allocator needs it and no
// compatible measurements file exists).
Plan run_plan_stage(const Diagnostics& d, const PlanArgs& a, const std::string& diag_path);
void print_plan(const Plan& p, std::ostream& os);

// Default measurements file beside a diagnostics file.
std::string measurements_path_for(const std::string& diag_path);

}  // namespace lieq::cli
