// lieq compare MODEL --calib FILE --target-bpw X[,Y...] [--methods rtn,gptq]
//     [--allocators uniform,lieq] [--levels 2,4] [--data FILE ...] [--task FILE ...] -o DIR
// Every method x allocator x target, each plan made by the plan stage for the
// same target (exact accounting), each quantized model evaluated like the
// original: perplexity per data file (plain protocol), zero-shot accuracy per
// task and their average, KL divergence from the original. Writes
// DIR/results.json, DIR/results.md (the paper's table layout) and a
// self-contained DIR/report.html.
//
// Resumable: the diagnostics (DIR/diagnostics.json), the measured allocator's
// measurements, the original's row and each finished combination's row
// (DIR/rows/<name>.json) are saved, each with the settings it was made under,
// and reused by a later run only when those settings are the same.
// Combinations whose plans coincide (uniform at two targets, or two allocators
// choosing the same bits) are quantized and measured once.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/stages.h"
#include "eval/kld.h"
#include "eval/perplexity.h"
#include "eval/tasks.h"
#include "eval/zeroshot.h"
#include "io/dtype.h"
#include "io/quant_manifest.h"
#include "model/arch.h"
#include "model/load.h"
#include "model/reader.h"
#include "pipeline/quantize.h"
#include "report/html_report.h"
#include "report/results_table.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_file.h"
#include "util/mapped_file.h"
#include "util/progress.h"

namespace lieq::cli {

namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct CompareArgs {
  std::string model, out;
  CalibArgs calib;       // quantization (GPTQ's Hessians, output errors)
  CalibArgs diag_calib;  // diagnostics and the measured allocator's measurements
  std::vector<double> targets;
  std::vector<std::string> methods = {"rtn", "gptq"};
  std::vector<std::string> allocators = {"uniform", "lieq"};
  std::vector<int> levels = {2, 4};
  int group_size = 128;
  bool sym = false;
  double damp = 0.01;
  std::vector<std::string> data, tasks;
  std::string kld_data;  // default: the first --data file
  int64_t task_limit = 0, ppl_windows = 0, kld_windows = 0, ctx = 0;
  bool no_keep_models = false, json = false;
};

// Everything read and checked before any model work.
struct Inputs {
  std::vector<QuantMethod> methods;
  std::vector<std::string> method_names, allocator_names;
  std::vector<double> targets;     // ascending, unique
  std::vector<int> levels;         // ascending, unique
  std::vector<std::string> texts;  // per --data file
  std::vector<Task> tasks;
  std::string kld_file, kld_text;
};

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string abs_path(const std::string& p) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).string() : c.string();
}

std::vector<std::string> abs_paths(const std::vector<std::string>& v) {
  std::vector<std::string> o;
  for (const auto& p : v) o.push_back(abs_path(p));
  return o;
}

template <typename... Args>
void note(const char* fmt, Args... args) {
  if (progress_enabled()) std::fprintf(stderr, fmt, args...);
}

Inputs check_inputs(const CompareArgs& a) {
  Inputs in;
  std::string known;
  for (const char* m : {"rtn", "gptq", "awq"}) {
    QuantMethod q;
    if (parse_method(m, &q)) known += cat(known.empty() ? "" : ", ", m);
  }
  for (const std::string& m : a.methods) {
    QuantMethod q;
    if (!parse_method(m, &q)) fail("--methods: unknown method \"", m, "\" (", known, ")");
    if (std::find(in.method_names.begin(), in.method_names.end(), m) != in.method_names.end())
      continue;
    in.methods.push_back(q);
    in.method_names.push_back(m);
  }
  check(!in.methods.empty(), "--methods: at least one method");
  for (const std::string& s : a.allocators) {
    AllocatorKind k;
    if (!parse_allocator(s, &k))
      fail("--allocators: unknown allocator \"", s, "\" (", allocator_names(), ")");
    if (std::find(in.allocator_names.begin(), in.allocator_names.end(), s) ==
        in.allocator_names.end())
      in.allocator_names.push_back(s);
  }
  check(!in.allocator_names.empty(), "--allocators: at least one allocator");
  check(!a.levels.empty(), "--levels: at least one bit width");
  for (int b : a.levels) validate_spec({b, a.group_size, a.sym}, cat("--levels ", b));
  in.levels = a.levels;
  std::sort(in.levels.begin(), in.levels.end());
  in.levels.erase(std::unique(in.levels.begin(), in.levels.end()), in.levels.end());
  check(!a.targets.empty(), "--target-bpw: at least one target");
  in.targets = a.targets;
  std::sort(in.targets.begin(), in.targets.end());
  in.targets.erase(std::unique(in.targets.begin(), in.targets.end()), in.targets.end());
  if (!fs::is_regular_file(a.calib.file)) fail(a.calib.file, ": no such file (--calib)");
  check(!a.data.empty() || !a.tasks.empty(),
        "give at least one --data or --task file to evaluate on");
  for (const std::string& f : a.data) {
    in.texts.push_back(read_text_file(f));
    if (in.texts.back().empty()) fail(f, ": empty file (--data)");
  }
  for (const std::string& t : a.tasks) in.tasks.push_back(load_task(t, a.task_limit));
  in.kld_file = a.kld_data.empty() && !a.data.empty() ? a.data[0] : a.kld_data;
  if (!in.kld_file.empty()) {
    in.kld_text =
        !a.data.empty() && in.kld_file == a.data[0] ? in.texts[0] : read_text_file(in.kld_file);
    if (in.kld_text.empty()) fail(in.kld_file, ": empty file (--kld-data)");
  }
  return in;
}

// The smallest linear bpw a plan can reach: every layer at the lowest level.
double min_linear_bpw(const Diagnostics& shapes, int level, int group_size, bool sym) {
  const QuantSpec spec{level, group_size, sym};
  int64_t bits = 0, params = 0;
  for (const LayerShapes& l : shapes.layer_shapes)
    for (const auto& [rows, cols] : l.linears) {
      bits += spec.storage_bits(rows, cols);
      params += rows * cols;
    }
  return double(bits) / double(params);
}

json diag_settings(const CompareArgs& a) {
  return {{"model", abs_path(a.model)},
          {"calib", abs_path(a.diag_calib.file)},
          {"samples", a.diag_calib.samples},
          {"seqlen", a.diag_calib.seqlen},
          {"seed", a.diag_calib.seed}};
}

// DIR/diagnostics.json when it was made for this model and calibration, else
// diagnosed again (and the measurements beside it, made with the old
// settings, removed).
Diagnostics diagnostics_for(const CompareArgs& a, const fs::path& path) {
  const json want = diag_settings(a);
  if (fs::exists(path)) {
    try {
      const json j = read_json_file(path);
      Diagnostics d = diagnostics_from_json(j, path.string());
      const bool same = j.contains("compare_settings")
                            ? j["compare_settings"] == want
                            : abs_path(d.model_path) == abs_path(a.model);  // made by lieq diagnose
      if (same) {
        note("diagnostics: reusing %s\n", path.string().c_str());
        return d;
      }
      note("diagnostics: %s was made with other settings; diagnosing again\n",
           path.string().c_str());
    } catch (const Error& e) {
      note("diagnostics: %s; diagnosing again\n", e.what());
    }
    fs::remove(measurements_path_for(path.string()));
  }
  DiagnoseArgs da;
  da.model = a.model;
  da.calib = a.diag_calib;
  note("diagnostics: %s\n", a.model.c_str());
  const Diagnostics d = run_diagnose_stage(da);
  json j = diagnostics_to_json(d);
  j["compare_settings"] = want;
  write_file_atomic(path, j.dump(1) + "\n");
  fs::path svg = path;
  svg.replace_extension(".svg");
  write_file_atomic(svg, diagnostics_chart_svg(d));
  return d;
}

json eval_settings(const CompareArgs& a, const Inputs& in, bool with_kld) {
  json j = {{"data", abs_paths(a.data)},
            {"tasks", abs_paths(a.tasks)},
            {"task_limit", a.task_limit},
            {"ppl_windows", a.ppl_windows},
            {"ctx", a.ctx},
            {"protocol", "plain"}};
  if (with_kld) {
    j["kld_data"] = in.kld_file.empty() ? "" : abs_path(in.kld_file);
    j["kld_windows"] = a.kld_windows;
  }
  return j;
}

json quant_settings(const CompareArgs& a, const std::string& method, const std::vector<int>& bits) {
  return {
      {"model", abs_path(a.model)}, {"method", method},         {"calib", abs_path(a.calib.file)},
      {"samples", a.calib.samples}, {"seqlen", a.calib.seqlen}, {"seed", a.calib.seed},
      {"group_size", a.group_size}, {"symmetric", a.sym},       {"damp", a.damp},
      {"layer_bits", bits}};
}

// A saved row when it exists and was measured under `settings`.
bool reusable_row(const fs::path& path, const json& settings, ResultRow* row) {
  if (!fs::exists(path)) return false;
  try {
    *row = row_from_json(read_json_file(path), path.string());
  } catch (const Error& e) {
    note("  %s; measuring again\n", e.what());
    return false;
  }
  if (row->settings == settings) return true;
  note("  %s was measured with other settings; measuring again\n", path.string().c_str());
  return false;
}

// Perplexity per data file, accuracy per task and their average, and (with
// a base model) KL divergence from it.
void evaluate_row(const Model& model, const Tokenizer& tok, const Model* base, const CompareArgs& a,
                  const Inputs& in, ResultRow& row) {
  PplOptions po;
  po.ctx = a.ctx;
  po.max_windows = a.ppl_windows;
  const auto t_ppl = Clock::now();
  for (const std::string& text : in.texts) row.ppl.push_back(perplexity(model, tok, text, po).ppl);
  row.seconds["ppl"] = since(t_ppl);
  const auto t_tasks = Clock::now();
  double sum = 0;
  for (const Task& t : in.tasks) {
    row.acc.push_back(evaluate_task(model, tok, t).acc);
    sum += row.acc.back();
  }
  if (!in.tasks.empty()) row.avg_acc = sum / double(in.tasks.size());
  row.seconds["tasks"] = since(t_tasks);
  if (base != nullptr && !in.kld_text.empty()) {
    const auto t_kld = Clock::now();
    PplOptions ko = po;
    ko.max_windows = a.kld_windows;
    const KldResult k = kl_divergence(*base, model, tok, in.kld_text, ko);
    row.kld_mean = k.mean_kld;
    row.top1_agreement = k.top1_agreement;
    row.seconds["kld"] = since(t_kld);
  }
}

std::string row_summary(const ResultRow& row, const Inputs& in) {
  std::string s;
  for (size_t i = 0; i < row.ppl.size(); ++i) s += cat(" ppl ", fixed_text(row.ppl[i], 3));
  if (!in.tasks.empty()) s += cat(" avg acc ", fixed_text(100 * row.avg_acc, 1), "%");
  if (!std::isnan(row.kld_mean)) s += cat(" kld ", fixed_text(row.kld_mean, 4));
  return s;
}

std::string stem(const std::string& p) {
  return fs::path(p).stem().string();
}

// Stored dtype of the linear weights ("BF16"; "mixed" when they differ).
std::string linear_dtype(const ModelReader& reader) {
  std::string dtype;
  for (int l = 0; l < int(reader.config().n_layers); ++l)
    for (Role r : kLinearRoles) {
      const std::string d = dtype_name(reader.store().get(hf_layer_tensor_name(r, l)).dtype);
      if (dtype.empty()) dtype = d;
      if (d != dtype) return "mixed";
    }
  return dtype;
}

// One plan per allocator and target, each saved under DIR/plans; their
// summaries go to results.json.
std::map<std::pair<std::string, double>, Plan> make_plans(const CompareArgs& a, const Inputs& in,
                                                          const Diagnostics& d,
                                                          const fs::path& diag_path,
                                                          json& plans_json) {
  std::map<std::pair<std::string, double>, Plan> plans;
  const fs::path dir = diag_path.parent_path();
  for (double t : in.targets)
    for (const std::string& al : in.allocator_names) {
      PlanArgs pa;
      pa.allocator = al;
      pa.target_bpw = t;
      pa.levels = in.levels;
      pa.group_size = a.group_size;
      pa.symmetric = a.sym;
      pa.model = a.model;
      pa.calib = a.diag_calib;
      Plan p = run_plan_stage(d, pa, diag_path.string());
      const json pj = plan_to_json(p);
      write_file_atomic(dir / "plans" / (al + "-" + bpw_text(t) + ".json"), pj.dump(1) + "\n");
      plans_json.push_back({{"allocator", al},
                            {"target_bpw", t},
                            {"linear_bpw", p.linear_bpw()},
                            {"expected_file_bytes", p.expected_file_bytes()},
                            {"bits", p.bits}});
      note("plan %s %s bpw: linear %.4f bpw, bits", al.c_str(), bpw_text(t).c_str(),
           p.linear_bpw());
      for (int b : p.bits) note(" %d", b);
      note("\n");
      plans[{al, t}] = std::move(p);
    }
  return plans;
}

// The original model and its tokenizer, loaded when first needed.
struct Original {
  explicit Original(std::string p) : path(std::move(p)) {}
  void load() {
    if (model) return;
    model = std::make_unique<Model>(load_model(path));
    tok = std::make_unique<Tokenizer>(load_tokenizer(*model));
  }
  std::string path;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
};

// The original's row: its stored linear bpw and file size, evaluated like the
// quantized models (saved in row_path; reused when the settings match).
ResultRow original_row(const CompareArgs& a, const Inputs& in, const ModelReader& reader,
                       const Diagnostics& shapes, const fs::path& row_path, Original& fp) {
  const json settings = {{"model", abs_path(a.model)}, {"eval", eval_settings(a, in, false)}};
  ResultRow row;
  if (reusable_row(row_path, settings, &row)) {
    note("original: reusing %s\n", row_path.string().c_str());
  } else {
    note("original: evaluating %s\n", a.model.c_str());
    fp.load();
    row = ResultRow();
    row.baseline = true;
    row.method = linear_dtype(reader);
    int64_t linear_bits = 0, linear_params = 0;
    for (int l = 0; l < int(reader.config().n_layers); ++l)
      for (Role r : kLinearRoles) {
        const TensorView& t = reader.store().get(hf_layer_tensor_name(r, l));
        linear_bits += int64_t(t.nbytes) * 8;
        linear_params += t.numel();
      }
    row.linear_bpw = double(linear_bits) / double(linear_params);
    for (const auto& e : fs::directory_iterator(a.model))
      if (e.is_regular_file() && e.path().extension() == ".safetensors" &&
          e.path().filename() != "golden.safetensors")
        row.file_bytes += int64_t(e.file_size());
    row.file_bpw = double(row.file_bytes) * 8 / double(linear_params + shapes.other_params);
    const auto t0 = Clock::now();
    evaluate_row(*fp.model, *fp.tok, nullptr, a, in, row);
    row.seconds["total"] = since(t0);
    row.settings = settings;
    write_file_atomic(row_path, row_to_json(row).dump(1) + "\n");
  }
  note("original:%s\n", row_summary(row, in).c_str());
  return row;
}

// The quantization calibration set, tokenized once when first needed.
struct LazyCalib {
  const CalibSet& get(const CompareArgs& a, const ModelReader& reader) {
    if (!loaded) {
      set = load_calibration(a.model, a.calib, reader.config().max_position_embeddings);
      loaded = true;
    }
    return set;
  }
  CalibSet set;
  bool loaded = false;
};

// Quantizes the model by plan p into mdir, or reuses mdir when its
// compare.json says it was made with the same settings `qs`; fills the row's
// real bpw, file size and quantization time.
void quantize_or_reuse(const CompareArgs& a, ModelReader& reader, LazyCalib& calib,
                       QuantMethod method, const Plan& p, const json& qs, const fs::path& mdir,
                       ResultRow& row) {
  const fs::path marker = mdir / "compare.json";
  bool reuse_model = false;
  if (fs::exists(marker) && fs::exists(mdir / "quantize_report.json")) {
    try {
      reuse_model = read_json_file(marker) == qs;
    } catch (const Error&) {
    }
  }
  if (reuse_model) {
    const fs::path rep_path = mdir / "quantize_report.json";
    const json rep = read_json_file(rep_path);
    row.linear_bpw = json_get<double>(rep, "linear_bpw", rep_path);
    row.file_bpw = json_get<double>(rep, "file_bpw", rep_path);
    row.file_bytes = json_get<int64_t>(rep, "file_bytes", rep_path);
    row.seconds["quantize"] = json_get<double>(rep, "seconds", rep_path);
    note("  reusing the quantized model %s\n", mdir.string().c_str());
  } else {
    if (fs::exists(mdir)) fs::remove_all(mdir);
    QuantizeOptions qo;
    qo.method = method;
    qo.layer_specs = p.layer_specs();
    qo.gptq.damp = a.damp;
    qo.progress = progress_enabled();
    qo.extra_files["plan.json"] = plan_to_json(p).dump(1) + "\n";
    qo.extra_files["compare.json"] = qs.dump(1) + "\n";
    const QuantizeReport rep = quantize_model(reader, &calib.get(a, reader), qo, mdir);
    row.linear_bpw = rep.linear_bpw();
    row.file_bpw = rep.file_bpw();
    row.file_bytes = rep.file_bytes;
    row.seconds["quantize"] = rep.seconds;
  }
}

// The settings shown at the top of the report.
std::vector<std::pair<std::string, std::string>> report_settings(const CompareArgs& a,
                                                                 const Inputs& in,
                                                                 const ModelReader& reader) {
  std::string levels;
  for (int b : in.levels) levels += cat(levels.empty() ? "" : ", ", b);
  auto joined = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("none") : s;
  };
  std::vector<std::string> targets;
  for (double t : in.targets) targets.push_back(bpw_text(t));
  return {
      {"Model", cat(a.model, " (", reader.config().architecture, ", ", reader.config().n_layers,
                    " layers, ", linear_dtype(reader), ")")},
      {"Methods", joined(in.method_names)},
      {"Allocators", joined(in.allocator_names)},
      {"Target bpw", joined(targets)},
      {"Levels",
       cat(levels, " bits, group size ", a.group_size, a.sym ? ", symmetric" : ", asymmetric")},
      {"Calibration", cat(a.calib.file, ": ", a.calib.samples, " x ", a.calib.seqlen,
                          " tokens, seed ", a.calib.seed)},
      {"Diagnostics calibration",
       cat(a.diag_calib.file, ": ", a.diag_calib.samples, " x ", a.diag_calib.seqlen, " tokens")},
      {"Perplexity",
       cat(joined(a.data), " (plain protocol, ctx ", a.ctx > 0 ? std::to_string(a.ctx) : "default",
           ", ", a.ppl_windows > 0 ? std::to_string(a.ppl_windows) : "all", " windows)")},
      {"Tasks",
       cat(joined(a.tasks), a.task_limit > 0 ? cat(" (first ", a.task_limit, " items)") : "")},
      {"KL divergence",
       in.kld_file.empty()
           ? "none"
           : cat(in.kld_file, " (", a.kld_windows > 0 ? std::to_string(a.kld_windows) : "all",
                 " windows)")},
  };
}

int run_compare(const CompareArgs& a) {
  const auto t_start = Clock::now();
  const Inputs in = check_inputs(a);
  ModelReader reader(a.model);
  if (reader.quantized())
    fail(a.model, ": is a lieq quantized model (", kQuantManifestFile,
         "); compare the original model");
  Diagnostics shapes;
  describe_model(reader, shapes);
  const double min_bpw = min_linear_bpw(shapes, in.levels[0], a.group_size, a.sym);
  for (double t : in.targets)
    if (t < min_bpw - 1e-9)
      fail("--target-bpw ", bpw_text(t), ": below the smallest reachable ", fixed_text(min_bpw, 4),
           " bpw (every layer at ", in.levels[0], " bits, group size ", a.group_size, ")");

  const fs::path dir = a.out;
  for (const char* sub : {"rows", "models", "plans"}) fs::create_directories(dir / sub);
  const size_t n_combos = in.targets.size() * in.methods.size() * in.allocator_names.size();
  note("compare: %zu methods x %zu allocators x %zu targets = %zu quantized models -> %s\n",
       in.methods.size(), in.allocator_names.size(), in.targets.size(), n_combos,
       dir.string().c_str());

  // Diagnostics and plans (cheap once the diagnostics exist; measurements are reused).
  const fs::path diag_path = dir / "diagnostics.json";
  const Diagnostics d = diagnostics_for(a, diag_path);
  json plans_json = json::array();
  const std::map<std::pair<std::string, double>, Plan> plans =
      make_plans(a, in, d, diag_path, plans_json);

  // The original model: loaded once, evaluated once (its row saved), kept for KLD.
  Original fp(a.model);
  ComparisonResults res;
  res.model = a.model;
  for (const std::string& f : a.data) res.data.push_back(stem(f));
  for (const Task& t : in.tasks) res.tasks.push_back(t.name);
  res.kld_data = in.kld_file.empty() ? "" : stem(in.kld_file);
  res.baseline = original_row(a, in, reader, shapes, dir / "rows" / "original.json", fp);
  res.has_baseline = true;

  // The combinations, grouped by target.
  LazyCalib calib;
  size_t i_combo = 0, n_reused = 0;
  for (double t : in.targets)
    for (size_t i_m = 0; i_m < in.methods.size(); ++i_m)
      for (const std::string& al : in.allocator_names) {
        ++i_combo;
        const Plan& p = plans.at({al, t});
        ResultRow row;
        row.method = in.method_names[i_m];
        row.allocator = al;
        row.target_bpw = t;
        const std::string name = row.name();
        const json qs = quant_settings(a, row.method, p.bits);
        const json settings = {{"quant", qs}, {"eval", eval_settings(a, in, true)}};
        const fs::path row_path = dir / "rows" / (name + ".json");
        if (reusable_row(row_path, settings, &row)) {
          note("[%zu/%zu] %s %s %s bpw: already measured, reusing %s\n", i_combo, n_combos,
               row.method.c_str(), al.c_str(), bpw_text(t).c_str(), row_path.string().c_str());
          res.rows.push_back(row);
          ++n_reused;
          continue;
        }
        // Another target can give the same plan (e.g. uniform at 2.5 and 3 with levels 2, 4):
        // the same quantized model, measured once.
        const auto same = std::find_if(res.rows.begin(), res.rows.end(),
                                       [&](const ResultRow& x) { return x.settings == settings; });
        if (same != res.rows.end()) {
          note("[%zu/%zu] %s %s %s bpw: the same plan as %s, reusing its results\n", i_combo,
               n_combos, row.method.c_str(), al.c_str(), bpw_text(t).c_str(), same->name().c_str());
          row = *same;
          row.method = in.method_names[i_m];
          row.allocator = al;
          row.target_bpw = t;
          write_file_atomic(row_path, row_to_json(row).dump(1) + "\n");
          res.rows.push_back(row);
          ++n_reused;
          continue;
        }
        row = ResultRow();
        row.method = in.method_names[i_m];
        row.allocator = al;
        row.target_bpw = t;
        row.layer_bits = p.bits;
        note("[%zu/%zu] %s %s %s bpw (plan: linear %.4f bpw)\n", i_combo, n_combos,
             row.method.c_str(), al.c_str(), bpw_text(t).c_str(), p.linear_bpw());
        const auto t0 = Clock::now();
        const fs::path mdir = dir / "models" / name;
        quantize_or_reuse(a, reader, calib, in.methods[i_m], p, qs, mdir, row);
        if (std::abs(row.linear_bpw - p.linear_bpw()) > 1e-9)
          note("lieq: warning: %s: linear %.6f bpw, the plan said %.6f\n", name.c_str(),
               row.linear_bpw, p.linear_bpw());
        fp.load();
        {
          const Model q = load_model(mdir);
          evaluate_row(q, *fp.tok, fp.model.get(), a, in, row);
        }
        row.seconds["total"] = since(t0);
        row.settings = settings;
        write_file_atomic(row_path, row_to_json(row).dump(1) + "\n");
        if (a.no_keep_models) fs::remove_all(mdir);
        note("  %s:%s (%.1fs)\n", name.c_str(), row_summary(row, in).c_str(), row.seconds["total"]);
        res.rows.push_back(row);
      }
  sort_rows(res.rows);
  compute_recovery(res);

  res.settings = report_settings(a, in, reader);

  json j = results_to_json(res);
  j["plans"] = plans_json;
  j["diagnostics"] = diagnostics_to_json(d);
  j["seconds"] = since(t_start);
  write_file_atomic(dir / "results.json", j.dump(1) + "\n");
  const std::string md = results_markdown(res);
  write_file_atomic(dir / "results.md",
                    "# lieq compare: " + markdown_escape(a.model) + "\n\n" + md);
  write_file_atomic(dir / "report.html", comparison_html(res, diagnostics_chart_svg(d)));
  note("compare: %zu combinations (%zu reused), %.1fs; wrote %s, %s and %s\n", n_combos, n_reused,
       since(t_start), (dir / "results.json").string().c_str(),
       (dir / "results.md").string().c_str(), (dir / "report.html").string().c_str());
  if (a.json)
    print_json(j);
  else
    std::cout << md;
  return 0;
}
}  // namespace

void add_compare(CLI::App& app, Action& action) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* sub = app.add_subcommand(
      "compare",
      "Every method x allocator x bpw target at matched bits per weight: perplexity, "
      "zero-shot accuracy, KLD; results.json, results.md and report.html");
  sub->add_option("model", args->model, "Hugging Face model directory (the original)")->required();
  sub->add_option("-o,--output", args->out, "Output directory (resumed when it exists)")
      ->required();
  add_calib_flags(sub, args->calib);
  sub->add_option("--target-bpw", args->targets,
                  "Linear-layer bits per weight targets (scales and zeros included), e.g. 2.5,4.25")
      ->required()
      ->delimiter(',')
      ->check(CLI::Range(1.0, 16.0));
  sub->add_option("--methods", args->methods, "Quantizers: rtn, gptq, awq")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--allocators", args->allocators,
                  "Allocators: lieq, uniform, positional, lim, zd, measured")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--levels", args->levels, "Bit widths a layer may get")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--group-size", args->group_size, "Weights per group (0 = per channel)")
      ->capture_default_str();
  sub->add_flag("--sym", args->sym, "Symmetric grid (no zero points)");
  sub->add_option("--damp", args->damp, "GPTQ damping, fraction of the mean Hessian diagonal")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  args->diag_calib.samples = 32;
  args->diag_calib.seqlen = 512;
  sub->add_option("--diag-samples", args->diag_calib.samples,
                  "Calibration samples for diagnostics and measurements")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  sub->add_option("--diag-seqlen", args->diag_calib.seqlen, "Tokens per diagnostics sample")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(2), int64_t(1) << 20));
  sub->add_option("--data", args->data, "Text file for perplexity (repeatable)");
  sub->add_option("--task", args->tasks, "Zero-shot task file, as lieq eval reads (repeatable)");
  sub->add_option("--task-limit", args->task_limit,
                  "Evaluate the first N items of each task (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--ppl-windows", args->ppl_windows,
                  "Perplexity: at most this many windows per file (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--kld-windows", args->kld_windows,
                  "KL divergence: at most this many windows (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--kld-data", args->kld_data,
                  "Text file for KL divergence (default: the first --data)");
  sub->add_option("--ctx", args->ctx, "Evaluation window in tokens (0 = 2048, capped by the model)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(0), int64_t(1) << 20));
  sub->add_flag("--no-keep-models", args->no_keep_models,
                "Delete each quantized model under DIR/models once it is evaluated");
  sub->add_flag("--json", args->json, "Print results.json instead of the table");
  sub->callback([args, &action] {
    args->diag_calib.file = args->calib.file;
    args->diag_calib.seed = args->calib.seed;
    action = [args] { return run_compare(*args); };
  });
}

}  // namespace lieq::cli
