// The flags of the stages shared by subcommands (calibration, diagnose, plan),
// each declared once, their typed requests (jobs/stages.h), and printing.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "jobs/stages.h"
#include "lieq/diagnose.h"
#include "lieq/plan.h"

namespace lieq::cli {

// --calib, --samples, --seqlen, --calib-seed (with c's values as defaults).
using CalibArgs = jobs::CalibRequest;
void add_calib_flags(CLI::App* sub, CalibArgs& c, bool required = true);

// Flags shared by several subcommands, each declared here once.
void add_grid_flags(CLI::App* sub, int& group_size, bool& symmetric);  // --group-size, --sym
void add_levels_flag(CLI::App* sub, std::vector<std::string>& levels);  // --levels
void add_damp_flag(CLI::App* sub, double& damp);                        // --damp
// --diag-samples, --diag-seqlen (defaults 32 x 512).
void add_diag_calib_flags(CLI::App* sub, CalibArgs& c);

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
jobs::DiagnoseRequest diagnose_request(const DiagnoseArgs& a);
void print_diagnostics_table(const Diagnostics& d, std::ostream& os);

struct PlanArgs {
  std::string allocator = "lieq", measurements, model;
  std::string granularity = "layer";  // one choice per layer or per tensor group
  // Rescoring of the diagnostics before allocation (empty: as stored).
  std::string normalisation;
  std::vector<double> score_weights;
  std::string teg;  // "abs" or "signed"; empty: as stored
  double target_bpw = 0;
  std::string target_size;  // GGUF plans: whole-file limit ("1.5MB"); instead of target_bpw
  // What the size counts: the embedding's and head's types (empty: chosen,
  // jobs::choose_global_types) and lieq.method.
  std::string embed_type, output_type, method = "gptq";
  std::vector<std::string> levels = {"2", "4"};  // widths or ggml type names
  int group_size = 128;
  bool symmetric = false;
  CalibArgs calib;  // for the measured allocator (defaults: the diagnostics' model and calibration)
  // GGUF plans: levels map to ggml types and cost those types' bytes.
  bool gguf = false;
  std::string gguf_types;  // "2=Q2_K,3=IQ4_XS" over the default map
};
// --target-bpw, --target-size, --levels, --allocator, --group-size, --sym, --measurements.
void add_plan_flags(CLI::App* sub, PlanArgs& p);
// --target-size (plan and one-shot quantize).
void add_target_size_flag(CLI::App* sub, PlanArgs& p);
// --granularity layer|group (plan and one-shot quantize).
void add_granularity_flag(CLI::App* sub, PlanArgs& p);
jobs::PlanRequest plan_request(const PlanArgs& a);
// A warning when the plan's linear bpw is more than kFarBelowBpw under its
// bpw target (e.g. levels 2, 4 for 9 bpw reach 4.25); empty otherwise and
// for size targets.
inline constexpr double kFarBelowBpw = 0.1;
std::string plan_shortfall_warning(const Plan& p);
void print_plan(const Plan& p, std::ostream& os);

}  // namespace lieq::cli
