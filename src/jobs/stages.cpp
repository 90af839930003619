#include "jobs/stages.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <optional>

#include "format/ggml_policy.h"
#include "jobs/head_choice.h"
#include "lieq/metrics.h"
#include "model/reader.h"
#include "pipeline/gguf_export.h"
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

json measure_settings(const std::string& model, const CalibRequest& calib, Granularity g) {
  json j = {{"model", settings_path(model)}, {"calib", calib_settings(calib)}, {"method", "gptq"}};
  if (g != Granularity::kLayer) j["granularity"] = granularity_name(g);
  return j;
}

Measurements measurements_cached(const std::string& model, const CalibRequest& calib,
                                 const std::vector<StorageFormat>& formats, Granularity g,
                                 const fs::path& path, const ArtifactCache& cache) {
  const json settings = measure_settings(model, calib, g);
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
  Measurements m = measure_layers(reader, set, all, qo, g);
  cache.save(path, measurements_to_json(m), settings);
  cache.note()(cat("wrote ", path.string(), " (", m.seconds, "s)"));
  return m;
}

fs::path measurements_path_for(const fs::path& diag_path, Granularity g) {
  fs::path p(diag_path);
  p.replace_extension(g == Granularity::kGroup ? ".group-measurements.json" : ".measurements.json");
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

static bool level_width(const std::string& e, int* bits) {
  if (e.empty() || e.size() > 3) return false;
  for (char c : e)
    if (c < '0' || c > '9') return false;
  *bits = std::stoi(e);
  return true;
}

std::vector<int> level_widths(const std::vector<std::string>& entries, const char* flag) {
  std::vector<int> w;
  for (const std::string& e : entries) {
    int b = 0;
    if (!level_width(e, &b))
      fail(flag, ": \"", e, "\" is not a bit width (type names need a GGUF plan: lieq plan --gguf)");
    w.push_back(b);
  }
  return w;
}

ResolvedLevels resolve_levels(const std::vector<std::string>& entries, bool gguf,
                              const std::string& gguf_types, int group_size, bool symmetric) {
  check(!entries.empty(), "--levels: at least one level");
  ResolvedLevels r;
  for (const std::string& e : entries) {
    int b = 0;
    if (!level_width(e, &b)) r.named = true;
  }
  if (!r.named) {
    r.gguf = gguf;
    r.labels = sorted_levels(level_widths(entries, "--levels"));
    r.formats = level_formats(r.labels, gguf, gguf_types, group_size, symmetric);
    return r;
  }
  const GgmlTypeMap map = parse_ggml_type_map(gguf_types);
  std::vector<StorageFormat> f;
  for (const std::string& e : entries) {
    int b = 0;
    GgmlType t;
    if (level_width(e, &b))
      f.push_back(ggml_format_for_bits(map, b));
    else if (parse_ggml_type(e, &t))
      f.push_back(StorageFormat::ggml(t));
    else
      fail("--levels: \"", e, "\" is neither a bit width nor a ggml type name (e.g. IQ2_XXS, Q4_K)");
  }
  std::stable_sort(f.begin(), f.end(), [](const StorageFormat& a, const StorageFormat& b) {
    return ggml_bits_per_weight(a.ggml_type()) < ggml_bits_per_weight(b.ggml_type());
  });
  for (const StorageFormat& x : f)
    if (r.formats.empty() || !(r.formats.back() == x)) r.formats.push_back(x);
  for (size_t k = 0; k < r.formats.size(); ++k) r.labels.push_back(int(k) + 1);
  r.gguf = true;
  return r;
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

uint64_t parse_size(const std::string& s, const char* flag) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = s.substr(used);
  unit.erase(0, unit.find_first_not_of(' '));
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},           {"B", 1},          {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
      {"KIB", 1024.0},   {"MIB", 1048576.0}, {"GIB", 1073741824.0}};
  for (const auto& [name, mult] : kUnits)
    if (used > 0 && unit == name && v > 0 && v * mult < 1e15) return uint64_t(v * mult);
  fail(flag, ": \"", s, "\" is not a size (bytes, or a number with B, KB, MB, GB, KiB, MiB, GiB)");
}

GlobalTypes choose_global_types(double b, std::optional<GgmlType> embed,
                                std::optional<GgmlType> output) {
  GlobalTypes t;
  t.output = output ? *output : b < 3.1 ? GgmlType::Q5_K : GgmlType::Q6_K;
  t.embed = embed ? *embed : b < 2.4 ? GgmlType::Q2_K : b < 3.1 ? GgmlType::IQ3_S : GgmlType::Q4_K;
  return t;
}

static GgufExportOptions size_options(const PlanRequest& r, const Plan* p, const ModelConfig& c) {
  GgufExportOptions o;
  o.embed_type = r.embed_type.value_or(GgmlType::Q4_K);
  o.output_type = r.output_type.value_or(GgmlType::Q6_K);
  if (p) o.tensor_types = plan_tensor_types(*p, c);
  return o;
}

std::map<std::string, GgmlType> plan_tensor_types(const Plan& p, const ModelConfig& c) {
  std::map<std::string, GgmlType> t;
  if (!p.per_group()) return t;
  for (size_t l = 0; l < p.group_formats.size(); ++l)
    for (Role role : kLinearRoles)
      if (role_present(role, c)) t[gguf_layer_tensor_name(role, int(l))] = p.format_of(l, role).ggml_type();
  return t;
}

// The linear-layer bits-per-weight target that makes r.target_size hold for
// the diagnosed model: what remains of the size after the file at the lowest
// level less its linear bytes, with the worst-case alignment padding. Error
// when the file at the lowest level is over the size (unless `any`).
static double target_bpw_for_size(const Diagnostics& d, const PlanRequest& r,
                                  const ModelReader& reader, const Tokenizer& tok,
                                  bool any = false) {
  const std::vector<StorageFormat> lowest(size_t(reader.config().n_layers), r.formats[0]);
  const uint64_t at_lowest = gguf_file_bytes(reader, tok, size_options(r, nullptr, reader.config()), lowest, r.method);
  int64_t linear_bits = 0, linear_params = 0, n_linear = 0;
  for (const LayerShapes& l : d.layer_shapes)
    for (const auto& [rows, cols] : l.linears) {
      linear_bits += r.formats[0].storage_bits(rows, cols);
      linear_params += rows * cols;
      ++n_linear;
    }
  // Every tensor's data is padded to 32 bytes; reserve the worst case.
  const uint64_t fixed = at_lowest - uint64_t(linear_bits / 8) + uint64_t(32 * n_linear);
  check(any || r.target_size > at_lowest, "--target-size: ", r.target_size,
        " bytes is below the smallest file of these levels: ", at_lowest, " bytes (every layer at ",
        r.formats[0].name(),
        reader.config().tie_word_embeddings
            ? std::string()
            : cat(", embedding ", ggml_type_name(r.embed_type.value_or(GgmlType::Q4_K))),
        reader.config().tie_word_embeddings ? ", tied embedding and head " : ", head ",
        ggml_type_name(r.output_type.value_or(GgmlType::Q6_K)), ")");
  return double((int64_t(r.target_size) - int64_t(fixed)) * 8) / double(linear_params);
}

static void check_plan_size(const Plan& p, const PlanRequest& r, const ModelReader& reader,
                            const Tokenizer& tok) {
  const uint64_t bytes = gguf_file_bytes(reader, tok, size_options(r, &p, reader.config()),
                                         p.layer_formats, r.method);
  check(bytes <= r.target_size, "--target-size: the plan's file would be ", bytes,
        " bytes, over the limit of ", r.target_size, " (internal error: the budget missed)");
}

Plan run_plan(const Diagnostics& diag, const PlanRequest& req, const fs::path& diag_path,
              const ArtifactCache& cache) {
  PlanRequest r = req;
  const Diagnostics d = rescored(diag, r.rescore);
  Measurements m;
  CalibRequest calib = r.measure.calib;
  if (calib.file.empty()) calib.file = d.calib_source;
  const std::string measure_model = r.measure.model.empty() ? d.model_path : r.measure.model;
  if (r.allocator == AllocatorKind::kMeasured)
    m = measurements_cached(
        measure_model, calib, r.formats, r.granularity,
        r.measure.path.empty() ? measurements_path_for(diag_path, r.granularity) : r.measure.path,
        cache);
  if (r.target_size == 0)
    return make_plan(d, r.allocator, r.target_bpw, r.levels, r.formats,
                     r.allocator == AllocatorKind::kMeasured ? &m : nullptr, r.granularity);
  // A size target: the model's shapes and tokenizer, read once for both the
  // budget and the check of the plan's file.
  check(!r.formats.empty() && r.formats[0].is_ggml(),
        "--target-size: a GGUF plan (ggml levels) is needed; the size counts a GGUF file");
  const ModelReader reader(d.model_path);
  const Tokenizer tok = Tokenizer::load(d.model_path);
  // The plan for ri's size with its embedding and head types (those not
  // given by choose_global_types' rule), checked against the exact file size.
  auto plan_for = [&](PlanRequest ri) {
    if (!ri.embed_type || !ri.output_type) {
      const GlobalTypes g = choose_global_types(target_bpw_for_size(d, ri, reader, tok, true),
                                                ri.embed_type, ri.output_type);
      ri.embed_type = g.embed, ri.output_type = g.output;
    }
    ri.target_bpw = target_bpw_for_size(d, ri, reader, tok);
    Plan p = make_plan(d, ri.allocator, ri.target_bpw, ri.levels, ri.formats,
                       ri.allocator == AllocatorKind::kMeasured ? &m : nullptr, ri.granularity);
    check_plan_size(p, ri, reader, tok);
    p.target_size = ri.target_size;
    p.embed_type = ggml_type_name(*ri.embed_type);
    p.output_type = ggml_type_name(*ri.output_type);
    return p;
  };
  if (r.measured_head) {
    check(!r.output_type, "--output-type measured: the head's type is given already");
    ModelReader mr(measure_model);
    const CalibSet set = load_calibration(measure_model, calib, mr.config().max_position_embeddings);
    const fs::path scratch = diag_path.has_parent_path() ? diag_path.parent_path() : fs::path(".");
    const std::string text = read_text_file(calib.file);
    // The head first, then (untied, no embed_type given) the embedding with
    // that head: of llama.cpp's choices for its mixes (Q2_K, IQ3_S, Q4_K) and Q5_K.
    auto choose = [&](const char* what, std::optional<GgmlType> PlanRequest::*field,
                      std::vector<GgmlType> candidates) {
      const TypeChoice c = choose_type_end_to_end(what, measure_model, set, text, scratch,
                                                  candidates, [&](GgmlType t) {
                                                    PlanRequest ri = r;
                                                    ri.*field = t;
                                                    return plan_for(ri);
                                                  });
      cache.note()(c.note);
      r.*field = c.type;
    };
    choose("head", &PlanRequest::output_type,
           {GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K});
    if (!reader.config().tie_word_embeddings && !r.embed_type)
      choose("embedding", &PlanRequest::embed_type,
             {GgmlType::Q2_K, GgmlType::IQ3_S, GgmlType::Q4_K, GgmlType::Q5_K});
  }
  return plan_for(r);
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
