#include "jobs/stages.h"

#include <algorithm>
#include <cstdio>

#include "format/ggml_policy.h"
#include "lieq/metrics.h"
#include "model/reader.h"
#include "pipeline/measure.h"
#include "report/svg_chart.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq::jobs {
namespace fs = std::filesystem;
using json = nlohmann::json;

json calib_settings(const CalibRequest& c) {
  return {{"file", c.file.empty() ? "" : settings_path(c.file)},
          {"samples", c.samples},
          {"seqlen", c.seqlen},
          {"seed", c.seed}};
}

CalibSet load_calibration(const std::string& model, const CalibRequest& c, int64_t max_positions) {
  const Tokenizer tok = Tokenizer::load(model);
  CalibSet set = make_calibration(tok, read_text_file(c.file), {c.samples, c.seqlen, c.seed},
                                  max_positions, c.file);
  if (!set.warning.empty()) std::fprintf(stderr, "lieq: warning: %s\n", set.warning.c_str());
  std::fprintf(stderr, "calibration: %lld samples x %lld tokens from %s\n",
               (long long)set.n_samples, (long long)set.seqlen, c.file.c_str());
  return set;
}

// ---------------------------------------------------------------- diagnose

json diagnose_settings(const DiagnoseRequest& r) {
  const DiagnoseOptions& o = r.options;
  return {{"model", settings_path(r.model)},
          {"calib", calib_settings(r.calib)},
          {"energy_k", o.energy_k},
          {"weights", {o.w_dppl, o.w_rc, o.w_teg}},
          {"normalisation", o.normalisation},
          {"teg_magnitude", o.teg_magnitude},
          {"random_reference", o.random_reference},
          {"random_seed", o.random_seed}};
}

Diagnostics run_diagnose(const DiagnoseRequest& r) {
  ModelReader reader(r.model);
  if (reader.quantized()) fail(r.model, ": is a lieq quantized model; diagnose the original model");
  const CalibSet calib =
      load_calibration(r.model, r.calib, reader.config().max_position_embeddings);
  Diagnostics d = diagnose(reader, calib, r.options);
  d.calib_source = r.calib.file;
  return d;
}

Diagnostics diagnose_cached(const DiagnoseRequest& r, const fs::path& path,
                            const ArtifactCache& cache) {
  fs::path svg = path;
  svg.replace_extension(".svg");
  return cache.load_or_make<Diagnostics>(
      path, diagnose_settings(r), "diagnostics",
      [&](const json& j) { return diagnostics_from_json(j, path.string()); },
      [&] {
        Diagnostics d = run_diagnose(r);
        write_file_atomic(svg, diagnostics_chart_svg(d));
        return d;
      },
      [](const Diagnostics& d) { return diagnostics_to_json(d); });
}

std::string diagnostics_chart_svg(const Diagnostics& d) {
  BarChart chart;
  chart.title = "Layer diagnostics (min-max normalised) and LieQ score: " + d.model_path;
  chart.x_label = "decoder layer";
  chart.y_label = "normalised value";
  std::vector<double> dppl, rc, teg, score;
  for (const auto& l : d.layers) {
    chart.categories.push_back("L" + std::to_string(l.layer));
    dppl.push_back(l.dppl), rc.push_back(l.rc), teg.push_back(l.teg), score.push_back(l.score);
  }
  const double wsum = d.w_dppl + d.w_rc + d.w_teg;
  for (double& s : score) s /= wsum > 0 ? wsum : 1.0;
  chart.series = {{"Perplexity Drop", min_max_normalise(dppl)},
                  {"Repr. Compactness", min_max_normalise(rc)},
                  {"Top-k Energy Gain", min_max_normalise(teg)},
                  {"score / sum(w)", score}};
  return render_bar_chart(chart);
}

// ---------------------------------------------------------------- measure

json measure_settings(const std::string& model, const CalibRequest& calib) {
  return {{"model", settings_path(model)}, {"calib", calib_settings(calib)}, {"method", "gptq"}};
}

Measurements measurements_cached(const std::string& model, const CalibRequest& calib,
                                 const std::vector<StorageFormat>& formats, const fs::path& path,
                                 const ArtifactCache& cache) {
  const json settings = measure_settings(model, calib);
  Measurements before;  // what the file holds under the same settings
  if (std::optional<json> j = cache.load(path, settings, "measurements")) {
    try {
      before = measurements_from_json(*j, path.string());
      before.errors_for(formats, path.string());
      return before;
    } catch (const Error& e) {
      cache.note()(cat("measurements: ", e.what(), "; measuring again"));
    }
  }
  check(!calib.file.empty(), "the measured allocator needs --calib");
  ModelReader reader(model);
  const CalibSet set = load_calibration(model, calib, reader.config().max_position_embeddings);
  QuantizeOptions qo;
  qo.method = QuantMethod::kGptq;
  std::vector<StorageFormat> all = formats;
  for (const StorageFormat& f : before.levels)
    if (std::find(all.begin(), all.end(), f) == all.end()) all.push_back(f);
  Measurements m = measure_layers(reader, set, all, qo);
  cache.save(path, measurements_to_json(m), settings);
  cache.note()(cat("wrote ", path.string(), " (", m.seconds, "s)"));
  return m;
}

fs::path measurements_path_for(const fs::path& diag_path) {
  fs::path p(diag_path);
  p.replace_extension(".measurements.json");
  return p;
}

// ---------------------------------------------------------------- plan

std::vector<int> sorted_levels(std::vector<int> levels) {
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  return levels;
}

std::vector<StorageFormat> level_formats(const std::vector<int>& levels, bool gguf,
                                         const std::string& gguf_types, int group_size,
                                         bool symmetric) {
  check(!levels.empty(), "--levels: at least one bit width");
  if (!gguf) {
    for (int b : levels) validate_spec({b, group_size, symmetric}, cat("--levels ", b));
    return grid_formats(levels, group_size, symmetric);
  }
  const GgmlTypeMap map = parse_ggml_type_map(gguf_types);
  std::vector<StorageFormat> f;
  for (int b : levels) f.push_back(ggml_format_for_bits(map, b));
  return f;
}

StorageFormat ggml_format_for_bits(const GgmlTypeMap& map, int bits) {
  const auto it = map.find(bits);
  if (it == map.end()) fail("--gguf-types: no ggml type for ", bits, "-bit layers");
  return StorageFormat::ggml(it->second);
}

static Diagnostics rescored(const Diagnostics& diag, const Rescore& r) {
  Diagnostics d = diag;
  if (r.normalisation.empty() && r.weights.empty() && !r.teg_magnitude) return d;
  if (!r.normalisation.empty()) d.normalisation = r.normalisation;
  if (r.teg_magnitude) d.teg_magnitude = *r.teg_magnitude;
  if (!r.weights.empty()) {
    check(r.weights.size() == 3, "--score-weights: three values (dPPL, RC, TEG)");
    d.w_dppl = r.weights[0], d.w_rc = r.weights[1], d.w_teg = r.weights[2];
  }
  score_layers(d);
  return d;
}

Plan run_plan(const Diagnostics& diag, const PlanRequest& r, const fs::path& diag_path,
              const ArtifactCache& cache) {
  const Diagnostics d = rescored(diag, r.rescore);
  Measurements m;
  if (r.allocator == AllocatorKind::kMeasured) {
    CalibRequest calib = r.measure.calib;
    if (calib.file.empty()) calib.file = d.calib_source;
    m = measurements_cached(
        r.measure.model.empty() ? d.model_path : r.measure.model, calib, r.formats,
        r.measure.path.empty() ? measurements_path_for(diag_path) : r.measure.path, cache);
  }
  return make_plan(d, r.allocator, r.target_bpw, r.levels, r.formats,
                   r.allocator == AllocatorKind::kMeasured ? &m : nullptr);
}

PlannedModel diagnose_and_plan(const DiagnoseRequest& diagnose, const PlanRequest& plan,
                               const fs::path& dir, const ArtifactCache& cache) {
  fs::create_directories(dir);
  PlannedModel pm;
  const fs::path diag_path = dir / "diagnostics.json";
  pm.diagnostics = diagnose_cached(diagnose, diag_path, cache);
  pm.plan = run_plan(pm.diagnostics, plan, diag_path, cache);
  write_file_atomic(dir / "plan.json", plan_to_json(pm.plan).dump(1) + "\n");
  return pm;
}

fs::path stages_dir_for(const fs::path& out) {
  fs::path p = out;
  if (!p.has_filename()) p = p.parent_path();  // "out/" names the directory out
  return p.string() + ".stages";
}

}  // namespace lieq::jobs
