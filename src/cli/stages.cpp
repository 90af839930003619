#include "cli/stages.h"

#include "quant/ggml_policy.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>

#include "io/tokenizer.h"
#include "lieq/metrics.h"
#include "model/reader.h"
#include "pipeline/measure.h"
#include "report/svg_chart.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq::cli {
namespace fs = std::filesystem;

void add_calib_flags(CLI::App* sub, CalibArgs& c, bool required) {
  auto* f = sub->add_option("--calib", c.file, "Calibration text file");
  if (required) f->required();
  sub->add_option("--samples", c.samples, "Calibration samples")->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  sub->add_option("--seqlen", c.seqlen, "Tokens per calibration sample (capped by the model)")
      ->capture_default_str()->check(CLI::Range(int64_t(2), int64_t(1) << 20));
  sub->add_option("--calib-seed", c.seed, "Seed for choosing calibration windows")->capture_default_str();
}

CalibSet load_calibration(const std::string& model_dir, const CalibArgs& c, int64_t max_positions) {
  const Tokenizer tok = Tokenizer::load(model_dir);
  CalibSet set = make_calibration(tok, read_text_file(c.file), {c.samples, c.seqlen, c.seed},
                                  max_positions, c.file);
  if (!set.warning.empty()) std::fprintf(stderr, "lieq: warning: %s\n", set.warning.c_str());
  std::fprintf(stderr, "calibration: %lld samples x %lld tokens from %s\n",
               (long long)set.n_samples, (long long)set.seqlen, c.file.c_str());
  return set;
}

static fs::path with_extension(const std::string& path, const std::string& ext) {
  fs::path p(path);
  p.replace_extension(ext);
  return p;
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

Diagnostics run_diagnose_stage(const DiagnoseArgs& a) {
  ModelReader reader(a.model);
  if (reader.quantized())
    fail(a.model, ": is a lieq quantized model; diagnose the original model");
  const CalibSet calib = load_calibration(a.model, a.calib, reader.config().max_position_embeddings);
  DiagnoseOptions opt;
  opt.energy_k = a.energy_k;
  check(a.weights.size() == 3, "--weights: three values (dPPL, RC, TEG)");
  opt.w_dppl = a.weights[0];
  opt.w_rc = a.weights[1];
  opt.w_teg = a.weights[2];
  opt.normalisation = a.normalisation;
  opt.teg_magnitude = !a.signed_teg;
  opt.random_reference = !a.no_random;
  opt.random_seed = a.random_seed;
  Diagnostics d = diagnose(reader, calib, opt);
  d.calib_source = a.calib.file;
  if (!a.out.empty()) {
    write_file_atomic(a.out, diagnostics_to_json(d).dump(1) + "\n");
    const fs::path svg = with_extension(a.out, ".svg");
    write_file_atomic(svg, diagnostics_chart_svg(d));
    std::fprintf(stderr, "wrote %s and %s\n", a.out.c_str(), svg.string().c_str());
  }
  return d;
}

void print_diagnostics_table(const Diagnostics& d, std::ostream& os) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s: base ppl %.4f on %lld x %lld calibration tokens, energy k %lld\n",
                d.model_path.c_str(), d.base_ppl, (long long)d.calib_samples,
                (long long)d.calib_seqlen, (long long)d.energy_k);
  os << buf;
  std::snprintf(buf, sizeof buf, "%5s %10s %10s %10s %10s %9s %9s %7s %5s\n", "layer", "dPPL",
                "RC", "RC_train", "TEG", "LIM", "ZD", "score", "rank");
  os << buf;
  for (const auto& l : d.layers) {
    std::snprintf(buf, sizeof buf, "%5d %10.4f %10.5f %10.5f %10.5f %9.5f %9.5f %7.3f %5d\n",
                  l.layer, l.dppl, l.rc, l.rc_trained, l.teg, l.lim, l.zd, l.score, l.rank);
    os << buf;
  }
}

void add_plan_flags(CLI::App* sub, PlanArgs& p) {
  sub->add_option("--target-bpw", p.target_bpw,
                  "Average bits per weight of the linear layers (scales and zeros included)")
      ->required()->check(CLI::Range(1.0, 16.0));
  sub->add_option("--levels", p.levels, "Bit widths a layer may get")->delimiter(',')
      ->capture_default_str();
  sub->add_option("--allocator", p.allocator, "lieq | uniform | positional | lim | zd | measured")
      ->capture_default_str();
  sub->add_option("--group-size", p.group_size, "Weights per group (0 = per channel)")
      ->capture_default_str();
  sub->add_flag("--sym", p.symmetric, "Symmetric grid (no zero points)");
  sub->add_option("--score-normalisation", p.normalisation,
                  "Rescore the diagnostics first: minmax (METHOD.md) or rank");
  sub->add_option("--score-teg", p.teg, "Rescore with |TEG| (abs) or signed TEG (METHOD.md)");
  sub->add_option("--score-weights", p.score_weights, "Rescore with these weights of dPPL, RC, TEG")
      ->expected(3);
  sub->add_flag("--gguf", p.gguf,
                "Plan for a GGUF file: levels become ggml types (2=Q2_K 3=Q3_K 4=Q4_K 5=Q5_K 6=Q6_K "
                "8=Q8_0) and cost their real bytes");
  sub->add_option("--gguf-types", p.gguf_types, "With --gguf: bits -> ggml type, e.g. 2=Q2_K,3=IQ4_XS");
  sub->add_option("--measurements", p.measurements,
                  "Layer measurements for the measured allocator (read if present, else written)");
}

std::string measurements_path_for(const std::string& diag_path) {
  fs::path p(diag_path);
  p.replace_extension(".measurements.json");
  return p.string();
}

Plan run_plan_stage(const Diagnostics& diag, const PlanArgs& a, const std::string& diag_path) {
  Diagnostics d = diag;
  if (!a.normalisation.empty() || !a.score_weights.empty() || !a.teg.empty()) {
    if (!a.normalisation.empty()) d.normalisation = a.normalisation;
    check(a.teg.empty() || a.teg == "abs" || a.teg == "signed", "--score-teg: abs or signed");
    if (!a.teg.empty()) d.teg_magnitude = a.teg == "abs";
    if (!a.score_weights.empty()) {
      check(a.score_weights.size() == 3, "--score-weights: three values (dPPL, RC, TEG)");
      d.w_dppl = a.score_weights[0], d.w_rc = a.score_weights[1], d.w_teg = a.score_weights[2];
    }
    score_layers(d);
  }
  AllocatorKind kind;
  if (!parse_allocator(a.allocator, &kind))
    fail("--allocator: unknown allocator \"", a.allocator, "\" (", allocator_names(), ")");
  check(!a.levels.empty(), "--levels: at least one bit width");
  for (int b : a.levels) validate_spec({b, a.group_size, a.symmetric}, cat("--levels ", b));
  std::vector<int> levels = a.levels;
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  std::vector<GgmlType> level_types;
  if (a.gguf || !a.gguf_types.empty()) {
    const GgmlTypeMap map = parse_ggml_type_map(a.gguf_types);
    for (int b : levels) {
      const auto it = map.find(b);
      if (it == map.end()) fail("--gguf-types: no ggml type for ", b, "-bit layers");
      level_types.push_back(it->second);
    }
  }
  Measurements m;
  if (kind == AllocatorKind::kMeasured) {
    const std::string mpath = a.measurements.empty() ? measurements_path_for(diag_path) : a.measurements;
    bool have = false;
    if (fs::exists(mpath)) {
      m = read_measurements(mpath);
      try {
        m.errors_for(levels, a.group_size, a.symmetric, mpath);
        have = true;
        std::fprintf(stderr, "measured allocator: reusing %s\n", mpath.c_str());
      } catch (const Error& e) {
        std::fprintf(stderr, "measured allocator: %s; measuring again\n", e.what());
      }
    }
    if (!have) {
      const std::string model = a.model.empty() ? d.model_path : a.model;
      CalibArgs calib = a.calib;
      if (calib.file.empty()) calib.file = d.calib_source;
      if (calib.file.empty()) fail("the measured allocator needs --calib");
      ModelReader reader(model);
      const CalibSet set = load_calibration(model, calib, reader.config().max_position_embeddings);
      QuantizeOptions qo;
      qo.method = QuantMethod::kGptq;
      std::vector<int> all = levels;
      for (int b : m.levels)  // keep what was measured before, so the file grows
        if (std::find(all.begin(), all.end(), b) == all.end() && m.group_size == a.group_size &&
            m.symmetric == a.symmetric)
          all.push_back(b);
      std::sort(all.begin(), all.end());
      m = measure_layers(reader, set, all, a.group_size, a.symmetric, qo);
      write_file_atomic(mpath, measurements_to_json(m).dump(1) + "\n");
      std::fprintf(stderr, "wrote %s (%.1fs)\n", mpath.c_str(), m.seconds);
    }
  }
  return make_plan(d, kind, a.target_bpw, levels, a.group_size, a.symmetric,
                   kind == AllocatorKind::kMeasured ? &m : nullptr, level_types);
}

void print_plan(const Plan& p, std::ostream& os) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "allocator %s, target %.4f bpw, levels", p.allocator.c_str(), p.target_bpw);
  os << buf;
  for (size_t k = 0; k < p.levels.size(); ++k)
    os << " " << p.levels[k]
       << (p.level_types.empty() ? "" : cat("=", ggml_type_name(p.level_types[k])));
  if (p.level_types.empty())
    std::snprintf(buf, sizeof buf, ", group %d %s\n", p.group_size, p.symmetric ? "sym" : "asym");
  else
    std::snprintf(buf, sizeof buf, " (GGUF)\n");
  os << buf << "bits per layer:";
  for (int b : p.bits) os << " " << b;
  if (p.level_types.empty())
    std::snprintf(buf, sizeof buf,
                  "\nlinear %.4f bpw (%lld params), whole file %.4f bpw, expected size %.2f MB\n",
                  p.linear_bpw(), (long long)p.linear_params, p.file_bpw(),
                  double(p.expected_file_bytes()) / 1e6);
  else  // the embedding and output types are chosen when quantizing
    std::snprintf(buf, sizeof buf, "\nlinear %.4f bpw (%lld params), %.2f MB of linear weights\n",
                  p.linear_bpw(), (long long)p.linear_params, double(p.linear_bits) / 8e6);
  os << buf;
}

}  // namespace lieq::cli
