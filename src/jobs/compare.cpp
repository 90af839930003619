#include "jobs/compare.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "io/quant_manifest.h"
#include "jobs/compare_rows.h"
#include "pipeline/layer_pass.h"
#include "report/html_report.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_file.h"
#include "util/progress.h"

namespace lieq::jobs {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// The smallest linear bpw a plan can reach: every layer at the lowest level.
double min_linear_bpw(const Diagnostics& shapes, const StorageFormat& lowest) {
  AllocProblem p;
  p.layers = shapes.layer_shapes;
  p.levels = {lowest};
  return make_allocation(p, std::vector<int>(p.layers.size(), 0)).bpw;
}

using PlanKey = std::pair<AllocatorKind, double>;

// One plan per allocator and target, each saved under DIR/plans; their
// summaries go to results.json.
std::map<PlanKey, Plan> make_plans(const CompareRequest& r, const CompareInputs& in,
                                   const Diagnostics& d, const fs::path& diag_path,
                                   const ArtifactCache& cache, json& plans_json) {
  std::map<PlanKey, Plan> plans;
  const fs::path dir = diag_path.parent_path();
  for (double t : in.targets)
    for (AllocatorKind al : in.allocators) {
      PlanRequest pr;
      pr.allocator = al;
      pr.target_bpw = t;
      pr.levels = in.levels;
      pr.formats = in.formats;
      pr.measure.model = r.model;
      pr.measure.calib = r.diag_calib;
      Plan p = run_plan(d, pr, diag_path, cache);
      const std::string name = allocator_name(al);
      write_file_atomic(dir / "plans" / (name + "-" + bpw_text(t) + ".json"),
                        plan_to_json(p).dump(1) + "\n");
      plans_json.push_back({{"allocator", name},
                            {"target_bpw", t},
                            {"linear_bpw", p.linear_bpw()},
                            {"expected_file_bytes", p.expected_file_bytes()},
                            {"bits", p.bits}});
      std::string bits;
      for (int b : p.bits) bits += cat(" ", b);
      cache.note()(cat("plan ", name, " ", bpw_text(t), " bpw: linear ",
                       fixed_text(p.linear_bpw(), 4), " bpw, bits", bits));
      plans[{al, t}] = std::move(p);
    }
  return plans;
}

// The quantization calibration set, tokenized once when first needed.
struct LazyCalib {
  const CalibSet& get(const CompareRequest& r, const ModelReader& reader) {
    if (!loaded) {
      set = load_calibration(r.model, r.calib, reader.config().max_position_embeddings);
      loaded = true;
    }
    return set;
  }
  CalibSet set;
  bool loaded = false;
};

// Quantizes the model by plan p into mdir, or reuses mdir when its
// compare.json records the same settings `qs`; fills the row's real bpw,
// file size and quantization time.
void quantize_or_reuse(const CompareRequest& r, ModelReader& reader, LazyCalib& calib,
                       QuantMethod method, const Plan& p, const json& qs, const fs::path& mdir,
                       const ArtifactCache& cache, ResultRow& row) {
  const fs::path marker = mdir / "compare.json", rep_path = mdir / "quantize_report.json";
  if (fs::exists(rep_path) && cache.load(marker, qs, "quantized model")) {
    const json rep = read_json_file(rep_path);
    row.linear_bpw = json_get<double>(rep, "linear_bpw", rep_path);
    row.file_bpw = json_get<double>(rep, "file_bpw", rep_path);
    row.file_bytes = json_get<int64_t>(rep, "file_bytes", rep_path);
    row.seconds["quantize"] = json_get<double>(rep, "seconds", rep_path);
    return;
  }
  if (fs::exists(mdir)) fs::remove_all(mdir);
  QuantizeOptions qo;
  qo.method = method;
  qo.layer_specs = p.layer_specs();
  qo.gptq.damp = r.damp;
  qo.progress = progress_enabled();
  qo.extra_files["plan.json"] = plan_to_json(p).dump(1) + "\n";
  qo.extra_files["compare.json"] = json{{kSettingsKey, qs}}.dump(1) + "\n";
  const QuantizeReport rep = quantize_model(reader, &calib.get(r, reader), qo, mdir);
  row.linear_bpw = rep.linear_bpw();
  row.file_bpw = rep.file_bpw();
  row.file_bytes = rep.file_bytes;
  row.seconds["quantize"] = rep.seconds;
}

struct Combo {
  QuantMethod method;
  AllocatorKind allocator;
  double target;
  const Plan* plan;
};

// One combination's row: reused, shared with an earlier row of the same plan,
// or quantized and evaluated. Returns whether it was reused.
bool combo_row(const CompareRequest& r, const CompareInputs& in, const Combo& c,
               const std::string& progress, ModelReader& reader, LazyCalib& calib, Original& fp,
               const ArtifactCache& cache, const std::vector<ResultRow>& done, ResultRow& row) {
  auto label = [&](ResultRow& x) {
    x.method = method_name(c.method);
    x.allocator = allocator_name(c.allocator);
    x.target_bpw = c.target;
  };
  label(row);
  const std::string name = row.name();
  const json qs = quant_settings(r, c.method, *c.plan);
  const json settings = {{"quant", qs}, {"eval", eval_settings(r, in, true)}};
  const fs::path row_path = r.out / "rows" / (name + ".json");
  const std::string what =
      cat(progress, " ", row.method, " ", row.allocator, " ", bpw_text(c.target), " bpw");
  if (reusable_row(row_path, settings, cache, &row)) {
    cache.note()(cat(what, ": already measured, reusing ", row_path.string()));
    return true;
  }
  // Another target can give the same plan (e.g. uniform at 2.5 and 3 with
  // levels 2, 4): the same quantized model, measured once.
  const auto same = std::find_if(done.begin(), done.end(),
                                 [&](const ResultRow& x) { return x.settings == settings; });
  if (same != done.end()) {
    cache.note()(cat(what, ": the same plan as ", same->name(), ", reusing its results"));
    for (size_t i = 0; i < in.texts.size(); ++i)
      if (fs::exists(row_nll_path(r.out, same->name(), i)))
        fs::copy_file(row_nll_path(r.out, same->name(), i), row_nll_path(r.out, name, i),
                      fs::copy_options::overwrite_existing);
    row = *same;
    label(row);
    save_row(row_path, row, cache);
    return true;
  }
  row = ResultRow();
  label(row);
  row.layer_bits = c.plan->bits;
  for (const StorageFormat& f : c.plan->layer_formats) row.layer_formats.push_back(f.name());
  cache.note()(cat(what, " (plan: linear ", fixed_text(c.plan->linear_bpw(), 4), " bpw)"));
  const auto t0 = Clock::now();
  const fs::path mdir = r.out / "models" / name;
  quantize_or_reuse(r, reader, calib, c.method, *c.plan, qs, mdir, cache, row);
  if (std::abs(row.linear_bpw - c.plan->linear_bpw()) > 1e-9)
    cache.note()(cat("lieq: warning: ", name, ": linear ", fixed_text(row.linear_bpw, 6),
                     " bpw, the plan said ", fixed_text(c.plan->linear_bpw(), 6)));
  fp.load();
  {
    const Model q = load_model(mdir);
    std::vector<std::vector<float>> nll;
    evaluate_row(q, *fp.tok, fp.model.get(), r, in, row, &fp.token_nll, &nll, &fp.acc_items);
    for (size_t i = 0; i < nll.size(); ++i) write_nll_file(row_nll_path(r.out, name, i), nll[i]);
  }
  row.seconds["total"] = seconds_since(t0);
  row.settings = settings;
  save_row(row_path, row, cache);
  if (!r.keep_models) fs::remove_all(mdir);
  cache.note()(
      cat("  ", name, ":", row_summary(row, in), " (", fixed_text(row.seconds["total"], 1), "s)"));
  return false;
}

// A shard's results: results.json's schema for its rows, plus what merging checks.
void write_shard_results(const CompareRequest& r, const CompareInputs& in, const Diagnostics& d,
                         const json& plans_json, CompareOutcome& o) {
  o.json = results_to_json(o.results);
  o.json["plans"] = plans_json;
  o.json["diagnostics"] = diagnostics_to_json(d);
  o.json["seconds"] = o.seconds;
  json order = json::array();
  for (const auto& [k, v] : o.results.settings) order.push_back({k, v});
  const json settings = shard_settings(r, in);
  o.json["shard"] = {{"index", r.shard.index},
                     {"count", r.shard.count},
                     {"n_combos", combo_names(settings).size()},
                     {"settings", settings},
                     {"report_settings", order}};
  o.markdown = results_markdown(o.results);
  write_file_atomic(shard_results_path(r.out, r.shard), o.json.dump(1) + "\n");
}
}  // namespace

void write_compare_outputs(const fs::path& out, const Diagnostics& d, const json& plans_json,
                           CompareOutcome& o) {
  o.json = results_to_json(o.results);
  o.json["plans"] = plans_json;
  o.json["diagnostics"] = diagnostics_to_json(d);
  o.json["seconds"] = o.seconds;
  o.markdown = results_markdown(o.results);
  const std::string md =
      "# lieq compare: " + markdown_escape(o.results.model) + "\n\n" + o.markdown;
  const std::string html = comparison_html(o.results, diagnostics_chart_svg(d));
  write_file_atomic(out / "results.json", o.json.dump(1) + "\n");
  write_file_atomic(out / "results.md", md);
  write_file_atomic(out / "report.html", html);
}

CompareOutcome run_compare(const CompareRequest& r, const ArtifactCache& cache) {
  const auto t_start = Clock::now();
  const CompareInputs in = check_compare_inputs(r);
  ModelReader reader(r.model);
  if (reader.quantized())
    fail(r.model, ": is a lieq quantized model (", kQuantManifestFile,
         "); compare the original model");
  Diagnostics shapes;
  describe_model(reader, shapes);
  const StorageFormat& lowest = in.formats[0];
  const double min_bpw = min_linear_bpw(shapes, lowest);
  for (double t : in.targets)
    if (t < min_bpw - 1e-9)
      fail("--target-bpw ", bpw_text(t), ": below the smallest reachable ", fixed_text(min_bpw, 4),
           " bpw (every layer at ", lowest.name(), ")");

  for (const char* sub : {"rows", "models", "plans"}) fs::create_directories(r.out / sub);
  if (r.shard.sharded()) fs::create_directories(r.out / "shards");
  CompareOutcome o;
  const size_t n_all = in.targets.size() * in.methods.size() * in.allocators.size();
  for (size_t i = 0; i < n_all; ++i) o.n_combos += r.shard.has(i) ? 1 : 0;
  cache.note()(cat("compare: ", in.methods.size(), " methods x ", in.allocators.size(),
                   " allocators x ", in.targets.size(), " targets = ", n_all, " quantized models",
                   r.shard.sharded() ? cat(", shard ", r.shard.index, "/", r.shard.count, ": ",
                                           o.n_combos, " of them")
                                     : "",
                   " -> ", r.out.string()));

  // Diagnostics and plans (cheap once the diagnostics exist; measurements are reused).
  const fs::path diag_path = r.out / "diagnostics.json";
  const Diagnostics d = diagnose_cached(compare_diagnose_request(r), diag_path, cache);
  json plans_json = json::array();
  const std::map<PlanKey, Plan> plans = make_plans(r, in, d, diag_path, cache, plans_json);

  // The original model: loaded once, evaluated once (its row saved), kept for KLD.
  Original fp(r.model);
  ComparisonResults& res = o.results;
  res.model = r.model;
  for (const std::string& f : r.data) res.data.push_back(fs::path(f).stem().string());
  for (const Task& t : in.tasks) res.tasks.push_back(t.name);
  res.kld_data = in.kld_file.empty() ? "" : fs::path(in.kld_file).stem().string();
  res.baseline =
      original_row(r, in, reader, shapes.other_params, r.out / "rows" / "original.json", fp, cache);
  res.has_baseline = true;
  fp.acc_items = res.baseline.acc_items;

  // The combinations, grouped by target.
  LazyCalib calib;
  size_t i = 0, i_combo = 0;
  for (double t : in.targets)
    for (QuantMethod m : in.methods)
      for (AllocatorKind al : in.allocators) {
        if (!r.shard.has(i_combo++)) continue;
        const Combo c{m, al, t, &plans.at({al, t})};
        ResultRow row;
        if (combo_row(r, in, c, cat("[", ++i, "/", o.n_combos, "]"), reader, calib, fp, cache,
                      res.rows, row))
          ++o.n_reused;
        res.rows.push_back(row);
      }
  res.bpw_tolerance = r.bpw_tolerance;
  sort_rows(res.rows);
  compute_recovery(res);
  mark_matched_bits(res);
  mark_pareto(res);
  make_verdict(res, paired_se_from(res, {r.out}));
  for (const ResultRow& row : res.rows)
    if (!row.matched_bits)
      cache.note()(cat("compare: ", row.name(), " reaches ", fixed_text(row.linear_bpw, 4),
                       " bpw, more than ", bpw_text(r.bpw_tolerance),
                       " from its target; n/a there"));
  res.settings = report_settings(r, in, reader);
  o.seconds = seconds_since(t_start);
  if (r.shard.sharded()) {
    write_shard_results(r, in, d, plans_json, o);
    cache.note()(cat("compare: shard ", r.shard.index, "/", r.shard.count, ": ", o.n_combos,
                     " combinations (", o.n_reused, " reused), ", fixed_text(o.seconds, 1),
                     "s; wrote ", shard_results_path(r.out, r.shard).string(),
                     " (lieq compare --merge joins the shards)"));
    return o;
  }
  write_compare_outputs(r.out, d, plans_json, o);
  cache.note()(cat("compare: ", o.n_combos, " combinations (", o.n_reused, " reused), ",
                   fixed_text(o.seconds, 1), "s; wrote ", (r.out / "results.json").string(), ", ",
                   (r.out / "results.md").string(), " and ", (r.out / "report.html").string()));
  return o;
}

}  // namespace lieq::jobs
