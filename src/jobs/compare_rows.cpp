#include "jobs/compare_rows.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <fstream>

#include "eval/kld.h"
#include "eval/perplexity.h"
#include "eval/ppl_stats.h"
#include "eval/zeroshot.h"
#include "format/dtype.h"
#include "model/arch.h"
#include "pipeline/layer_pass.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_file.h"
#include "util/mapped_file.h"

namespace lieq::jobs {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {
std::vector<std::string> settings_paths(const std::vector<std::string>& v) {
  std::vector<std::string> o;
  for (const auto& p : v) o.push_back(settings_path(p));
  return o;
}

template <typename T>
void push_unique(std::vector<T>& v, const T& x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

// Stored dtype of the linear weights ("BF16"; "mixed" when they differ).
std::string linear_dtype(const ModelReader& reader) {
  std::string dtype;
  for (int l = 0; l < int(reader.config().n_layers); ++l)
    for (Role role : kLinearRoles) {
      const std::string d = dtype_name(reader.store().get(hf_layer_tensor_name(role, l)).dtype);
      if (dtype.empty()) dtype = d;
      if (d != dtype) return "mixed";
    }
  return dtype;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? std::string("none") : s;
}
}  // namespace

CompareInputs check_compare_inputs(const CompareRequest& r) {
  CompareInputs in;
  check(r.shard.count >= 1 && r.shard.index >= 0 && r.shard.index < r.shard.count, "--shard ",
        r.shard.index, "/", r.shard.count, ": want I/N with 0 <= I < N");
  for (QuantMethod m : r.methods) push_unique(in.methods, m);
  check(!in.methods.empty(), "--methods: at least one method");
  check(std::isfinite(r.bpw_tolerance) && r.bpw_tolerance >= 0, "--bpw-tolerance ",
        r.bpw_tolerance, ": must be a number >= 0");
  for (AllocatorKind a : r.allocators) push_unique(in.allocators, a);
  check(!in.allocators.empty(), "--allocators: at least one allocator");
  in.levels = sorted_levels(r.levels);
  in.formats = level_formats(in.levels, false, "", r.group_size, r.symmetric);
  check(!r.targets.empty(), "--target-bpw: at least one target");
  in.targets = r.targets;
  std::sort(in.targets.begin(), in.targets.end());
  in.targets.erase(std::unique(in.targets.begin(), in.targets.end()), in.targets.end());
  if (!fs::is_regular_file(r.calib.file)) fail(r.calib.file, ": no such file (--calib)");
  check(!r.data.empty() || !r.tasks.empty(),
        "give at least one --data or --task file to evaluate on");
  for (const std::string& f : r.data) {
    in.texts.push_back(read_text_file(f));
    if (in.texts.back().empty()) fail(f, ": empty file (--data)");
  }
  for (const std::string& t : r.tasks) in.tasks.push_back(load_task(t, r.task_limit));
  in.kld_file = r.kld_data.empty() && !r.data.empty() ? r.data[0] : r.kld_data;
  if (!in.kld_file.empty()) {
    in.kld_text =
        !r.data.empty() && in.kld_file == r.data[0] ? in.texts[0] : read_text_file(in.kld_file);
    if (in.kld_text.empty()) fail(in.kld_file, ": empty file (--kld-data)");
  }
  return in;
}

json eval_settings(const CompareRequest& r, const CompareInputs& in, bool with_kld) {
  json j = {{"data", settings_paths(r.data)},
            {"tasks", settings_paths(r.tasks)},
            {"task_limit", r.task_limit},
            {"ppl_windows", r.ppl_windows},
            {"ctx", r.ctx},
            {"protocol", "plain"}};
  if (with_kld) {
    j["kld_data"] = in.kld_file.empty() ? "" : settings_path(in.kld_file);
    j["kld_windows"] = r.kld_windows;
  }
  return j;
}

json quant_settings(const CompareRequest& r, QuantMethod method, const Plan& plan) {
  json j = {{"model", settings_path(r.model)},
          {"method", method_name(method)},
          {"calib", settings_path(r.calib.file)},
          {"samples", r.calib.samples},
          {"seqlen", r.calib.seqlen},
          {"seed", r.calib.seed},
          {"group_size", r.group_size},
          {"symmetric", r.symmetric},
          {"damp", r.damp},
          {"layer_bits", plan.bits}};
  // Only where a layer is not its level's grid, so that earlier settings stay the same.
  json formats = json::array();
  bool other = false;
  for (size_t l = 0; l < plan.layer_formats.size(); ++l) {
    const StorageFormat& f = plan.layer_formats[l];
    formats.push_back(f.name());
    const QuantSpec level{plan.bits[l], r.group_size, r.symmetric};
    other = other || !(f == StorageFormat::grid(level));
  }
  if (other) j["layer_formats"] = formats;
  return j;
}

DiagnoseRequest compare_diagnose_request(const CompareRequest& r) {
  DiagnoseRequest d;
  d.model = r.model;
  d.calib = r.diag_calib;
  return d;
}

std::vector<std::pair<std::string, std::string>> report_settings(const CompareRequest& r,
                                                                 const CompareInputs& in,
                                                                 const ModelReader& reader) {
  std::string levels;
  for (int b : in.levels) levels += cat(levels.empty() ? "" : ", ", b);
  std::vector<std::string> methods, allocators, targets;
  for (QuantMethod m : in.methods) methods.push_back(method_name(m));
  for (AllocatorKind a : in.allocators) allocators.push_back(allocator_name(a));
  for (double t : in.targets) targets.push_back(bpw_text(t));
  return {
      {"Model", cat(r.model, " (", reader.config().architecture, ", ", reader.config().n_layers,
                    " layers, ", linear_dtype(reader), ")")},
      {"Methods", joined(methods)},
      {"Allocators", joined(allocators)},
      {"Target bpw", joined(targets)},
      {"Levels", cat(levels, " bits, group size ", r.group_size,
                     r.symmetric ? ", symmetric" : ", asymmetric",
                     "; uniform: one grid for every layer, its group size the one that reaches "
                     "the target")},
      {"Matched bits", cat("a row is shown under its target when its linear bpw is within ",
                           bpw_text(r.bpw_tolerance), " bpw of it")},
      {"Calibration", cat(r.calib.file, ": ", r.calib.samples, " x ", r.calib.seqlen,
                          " tokens, seed ", r.calib.seed)},
      {"Diagnostics calibration",
       cat(r.diag_calib.file, ": ", r.diag_calib.samples, " x ", r.diag_calib.seqlen, " tokens")},
      {"Perplexity",
       cat(joined(r.data), " (plain protocol, ctx ", r.ctx > 0 ? std::to_string(r.ctx) : "default",
           ", ", r.ppl_windows > 0 ? std::to_string(r.ppl_windows) : "all", " windows)")},
      {"Tasks",
       cat(joined(r.tasks), r.task_limit > 0 ? cat(" (first ", r.task_limit, " items)") : "")},
      {"KL divergence",
       in.kld_file.empty()
           ? "none"
           : cat(in.kld_file, " (", r.kld_windows > 0 ? std::to_string(r.kld_windows) : "all",
                 " windows)")},
  };
}

void Original::load() {
  if (model) return;
  model = std::make_unique<Model>(load_model(path));
  tok = std::make_unique<Tokenizer>(load_tokenizer(*model));
}

fs::path nll_path(const fs::path& out, size_t i) {
  return out / "rows" / cat("original-", i, ".nll");
}

fs::path row_nll_path(const fs::path& out, const std::string& name, size_t i) {
  return out / "rows" / cat(name, "-", i, ".nll");
}

PairedSe paired_se_from(const ComparisonResults& r, std::vector<fs::path> dirs) {
  const std::string m = r.pareto_metric;
  size_t data_index = std::string::npos;
  if (m.rfind("ppl:", 0) == 0)
    for (size_t i = 0; i < r.data.size(); ++i)
      if (r.data[i] == m.substr(4)) data_index = i;
  return [m, data_index, dirs](const ResultRow& a, const ResultRow& b) {
    if (m == "acc") {
      if (a.acc_items.empty() || a.acc_items.size() != b.acc_items.size()) return ResultRow::kNone;
      double v = 0;
      for (size_t k = 0; k < a.acc_items.size(); ++k) {
        if (a.acc_items[k].empty() || a.acc_items[k].size() != b.acc_items[k].size())
          return ResultRow::kNone;
        const double se = paired_acc_difference(b.acc_items[k], a.acc_items[k]).acc_diff_se;
        v += se * se;
      }
      return std::sqrt(v) / double(a.acc_items.size());
    }
    if (data_index == std::string::npos) return ResultRow::kNone;
    auto nll = [&](const ResultRow& x) {
      for (const fs::path& d : dirs) {
        const fs::path p = row_nll_path(d, x.name(), data_index);
        if (fs::exists(p)) return read_nll_file(p);
      }
      return std::vector<float>{};
    };
    const std::vector<float> na = nll(a), nb = nll(b);
    if (na.empty() || na.size() != nb.size()) return ResultRow::kNone;
    return paired_ppl_difference(nb, na).ppl_diff_se;
  };
}

namespace {
constexpr char kNllMagic[8] = {'L', 'I', 'E', 'Q', 'N', 'L', 'L', '1'};
}  // namespace

void write_nll_file(const fs::path& path, const std::vector<float>& nll) {
  static_assert(std::endian::native == std::endian::little, "the .nll files are little endian");
  std::string bytes(kNllMagic, sizeof kNllMagic);
  const uint64_t n = nll.size();
  bytes.append(reinterpret_cast<const char*>(&n), sizeof n);
  bytes.append(reinterpret_cast<const char*>(nll.data()), nll.size() * sizeof(float));
  write_file_atomic(path, bytes);
}

std::vector<float> read_nll_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[sizeof kNllMagic];
  uint64_t n = 0;
  if (!f.read(magic, sizeof magic) || !std::equal(magic, magic + sizeof magic, kNllMagic) ||
      !f.read(reinterpret_cast<char*>(&n), sizeof n) ||
      n != (fs::file_size(path) - sizeof magic - sizeof n) / sizeof(float))
    return {};
  std::vector<float> v(n);
  if (!f.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * sizeof(float)))) return {};
  return v;
}

void evaluate_row(const Model& model, const Tokenizer& tok, const Model* base,
                  const CompareRequest& r, const CompareInputs& in, ResultRow& row,
                  const std::vector<std::vector<float>>* ref_nll,
                  std::vector<std::vector<float>>* token_nll,
                  const std::vector<std::string>* ref_items) {
  PplOptions po;
  po.ctx = r.ctx;
  po.max_windows = r.ppl_windows;
  const auto t_ppl = Clock::now();
  if (token_nll != nullptr) token_nll->clear();
  for (size_t i = 0; i < in.texts.size(); ++i) {
    PplOptions pi = po;
    pi.keep_token_nll = true;
    PplResult p = perplexity(model, tok, in.texts[i], pi);
    row.ppl.push_back(p.ppl);
    row.ppl_se.push_back(ppl_standard_error(p.token_nll).ppl_se);
    if (ref_nll != nullptr) {
      // Same settings, same windows: the same tokens (a length mismatch means an old file).
      const std::vector<float>* ref = i < ref_nll->size() ? &(*ref_nll)[i] : nullptr;
      const bool paired = ref != nullptr && ref->size() == p.token_nll.size() && !ref->empty();
      const PairedPpl d = paired ? paired_ppl_difference(p.token_nll, *ref) : PairedPpl{};
      row.ppl_diff.push_back(paired ? d.ppl_diff : ResultRow::kNone);
      row.ppl_diff_se.push_back(paired ? d.ppl_diff_se : ResultRow::kNone);
    }
    if (token_nll != nullptr) token_nll->push_back(std::move(p.token_nll));
  }
  row.seconds["ppl"] = seconds_since(t_ppl);
  const auto t_tasks = Clock::now();
  double sum = 0;
  for (size_t k = 0; k < in.tasks.size(); ++k) {
    const TaskResult tr = evaluate_task(model, tok, in.tasks[k]);
    row.acc.push_back(tr.acc);
    row.acc_se.push_back(acc_standard_error(tr.acc, tr.n));
    row.acc_items.push_back(tr.outcomes);
    if (ref_items != nullptr) {
      const std::string* ref = k < ref_items->size() ? &(*ref_items)[k] : nullptr;
      const bool paired = ref != nullptr && ref->size() == tr.outcomes.size() && !ref->empty();
      const PairedAcc d = paired ? paired_acc_difference(tr.outcomes, *ref) : PairedAcc{};
      row.acc_diff.push_back(paired ? d.acc_diff : ResultRow::kNone);
      row.acc_diff_se.push_back(paired ? d.acc_diff_se : ResultRow::kNone);
    }
    sum += row.acc.back();
  }
  if (!in.tasks.empty()) row.avg_acc = sum / double(in.tasks.size());
  row.seconds["tasks"] = seconds_since(t_tasks);
  if (base != nullptr && !in.kld_text.empty()) {
    const auto t_kld = Clock::now();
    PplOptions ko = po;
    ko.max_windows = r.kld_windows;
    const KldResult k = kl_divergence(*base, model, tok, in.kld_text, ko);
    row.kld_mean = k.mean_kld;
    row.top1_agreement = k.top1_agreement;
    row.seconds["kld"] = seconds_since(t_kld);
  }
}

std::string row_summary(const ResultRow& row, const CompareInputs& in) {
  std::string s;
  for (size_t i = 0; i < row.ppl.size(); ++i) s += cat(" ppl ", fixed_text(row.ppl[i], 3));
  if (!in.tasks.empty()) s += cat(" avg acc ", fixed_text(100 * row.avg_acc, 1), "%");
  if (!std::isnan(row.kld_mean)) s += cat(" kld ", fixed_text(row.kld_mean, 4));
  return s;
}

bool reusable_row(const fs::path& path, const json& settings, const ArtifactCache& cache,
                  ResultRow* row) {
  const std::optional<json> j = cache.load(path, settings, "row " + path.stem().string());
  if (!j) return false;
  try {
    *row = row_from_json(*j, path.string());
    return true;
  } catch (const Error& e) {
    cache.note()(cat("  ", e.what(), "; measuring again"));
    return false;
  }
}

void save_row(const fs::path& path, const ResultRow& row, const ArtifactCache& cache) {
  cache.save(path, row_to_json(row), row.settings);
}

ResultRow original_row(const CompareRequest& r, const CompareInputs& in, const ModelReader& reader,
                       int64_t other_params, const fs::path& row_path, Original& fp,
                       const ArtifactCache& cache) {
  const json settings = {{"model", settings_path(r.model)}, {"eval", eval_settings(r, in, false)}};
  ResultRow row;
  fp.token_nll.clear();
  for (size_t i = 0; i < in.texts.size(); ++i)
    fp.token_nll.push_back(read_nll_file(nll_path(r.out, i)));
  const bool have_nll = std::none_of(fp.token_nll.begin(), fp.token_nll.end(),
                                     [](const std::vector<float>& v) { return v.empty(); });
  if (have_nll && reusable_row(row_path, settings, cache, &row) &&
      row.acc_items.size() == in.tasks.size()) {  // rows saved before items were kept lack them
    cache.note()(cat("original: reusing ", row_path.string()));
  } else {
    cache.note()(cat("original: evaluating ", r.model));
    fp.load();
    row = ResultRow();
    row.baseline = true;
    row.method = linear_dtype(reader);
    int64_t linear_bits = 0, linear_params = 0;
    for (int l = 0; l < int(reader.config().n_layers); ++l)
      for (Role role : kLinearRoles) {
        const TensorView& t = reader.store().get(hf_layer_tensor_name(role, l));
        linear_bits += int64_t(t.nbytes) * 8;
        linear_params += t.numel();
      }
    row.linear_bpw = double(linear_bits) / double(linear_params);
    for (const auto& e : fs::directory_iterator(r.model))
      if (e.is_regular_file() && e.path().extension() == ".safetensors" &&
          e.path().filename() != "golden.safetensors")
        row.file_bytes += int64_t(e.file_size());
    row.file_bpw = double(row.file_bytes) * 8 / double(linear_params + other_params);
    const auto t0 = Clock::now();
    evaluate_row(*fp.model, *fp.tok, nullptr, r, in, row, nullptr, &fp.token_nll);
    for (size_t i = 0; i < fp.token_nll.size(); ++i)
      write_nll_file(nll_path(r.out, i), fp.token_nll[i]);
    row.seconds["total"] = seconds_since(t0);
    row.settings = settings;
    save_row(row_path, row, cache);
  }
  cache.note()(cat("original:", row_summary(row, in)));
  return row;
}

}  // namespace lieq::jobs
