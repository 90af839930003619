#include "report/results_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "util/error.h"

namespace lieq {

using json = nlohmann::json;

std::string bpw_text(double bpw) {
  if (std::isnan(bpw)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", bpw);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string ResultRow::name() const {
  if (baseline) return "original";
  if (external()) {
    std::string stem = file.substr(file.find_last_of('/') + 1);
    if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".gguf") == 0) stem.resize(stem.size() - 5);
    return "file-" + stem;
  }
  return method + "-" + allocator + "-" + bpw_text(target_bpw);
}

std::string fixed_text(double v, int decimals) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void compute_recovery(ComparisonResults& r) {
  for (ResultRow* row : [&] {
         std::vector<ResultRow*> all;
         if (r.has_baseline) all.push_back(&r.baseline);
         for (ResultRow& x : r.rows) all.push_back(&x);
         return all;
       }()) {
    row->ppl_recovery = row->acc_recovery = ResultRow::kNone;
    if (!r.has_baseline) continue;
    const ResultRow& b = r.baseline;
    if (!std::isnan(row->avg_acc) && !std::isnan(b.avg_acc) && b.avg_acc > 0)
      row->acc_recovery = 100.0 * row->avg_acc / b.avg_acc;
    const size_t n = std::min(row->ppl.size(), b.ppl.size());
    if (n > 0) {
      double sum = 0;
      for (size_t i = 0; i < n; ++i) sum += b.ppl[i] / row->ppl[i];
      row->ppl_recovery = 100.0 * sum / double(n);
    }
  }
}

void mark_matched_bits(ComparisonResults& r) {
  r.baseline.matched_bits = true;
  for (ResultRow& row : r.rows)
    row.matched_bits = row.external() ||
                       std::abs(row.linear_bpw - row.target_bpw) <= r.bpw_tolerance + 1e-9;
}

std::string default_pareto_metric(const ComparisonResults& r) {
  if (!r.data.empty()) return "ppl:" + r.data[0];
  if (!r.kld_data.empty()) return "kld";
  return "acc";
}

namespace {
// The data file index of a "ppl:<name>" metric (npos otherwise).
size_t ppl_metric_index(const ComparisonResults& r) {
  const std::string& m = r.pareto_metric.empty() ? default_pareto_metric(r) : r.pareto_metric;
  if (m.rfind("ppl:", 0) != 0) return std::string::npos;
  const auto it = std::find(r.data.begin(), r.data.end(), m.substr(4));
  return it == r.data.end() ? std::string::npos : size_t(it - r.data.begin());
}
bool is_compared(const ResultRow& row) {
  return !row.baseline && (row.matched_bits || row.external()) && row.file_bytes > 0;
}
}  // namespace

std::string pareto_metric_text(const ComparisonResults& r) {
  const std::string& m = r.pareto_metric.empty() ? default_pareto_metric(r) : r.pareto_metric;
  if (m == "kld") return "KLD";
  if (m == "acc") return "average accuracy";
  return "perplexity on " + m.substr(4);
}

double pareto_value(const ComparisonResults& r, const ResultRow& row) {
  const std::string& m = r.pareto_metric.empty() ? default_pareto_metric(r) : r.pareto_metric;
  if (m == "kld") return row.kld_mean;
  if (m == "acc") return -row.avg_acc;
  const size_t i = ppl_metric_index(r);
  return i < row.ppl.size() ? row.ppl[i] : ResultRow::kNone;
}

double pareto_value_se(const ComparisonResults& r, const ResultRow& row) {
  const std::string& m = r.pareto_metric.empty() ? default_pareto_metric(r) : r.pareto_metric;
  if (m == "kld") return ResultRow::kNone;
  if (m == "acc") {
    if (row.acc_se.size() != r.tasks.size() || r.tasks.empty()) return ResultRow::kNone;
    double v = 0;
    for (double se : row.acc_se) v += se * se;
    return std::sqrt(v) / double(r.tasks.size());
  }
  const size_t i = ppl_metric_index(r);
  return i < row.ppl_se.size() ? row.ppl_se[i] : ResultRow::kNone;
}

void mark_pareto(ComparisonResults& r) {
  if (r.pareto_metric.empty()) r.pareto_metric = default_pareto_metric(r);
  r.baseline.pareto = false;
  for (ResultRow& p : r.rows) {
    const double vp = pareto_value(r, p);
    p.pareto = is_compared(p) && std::isfinite(vp);
    if (!p.pareto) continue;
    for (const ResultRow& q : r.rows) {
      const double vq = pareto_value(r, q);
      if (&q == &p || !is_compared(q) || !std::isfinite(vq)) continue;
      if (q.file_bytes <= p.file_bytes && vq <= vp && (q.file_bytes < p.file_bytes || vq < vp)) {
        p.pareto = false;
        break;
      }
    }
  }
}

void sort_rows(std::vector<ResultRow>& rows) {
  auto key = [](const ResultRow& x) {
    return std::isnan(x.target_bpw) ? std::numeric_limits<double>::infinity() : x.target_bpw;
  };
  std::stable_sort(rows.begin(), rows.end(),
                   [&](const ResultRow& a, const ResultRow& b) { return key(a) < key(b); });
}

namespace {
json num(double v) {
  return std::isfinite(v) ? json(v) : json();
}
// null is a missing value (NaN); anything but a number or null throws json::type_error.
double num_from(const json& j) { return j.is_null() ? ResultRow::kNone : j.get<double>(); }
json nums(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(num(x));
  return a;
}
std::vector<double> nums_from(const json& j) {
  std::vector<double> v;
  for (const json& x : j.get_ref<const json::array_t&>()) v.push_back(num_from(x));
  return v;
}
}  // namespace

json row_to_json(const ResultRow& row) {
  json j;
  j["name"] = row.name();
  j["baseline"] = row.baseline || row.external();
  if (row.external()) j["file"] = row.file;
  j["format"] = row.format;
  j["method"] = row.method;
  j["allocator"] = row.allocator;
  j["target_bpw"] = num(row.target_bpw);
  j["linear_bpw"] = num(row.linear_bpw);
  j["file_bpw"] = num(row.file_bpw);
  j["file_bytes"] = row.file_bytes;
  j["layer_bits"] = row.layer_bits;
  if (!row.layer_formats.empty()) j["layer_formats"] = row.layer_formats;
  j["matched_bits"] = row.matched_bits;
  j["pareto"] = row.pareto;
  j["ppl"] = nums(row.ppl);
  j["ppl_se"] = nums(row.ppl_se);
  if (!row.baseline) {
    j["ppl_diff"] = nums(row.ppl_diff);
    j["ppl_diff_se"] = nums(row.ppl_diff_se);
  }
  j["acc"] = nums(row.acc);
  j["acc_se"] = nums(row.acc_se);
  if (!row.baseline) {
    j["acc_diff"] = nums(row.acc_diff);
    j["acc_diff_se"] = nums(row.acc_diff_se);
  }
  if (!row.acc_items.empty()) j["acc_items"] = row.acc_items;
  j["average_acc"] = num(row.avg_acc);
  j["kld_mean"] = num(row.kld_mean);
  j["top1_agreement"] = num(row.top1_agreement);
  j["acc_recovery_pct"] = num(row.acc_recovery);
  j["ppl_recovery_pct"] = num(row.ppl_recovery);
  j["seconds"] = row.seconds;
  j["settings"] = row.settings;
  return j;
}

ResultRow row_from_json(const json& j, const std::string& source) {
  ResultRow row;
  try {
    row.file = j.value("file", std::string());
    row.baseline = j.at("baseline").get<bool>() && row.file.empty();
    row.format = j.value("format", std::string(row.baseline ? "hf" : "lieq"));
    row.pareto = j.value("pareto", false);
    row.method = j.at("method").get<std::string>();
    row.allocator = j.at("allocator").get<std::string>();
    row.target_bpw = num_from(j.at("target_bpw"));
    row.linear_bpw = num_from(j.at("linear_bpw"));
    row.file_bpw = num_from(j.at("file_bpw"));
    row.file_bytes = j.at("file_bytes").get<int64_t>();
    row.layer_bits = j.at("layer_bits").get<std::vector<int>>();
    row.layer_formats = j.value("layer_formats", std::vector<std::string>{});
    if (!row.layer_formats.empty() && row.layer_formats.size() != row.layer_bits.size())
      fail(source, ": ", row.layer_formats.size(), " layer formats for ", row.layer_bits.size(), " layers");
    row.ppl = nums_from(j.at("ppl"));
    row.acc = nums_from(j.at("acc"));
    // Absent in rows saved before standard errors were measured.
    row.matched_bits = j.value("matched_bits", true);
    const json none = json::array();
    row.ppl_se = nums_from(j.value("ppl_se", none));
    row.ppl_diff = nums_from(j.value("ppl_diff", none));
    row.ppl_diff_se = nums_from(j.value("ppl_diff_se", none));
    row.acc_se = nums_from(j.value("acc_se", none));
    row.acc_diff = nums_from(j.value("acc_diff", none));
    row.acc_diff_se = nums_from(j.value("acc_diff_se", none));
    row.acc_items = j.value("acc_items", std::vector<std::string>{});
    row.avg_acc = num_from(j.at("average_acc"));
    row.kld_mean = num_from(j.at("kld_mean"));
    row.top1_agreement = num_from(j.at("top1_agreement"));
    row.seconds = j.at("seconds").get<std::map<std::string, double>>();
    row.settings = j.at("settings");
  } catch (const json::exception& e) {
    fail(source, ": malformed result row: ", e.what());
  }
  return row;
}

json results_to_json(const ComparisonResults& r) {
  json j;
  j["format"] = "lieq-compare";
  j["version"] = 1;
  j["model"] = r.model;
  j["data"] = r.data;
  j["tasks"] = r.tasks;
  j["kld_data"] = r.kld_data;
  j["settings"] = json::object();
  for (const auto& [k, v] : r.settings) j["settings"][k] = v;
  j["recovery"] = {
      {"acc_recovery_pct", "average accuracy / the original's average accuracy x 100"},
      {"ppl_recovery_pct", "mean over data files of ppl(original) / ppl(quantized) x 100"}};
  j["bpw_tolerance"] = r.bpw_tolerance;
  j["standard_errors"] = {
      {"ppl_se", "exp(mean NLL) x sqrt(var(per-token NLL) / (n - 1)), as llama-perplexity"},
      {"ppl_diff_se", "of ppl - the original's ppl, paired over the same tokens"},
      {"acc_se", "sqrt(acc (1 - acc) / (n - 1)), as lm-evaluation-harness"}};
  j["baseline"] = r.has_baseline ? row_to_json(r.baseline) : json();
  j["rows"] = json::array();
  for (const ResultRow& row : r.rows) j["rows"].push_back(row_to_json(row));
  j["pareto_metric"] = r.pareto_metric;
  j["verdict"] = json::array();
  for (const VerdictLine& v : r.verdict)
    j["verdict"].push_back({{"budget_bytes", v.budget_bytes},
                            {"budget_of", v.budget_of},
                            {"pick", v.pick},
                            {"runner_up", v.runner_up},
                            {"pick_value", num(v.pick_value)},
                            {"pick_se", num(v.pick_se)},
                            {"diff", num(v.diff)},
                            {"diff_se", num(v.diff_se)},
                            {"paired", v.paired},
                            {"within_noise", v.within_noise},
                            {"text", v.text}});
  j["warnings"] = r.warnings;
  return j;
}

ComparisonResults results_from_json(const json& j, const std::string& source) {
  ComparisonResults r;
  try {
    if (j.at("format").get<std::string>() != "lieq-compare")
      fail(source, ": not lieq compare results (format is not \"lieq-compare\")");
    r.model = j.at("model").get<std::string>();
    r.data = j.at("data").get<std::vector<std::string>>();
    r.tasks = j.at("tasks").get<std::vector<std::string>>();
    r.kld_data = j.at("kld_data").get<std::string>();
    for (const auto& [k, v] : j.at("settings").items())
      r.settings.emplace_back(k, v.get<std::string>());
    r.bpw_tolerance = j.at("bpw_tolerance").get<double>();
    r.has_baseline = !j.at("baseline").is_null();
    if (r.has_baseline) r.baseline = row_from_json(j["baseline"], source + ": baseline");
    const json& rows = j.at("rows");
    for (size_t i = 0; i < rows.get_ref<const json::array_t&>().size(); ++i)
      r.rows.push_back(row_from_json(rows[i], cat(source, ": rows[", i, "]")));
    r.pareto_metric = j.value("pareto_metric", std::string());
    for (const json& v : j.value("verdict", json::array())) {
      VerdictLine l;
      l.budget_bytes = v.at("budget_bytes").get<int64_t>();
      l.budget_of = v.at("budget_of").get<std::string>();
      l.pick = v.at("pick").get<std::string>();
      l.runner_up = v.at("runner_up").get<std::string>();
      l.pick_value = num_from(v.at("pick_value"));
      l.pick_se = num_from(v.at("pick_se"));
      l.diff = num_from(v.at("diff"));
      l.diff_se = num_from(v.at("diff_se"));
      l.paired = v.at("paired").get<bool>();
      l.within_noise = v.at("within_noise").get<bool>();
      l.text = v.at("text").get<std::string>();
      r.verdict.push_back(std::move(l));
    }
    r.warnings = j.value("warnings", std::vector<std::string>{});
  } catch (const json::exception& e) {
    fail(source, ": malformed compare results: ", e.what());
  }
  return r;
}

std::string markdown_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|' || c == '\\' || c == '*' || c == '`') o += '\\';
    if (c == '\n' || c == '\r') {
      o += ' ';
      continue;
    }
    o += c;
  }
  return o;
}

namespace {
std::string baseline_label(const ResultRow& b) {
  return b.method.empty() ? "original" : b.method;
}

double at(const std::vector<double>& v, size_t i) { return i < v.size() ? v[i] : ResultRow::kNone; }

// "10.36 ± 0.05" (x scale); without a finite standard error just the value;
// `sign`: "+0.19".
std::string with_se(double v, double se, double scale, int decimals, bool sign = false) {
  std::string s = fixed_text(scale * v, decimals);
  if (sign && v >= 0 && std::isfinite(v)) s = "+" + s;
  if (std::isfinite(se)) s += " ± " + fixed_text(scale * se, decimals);
  return s;
}

// The mean over tasks of a row's paired accuracy differences and its standard
// error (tasks independent); NaN when some task lacks one.
std::pair<double, double> avg_acc_diff(const ComparisonResults& r, const ResultRow& row) {
  if (r.tasks.empty() || row.acc_diff.size() != r.tasks.size()) return {ResultRow::kNone, ResultRow::kNone};
  double d = 0, v = 0;
  for (size_t i = 0; i < r.tasks.size(); ++i) {
    d += row.acc_diff[i];
    v += at(row.acc_diff_se, i) * at(row.acc_diff_se, i);
  }
  const double n = double(r.tasks.size());
  return {d / n, std::sqrt(v) / n};
}

std::vector<std::string> cells_of(const ComparisonResults& r, const ResultRow& row,
                                  bool first_of_group, size_t n_columns) {
  std::vector<std::string> c;
  if (row.baseline) {
    c.push_back(bpw_text(row.linear_bpw));
    c.push_back(baseline_label(row));
    c.push_back("-");
  } else if (row.external()) {
    c.push_back(first_of_group ? "file" : "");
    c.push_back(row.file);
    c.push_back("-");
  } else {
    c.push_back(first_of_group ? bpw_text(row.target_bpw) : "");
    c.push_back(row.method);
    c.push_back(row.allocator);
  }
  if (!row.matched_bits && !row.external()) {
    // Shown under a target it does not match, its figures would compare unequal bits.
    c.push_back(cat("n/a: ", row.allocator, " reaches ", fixed_text(row.linear_bpw, 3), " bpw"));
    while (c.size() < n_columns) c.push_back("n/a");
    return c;
  }
  c.push_back(fixed_text(row.linear_bpw, 3));
  c.push_back(fixed_text(double(row.file_bytes) / 1e6, 2));
  c.push_back(row.pareto ? "◆" : "");
  for (size_t i = 0; i < r.data.size(); ++i)
    c.push_back(i < row.ppl.size() ? with_se(row.ppl[i], at(row.ppl_se, i), 1, 2) : "-");
  if (r.has_baseline)
    for (size_t i = 0; i < r.data.size(); ++i)
      c.push_back(row.baseline ? "0"
                  : i < row.ppl_diff.size()
                      ? with_se(row.ppl_diff[i], at(row.ppl_diff_se, i), 1, 2, true)
                      : "-");
  for (size_t i = 0; i < r.tasks.size(); ++i)
    c.push_back(i < row.acc.size() ? with_se(row.acc[i], at(row.acc_se, i), 100, 1) : "-");
  if (!r.tasks.empty()) {
    c.push_back(fixed_text(100.0 * row.avg_acc, 1));
    if (r.has_baseline) {
      const auto [d, se] = avg_acc_diff(r, row);
      c.push_back(row.baseline ? "0" : std::isnan(d) ? "-" : with_se(d, se, 100, 1, true));
    }
    c.push_back(fixed_text(row.acc_recovery, 1));
  }
  if (!r.data.empty()) c.push_back(fixed_text(row.ppl_recovery, 1));
  if (!r.kld_data.empty()) c.push_back(row.baseline ? "0" : fixed_text(row.kld_mean, 4));
  return c;
}
}  // namespace

ResultsTable results_table(const ComparisonResults& r) {
  ResultsTable t;
  t.header = {"bpw", "Method", "Allocator", "Linear bpw", "Size (MB)", "Front"};
  for (const std::string& d : r.data) t.header.push_back("PPL " + d);
  if (r.has_baseline)
    for (const std::string& d : r.data) t.header.push_back("ΔPPL " + d);
  for (const std::string& task : r.tasks) t.header.push_back(task);
  if (!r.tasks.empty()) {
    t.header.push_back("Avg");
    if (r.has_baseline) t.header.push_back("ΔAvg");
    t.header.push_back("Acc rec. %");
  }
  if (!r.data.empty()) t.header.push_back("PPL rec. %");
  if (!r.kld_data.empty()) t.header.push_back("KLD");
  t.n_text_columns = 3;
  if (r.has_baseline) {
    t.rows.push_back(cells_of(r, r.baseline, true, t.header.size()));
    t.baseline.push_back(true);
    t.group_start.push_back(true);
    t.pareto.push_back(false);
  }
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const ResultRow &x = r.rows[i], *prev = i > 0 ? &r.rows[i - 1] : nullptr;
    const bool first = prev == nullptr || x.external() != prev->external() ||
                       (!x.external() && x.target_bpw != prev->target_bpw);
    t.rows.push_back(cells_of(r, x, first, t.header.size()));
    t.baseline.push_back(false);
    t.group_start.push_back(first);
    t.pareto.push_back(x.pareto);
  }
  std::ostringstream os;
  os << "bpw: target bits per weight of the linear layers; Linear bpw: the real figure "
        "(scales and zero points included); Size: the model file; file: a file made by another "
        "tool, measured the same way. Front ◆: on the Pareto front of size against "
     << pareto_metric_text(r)
     << " (no smaller or equal row is better). ";
  if (!r.data.empty()) os << "PPL: perplexity (lower is better). ";
  if (!r.data.empty() && r.has_baseline)
    os << "ΔPPL: PPL(row) - PPL(original) on the same tokens. ";
  os << "±: standard error (perplexity: from the per-token NLL variance, as llama-perplexity; "
        "ΔPPL: paired over the same tokens; accuracy: sqrt(p(1-p)/(n-1)), as "
        "lm-evaluation-harness). n/a: the row's real bpw is more than "
     << bpw_text(r.bpw_tolerance) << " bpw from the target, so it is not compared there. ";
  if (!r.tasks.empty())
    os << "Tasks: zero-shot accuracy in % (acc); Avg: their unweighted mean; "
       << (r.has_baseline ? "ΔAvg: Avg(row) - Avg(original), paired over the same items; " : "")
       << "Acc rec.: Avg / the original's Avg x 100. ";
  if (!r.data.empty())
    os << "PPL rec.: mean over the data files of PPL(original) / PPL(row) x 100. ";
  if (!r.kld_data.empty())
    os << "KLD: mean KL divergence (nats per token) from the original on " << r.kld_data << ".";
  t.legend = os.str();
  while (!t.legend.empty() && t.legend.back() == ' ') t.legend.pop_back();
  return t;
}

std::string results_markdown(const ComparisonResults& r) {
  const ResultsTable t = results_table(r);
  std::ostringstream os;
  if (!r.verdict.empty()) {
    os << "Verdict (by " << markdown_escape(pareto_metric_text(r)) << "):\n\n";
    for (const VerdictLine& v : r.verdict) os << "- " << markdown_escape(v.text) << "\n";
    os << "\n";
  }
  for (const std::string& w : r.warnings) os << "Warning: " << markdown_escape(w) << "\n\n";
  auto line = [&](const std::vector<std::string>& cells) {
    os << "|";
    for (const std::string& c : cells) os << " " << markdown_escape(c) << " |";
    os << "\n";
  };
  line(t.header);
  os << "|";
  for (size_t i = 0; i < t.header.size(); ++i) os << (i < t.n_text_columns ? " --- |" : " ---: |");
  os << "\n";
  for (const auto& row : t.rows) line(row);
  os << "\n" << markdown_escape(t.legend) << "\n";
  return os.str();
}

namespace {
// The same quantized model under another name (uniform at two targets giving one plan).
bool same_model(const ResultRow& a, const ResultRow& b) {
  if (a.external() || b.external()) return a.file == b.file;
  return a.file_bytes == b.file_bytes && a.method == b.method && a.layer_bits == b.layer_bits &&
         a.layer_formats == b.layer_formats && a.ppl == b.ppl &&
         (a.kld_mean == b.kld_mean || (std::isnan(a.kld_mean) && std::isnan(b.kld_mean)));
}
std::string mb_text(int64_t bytes) { return fixed_text(double(bytes) / 1e6, 2) + " MB"; }
}  // namespace

void make_verdict(ComparisonResults& r, const PairedSe& paired) {
  if (r.pareto_metric.empty()) r.pareto_metric = default_pareto_metric(r);
  r.verdict.clear();
  r.warnings.clear();
  const bool acc = r.pareto_metric == "acc";
  const double scale = acc ? -100.0 : 1.0;  // shown as accuracy in %
  std::vector<std::pair<int64_t, std::string>> budgets;
  for (const ResultRow& row : r.rows) {
    if (!is_compared(row) || !std::isfinite(pareto_value(r, row))) continue;
    if (row.external()) {
      budgets.push_back({row.file_bytes, row.file});
      continue;
    }
    auto it = std::find_if(budgets.begin(), budgets.end(), [&](const auto& b) {
      return b.second == "target " + bpw_text(row.target_bpw);
    });
    if (it == budgets.end())
      budgets.push_back({row.file_bytes, "target " + bpw_text(row.target_bpw)});
    else
      it->first = std::max(it->first, row.file_bytes);
  }
  std::stable_sort(budgets.begin(), budgets.end());
  for (const auto& [bytes, of] : budgets) {
    const ResultRow *pick = nullptr, *next = nullptr;
    auto better = [&](const ResultRow* a, const ResultRow* b) {
      const double va = pareto_value(r, *a), vb = pareto_value(r, *b);
      return va < vb || (va == vb && a->file_bytes < b->file_bytes);
    };
    for (const ResultRow& row : r.rows)
      if (is_compared(row) && std::isfinite(pareto_value(r, row)) && row.file_bytes <= bytes &&
          (pick == nullptr || better(&row, pick)))
        pick = &row;
    if (pick == nullptr) continue;
    for (const ResultRow& row : r.rows)
      if (is_compared(row) && std::isfinite(pareto_value(r, row)) && row.file_bytes <= bytes &&
          &row != pick && !same_model(row, *pick) && (next == nullptr || better(&row, next)))
        next = &row;
    VerdictLine v;
    v.budget_bytes = bytes;
    v.budget_of = of;
    v.pick = pick->name();
    v.pick_value = pareto_value(r, *pick);
    v.pick_se = pareto_value_se(r, *pick);
    std::ostringstream os;
    os << "At " << mb_text(bytes) << " (" << of << "): pick " << v.pick << " ("
       << mb_text(pick->file_bytes) << "), " << pareto_metric_text(r) << " "
       << with_se(v.pick_value, v.pick_se, scale, acc ? 1 : 2);
    if (next != nullptr) {
      v.runner_up = next->name();
      v.diff = pareto_value(r, *next) - v.pick_value;
      const double se_next = pareto_value_se(r, *next);
      v.diff_se = std::sqrt(v.pick_se * v.pick_se + se_next * se_next);
      const double se_paired = paired ? paired(*pick, *next) : ResultRow::kNone;
      v.paired = std::isfinite(se_paired);
      if (v.paired) v.diff_se = se_paired;
      v.within_noise = std::isfinite(v.diff_se) && std::abs(v.diff) < 2 * v.diff_se;
      os << "; the next best, " << v.runner_up << " (" << mb_text(next->file_bytes)
         << "), is behind by " << with_se(std::abs(v.diff), v.diff_se, std::abs(scale), acc ? 1 : 2)
         << (v.paired ? " (paired)" : std::isfinite(v.diff_se) ? " (unpaired)" : "")
         << (v.within_noise ? ": within noise, either will do" : "");
    }
    os << ".";
    v.text = os.str();
    if (v.within_noise)
      r.warnings.push_back(cat("at ", mb_text(bytes), " ", v.pick, " and ", v.runner_up,
                               " differ by less than 2 standard errors on ", pareto_metric_text(r),
                               ": within noise"));
    r.verdict.push_back(std::move(v));
  }
  std::string same;
  for (const ResultRow& row : r.rows)
    for (size_t i = 0; i < row.ppl_diff.size() && i < r.data.size(); ++i)
      if (is_compared(row) && i < row.ppl_diff_se.size() && std::isfinite(row.ppl_diff_se[i]) &&
          std::abs(row.ppl_diff[i]) < 2 * row.ppl_diff_se[i])
        same += cat(same.empty() ? "" : ", ", row.name(), " on ", r.data[i]);
  if (!same.empty())
    r.warnings.push_back("perplexity within 2 paired standard errors of the original's: " + same);
}


}  // namespace lieq
