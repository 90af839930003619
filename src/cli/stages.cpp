#include "cli/stages.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "util/error.h"

namespace lieq::cli {

void add_calib_flags(CLI::App* sub, CalibArgs& c, bool required) {
  auto* f = sub->add_option("--calib", c.file, "Calibration text file");
  if (required) f->required();
  sub->add_option("--samples", c.samples, "Calibration samples")->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  sub->add_option("--seqlen", c.seqlen, "Tokens per calibration sample (capped by the model)")
      ->capture_default_str()->check(CLI::Range(int64_t(2), int64_t(1) << 20));
  sub->add_option("--calib-seed", c.seed, "Seed for choosing calibration windows")->capture_default_str();
}

void add_grid_flags(CLI::App* sub, int& group_size, bool& symmetric) {
  sub->add_option("--group-size", group_size, "Weights per group of the integer grid (0 = per output channel)")
      ->capture_default_str();
  sub->add_flag("--sym", symmetric, "Symmetric integer grid (no zero points)");
}

void add_levels_flag(CLI::App* sub, std::vector<std::string>& levels) {
  sub->add_option("--levels", levels,
                  "Formats a layer may get: bit widths (2,4), or for GGUF ggml type names "
                  "(IQ2_XXS,IQ2_S,Q3_K,Q4_K)")
      ->delimiter(',')
      ->capture_default_str();
}

void add_target_size_flag(CLI::App* sub, PlanArgs& p) {
  sub->add_option("--target-size", p.target_size,
                  "GGUF: the whole file at or below this size (bytes, or with KB/MB/GB/KiB/MiB/GiB), "
                  "embedding, head and tokenizer included");
}

void add_granularity_flag(CLI::App* sub, PlanArgs& p) {
  sub->add_option("--granularity", p.granularity,
                  "layer: one format per decoder layer (the paper's); group: q/k/v, o, gate/up and "
                  "down of each layer get their own")
      ->capture_default_str();
}

void add_damp_flag(CLI::App* sub, double& damp) {
  sub->add_option("--damp", damp, "GPTQ damping, fraction of the mean Hessian diagonal")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
}

void add_diag_calib_flags(CLI::App* sub, CalibArgs& c) {
  c.samples = 32;
  c.seqlen = 512;
  sub->add_option("--diag-samples", c.samples, "Calibration samples for diagnostics and measurements")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  sub->add_option("--diag-seqlen", c.seqlen, "Tokens per diagnostics sample (capped by the model)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(2), int64_t(1) << 20));
}

jobs::DiagnoseRequest diagnose_request(const DiagnoseArgs& a) {
  jobs::DiagnoseRequest r;
  r.model = a.model;
  r.calib = a.calib;
  DiagnoseOptions& opt = r.options;
  opt.energy_k = a.energy_k;
  check(a.weights.size() == 3, "--weights: three values (dPPL, RC, TEG)");
  opt.w_dppl = a.weights[0];
  opt.w_rc = a.weights[1];
  opt.w_teg = a.weights[2];
  opt.normalisation = a.normalisation;
  opt.teg_magnitude = !a.signed_teg;
  opt.random_reference = !a.no_random;
  opt.random_seed = a.random_seed;
  return r;
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
  auto* bpw = sub->add_option("--target-bpw", p.target_bpw,
                              "Average bits per weight of the linear layers (scales and zeros included)")
                  ->check(CLI::Range(1.0, 16.0));
  add_target_size_flag(sub, p);
  sub->get_option("--target-size")->excludes(bpw);
  add_levels_flag(sub, p.levels);
  sub->add_option("--allocator", p.allocator, "lieq | uniform | positional | lim | zd | measured")
      ->capture_default_str();
  add_granularity_flag(sub, p);
  add_grid_flags(sub, p.group_size, p.symmetric);
  sub->add_option("--score-normalisation", p.normalisation,
                  "Rescore the diagnostics first: minmax (METHOD.md) or rank");
  sub->add_option("--score-teg", p.teg, "Rescore with |TEG| (abs) or signed TEG (METHOD.md)");
  sub->add_option("--score-weights", p.score_weights, "Rescore with these weights of dPPL, RC, TEG")
      ->expected(3);
  sub->add_flag("--gguf", p.gguf,
                "Plan for a GGUF file: levels become ggml types (2=Q2_K 3=Q3_K 4=Q4_K 5=Q5_K 6=Q6_K "
                "8=Q8_0) and cost their real bytes");
  sub->add_option("--gguf-types", p.gguf_types, "With --gguf: bits -> ggml type, e.g. 2=Q2_K,3=IQ4_XS");
  sub->add_option("--embed-type", p.embed_type,
                  "With --target-size: token_embd's type (untied models; default: with --allocator "
                  "measured chosen end to end like the head, else by the bits the layers get, "
                  "Q2_K / IQ3_S / Q4_K)");
  sub->add_option("--output-type", p.output_type,
                  "With --target-size: the head's type (and a tied token_embd's). Default: with "
                  "--allocator measured, `measured` (of Q3_K..Q6_K, the one whose quantized file is "
                  "closest to the float model on the calibration text); else `rule`, llama.cpp's "
                  "(Q5_K below 3.1 bpw, else Q6_K); `measured` works with any allocator");
  sub->add_option("--measurements", p.measurements,
                  "Layer measurements for the measured allocator (read if present, else written)");
}

jobs::PlanRequest plan_request(const PlanArgs& a) {
  jobs::PlanRequest r;
  if (!parse_allocator(a.allocator, &r.allocator))
    fail("--allocator: unknown allocator \"", a.allocator, "\" (", allocator_names(), ")");
  if (!parse_granularity(a.granularity, &r.granularity))
    fail("--granularity: \"", a.granularity, "\" is neither layer nor group");
  r.target_bpw = a.target_bpw;
  check(a.target_bpw > 0 || !a.target_size.empty(), "plan: --target-bpw or --target-size is required");
  if (!a.target_size.empty()) {
    r.target_size = jobs::parse_size(a.target_size, "--target-size");
    // The measured allocator chooses the head end to end unless told the
    // type or `rule` (llama.cpp's: Q5_K below 3.1 bpw, else Q6_K).
    r.measured_head = a.output_type == "measured" ||
                      (a.output_type.empty() && r.allocator == AllocatorKind::kMeasured);
    for (const auto& [flag, name, out] :
         {std::tuple{"--embed-type", &a.embed_type, &r.embed_type},
          std::tuple{"--output-type", &a.output_type, &r.output_type}}) {
      if (name->empty() || *name == "measured" || (out == &r.output_type && *name == "rule"))
        continue;
      GgmlType t;
      check(parse_ggml_type(*name, &t), flag, ": unknown ggml type \"", *name, "\"");
      *out = t;
    }
    r.method = a.method;
  }
  const jobs::ResolvedLevels lv = jobs::resolve_levels(a.levels, a.gguf || !a.gguf_types.empty(),
                                                       a.gguf_types, a.group_size, a.symmetric);
  r.levels = lv.labels;
  r.formats = lv.formats;
  r.rescore.normalisation = a.normalisation;
  r.rescore.weights = a.score_weights;
  check(a.teg.empty() || a.teg == "abs" || a.teg == "signed", "--score-teg: abs or signed");
  if (!a.teg.empty()) r.rescore.teg_magnitude = a.teg == "abs";
  r.measure.model = a.model;
  r.measure.calib = a.calib;
  r.measure.path = a.measurements;
  return r;
}

std::string plan_shortfall_warning(const Plan& p) {
  if (p.target_size > 0 || p.formats.empty() || p.linear_bpw() >= p.target_bpw - kFarBelowBpw)
    return "";
  const StorageFormat& top = p.formats.back();
  auto is_top = [&](const StorageFormat& f) { return f == top; };
  bool all_top = std::all_of(p.layer_formats.begin(), p.layer_formats.end(), is_top);
  for (const auto& g : p.group_formats)
    all_top = all_top && std::all_of(g.begin(), g.end(), is_top);
  std::string why;
  if (p.allocator == "uniform")
    why = cat("every layer at ", top.name(),
              "; no single format of these levels comes closer without exceeding it");
  else if (all_top)
    why = cat("every layer at ", top.name(),
              ", the most these levels give; add a higher level to --levels to use the budget");
  else
    why = "the next promotion does not fit the budget; levels closer together or "
          "--granularity group use more of it";
  char bpw[128];
  std::snprintf(bpw, sizeof bpw, "%.4f bpw, %.4f below the target %.4f bpw", p.linear_bpw(),
                p.target_bpw - p.linear_bpw(), p.target_bpw);
  return cat("lieq: warning: the plan reaches ", bpw, " (", why, ")\n");
}

void print_plan(const Plan& p, std::ostream& os) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "allocator %s, target %.4f bpw, levels", p.allocator.c_str(), p.target_bpw);
  os << buf;
  for (size_t k = 0; k < p.levels.size(); ++k)
    os << (k ? ", " : " ") << p.levels[k] << "=" << p.formats[k].name();
  if (p.target_size > 0) {
    std::snprintf(buf, sizeof buf, " (from a file size limit of %llu bytes)",
                  (unsigned long long)p.target_size);
    os << buf;
  }
  os << "\nbits per layer:";
  for (int b : p.bits) os << " " << b;
  if (p.per_group()) {
    os << "\nper group (qkv/o/gate_up/down):";
    for (const auto& g : p.group_bits) os << " " << g[0] << "/" << g[1] << "/" << g[2] << "/" << g[3];
  }
  if (p.other_known())
    std::snprintf(buf, sizeof buf,
                  "\nlinear %.4f bpw (%lld params), whole file %.4f bpw, expected size %.2f MB\n",
                  p.linear_bpw(), (long long)p.linear_params, p.file_bpw(),
                  double(p.expected_file_bytes()) / 1e6);
  else  // the output chooses the embedding's and head's types (GGUF)
    std::snprintf(buf, sizeof buf, "\nlinear %.4f bpw (%lld params), %.2f MB of linear weights\n",
                  p.linear_bpw(), (long long)p.linear_params, double(p.linear_bits) / 8e6);
  os << buf;
}

}  // namespace lieq::cli
