// The results of a comparison (`lieq compare`): one row per quantizer x
// allocator x bits-per-weight target plus the original model's row, their
// JSON form (results.json, and one saved row per finished combination for
// resuming) and the Markdown table in the layout of the paper's tables.
//
// Recovery (percent of the original model's quality kept):
//   accuracy: average accuracy of the row / average accuracy of the original x 100
//   perplexity: mean over the data files of ppl(original) / ppl(row) x 100
// so both are 100 for the original and fall as quality is lost.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lieq {

// How far (bpw) a row's real linear bpw may be from its target to be shown under it.
inline constexpr double kDefaultBpwTolerance = 0.05;

struct ResultRow {
  static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  bool baseline = false;  // the original model
  // A file made by another tool (compare --baseline FILE.gguf): its file name;
  // empty for lieq's rows. Such a row is written with "baseline": true too.
  std::string file;
  std::string format = "lieq";  // what the row's model is stored as: "gguf", "lieq" or "hf"
  std::string method;     // "rtn", "gptq", "awq"; the stored dtype ("BF16") for the baseline
  std::string allocator;  // empty for the baseline
  double target_bpw = kNone;
  double linear_bpw = 0, file_bpw = 0;  // real: scales, zeros and headers included
  int64_t file_bytes = 0;
  std::vector<int> layer_bits;  // per decoder layer (empty for the baseline)
  std::vector<std::string> layer_formats;  // per decoder layer: its storage format's name ("int2 g128 asym", "Q4_K")
  std::vector<double> ppl;      // per data file, in ComparisonResults::data order
  std::vector<double> ppl_se;   // per data file: standard error (eval/ppl_stats.h); may be empty
  // Per data file: ppl - the original's ppl on the same tokens and its paired
  // standard error; empty for the baseline (and rows measured without them).
  std::vector<double> ppl_diff, ppl_diff_se;
  std::vector<double> acc;      // per task, in ComparisonResults::tasks order
  std::vector<double> acc_se;   // per task: sqrt(acc (1 - acc) / (n - 1)); may be empty
  // Per task: each item's outcome ('1' right, '0' wrong), for paired differences.
  std::vector<std::string> acc_items;
  // Per task: acc - the original's acc on the same items and its paired standard error.
  std::vector<double> acc_diff, acc_diff_se;
  double avg_acc = kNone;       // unweighted mean over tasks
  double kld_mean = kNone, top1_agreement = kNone;
  double ppl_recovery = kNone, acc_recovery = kNone;  // percent; see the file comment
  // Real linear bpw within ComparisonResults::bpw_tolerance of target_bpw
  // (mark_matched_bits); a row that is not is shown as n/a under its target.
  // Another tool's file has no target and is compared at its own size: true.
  bool matched_bits = true;
  // On the Pareto front of file size against ComparisonResults::pareto_metric
  // (mark_pareto): no other compared row is as small and better.
  bool pareto = false;
  std::map<std::string, double> seconds;              // per stage
  nlohmann::json settings;  // what the row was measured under (resuming compares it)

  // "gptq-lieq-2.5"; "original" for the baseline; "file-<stem>" for another tool's file.
  std::string name() const;
  bool external() const { return !file.empty(); }
};

// One line of the verdict: at a file size budget, the best compared row at or
// below it, and how far the next best is behind (paired where both rows' per
// token NLLs or per item outcomes are known).
struct VerdictLine {
  int64_t budget_bytes = 0;
  std::string budget_of;         // the row whose size the budget is ("gptq-lieq-2.5")
  std::string pick, runner_up;   // row names; runner_up empty when alone
  double pick_value = ResultRow::kNone, pick_se = ResultRow::kNone;
  double diff = ResultRow::kNone, diff_se = ResultRow::kNone;  // runner_up - pick on the metric
  bool paired = false;        // diff_se from paired per-token / per-item values
  bool within_noise = false;  // |diff| < 2 diff_se
  std::string text;           // the sentence shown ("At 7.09 MB: pick ...")
};

struct ComparisonResults {
  std::string model;
  std::vector<std::string> data;   // column names of the perplexity columns (file stems)
  std::vector<std::string> tasks;  // column names of the accuracy columns (task names)
  std::string kld_data;            // what KLD was measured on (empty: no KLD)
  // Settings shown in reports, in order (name, value).
  std::vector<std::pair<std::string, std::string>> settings;
  double bpw_tolerance = kDefaultBpwTolerance;  // bpw; see ResultRow::matched_bits
  bool has_baseline = false;
  ResultRow baseline;
  std::vector<ResultRow> rows;  // grouped by target bpw (see sort_rows); other tools' files last
  // What the Pareto front and the verdict rank by: "ppl:<data name>", "kld" or "acc".
  std::string pareto_metric;
  std::vector<VerdictLine> verdict;  // smallest budget first
  std::vector<std::string> warnings;  // e.g. differences within noise, shown above the table
};

// A bits-per-weight value as text for names and tables: "2.5", "4.25".
std::string bpw_text(double bpw);

// Fills each row's recovery from the baseline (NaN without one).
void compute_recovery(ComparisonResults& r);

// Sets each row's matched_bits: |linear_bpw - target_bpw| <= r.bpw_tolerance
// (the baseline's is true).
void mark_matched_bits(ComparisonResults& r);

// The value the Pareto front and the verdict rank rows by (lower is better):
// the perplexity on r.pareto_metric's data file, the KLD, or minus the
// average accuracy; NaN when the row lacks it.
double pareto_value(const ComparisonResults& r, const ResultRow& row);
// "perplexity on wiki", "KLD", "average accuracy".
std::string pareto_metric_text(const ComparisonResults& r);
// Its standard error where the row has one (NaN otherwise).
double pareto_value_se(const ComparisonResults& r, const ResultRow& row);
// "ppl:<first data file>" when there is one, else "kld" when measured, else "acc".
std::string default_pareto_metric(const ComparisonResults& r);
// Sets r.pareto_metric (when empty) and every row's `pareto`: a compared row
// (matched bits, or another tool's file) with a value is on the front when no
// other compared row is at most its size and at most its value, one of them
// strictly. The original is never on it.
void mark_pareto(ComparisonResults& r);

// r.verdict from the compared rows (after mark_pareto): one budget per target
// (the largest file among its matched rows) and per other tool's file (its
// size), smallest first; at each, the best compared row at or below it and
// the next best other model, their difference with its paired standard error
// where `paired` knows it, else the unpaired sqrt(se_a^2 + se_b^2) (far too
// wide: the rows share their windows), within noise when |diff| < 2 se. Each verdict
// line within noise, and each row whose perplexity difference from the
// original is within 2 paired standard errors of 0, adds a warning.
// paired (optional): the standard error of pareto_value(b) - pareto_value(a)
// paired over the same tokens or items, NaN where unknown; where it is known
// it replaces the unpaired one.
using PairedSe = std::function<double(const ResultRow& a, const ResultRow& b)>;
void make_verdict(ComparisonResults& r, const PairedSe& paired = {});

// Stable sort by target bpw (other tools' files, which have none, last), keeping the given order of methods and
// allocators inside each group.
void sort_rows(std::vector<ResultRow>& rows);

nlohmann::json row_to_json(const ResultRow& row);
// Throws Error naming `source` when a field is missing or malformed.
ResultRow row_from_json(const nlohmann::json& j, const std::string& source);

nlohmann::json results_to_json(const ComparisonResults& r);
// The inverse of results_to_json for what the reports show (rows, baseline,
// column names, tolerance; settings in the JSON object's key order). Throws
// Error naming `source` when a field is missing or malformed.
ComparisonResults results_from_json(const nlohmann::json& j, const std::string& source);

// Escapes a cell of a Markdown table: | \ * ` get a backslash, newlines become spaces.
std::string markdown_escape(const std::string& s);

// The table as text cells: the original on top, then rows grouped by bpw (the bpw written on
// the first row of each group); columns: bpw, method, allocator, real linear
// bpw, size, one perplexity per data file (± its standard error), the paired
// difference from the original's per data file (with a baseline), one
// accuracy (%) per task (±), their average, accuracy and perplexity recovery
// (%), KLD; a legend saying what each column is. A row whose bits do not
// match its target shows "n/a: <allocator> reaches <bpw> bpw" as its linear
// bpw and "n/a" in every measured column.
struct ResultsTable {
  std::vector<std::string> header;
  size_t n_text_columns = 0;  // left-aligned leading columns; the rest are numbers
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> baseline, group_start, pareto;  // per row
  std::string legend;
};
ResultsTable results_table(const ComparisonResults& r);

// The table in Markdown, its legend below.
std::string results_markdown(const ComparisonResults& r);

// Number cells: "-" for NaN.
std::string fixed_text(double v, int decimals);

}  // namespace lieq
