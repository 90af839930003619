// lieq quantize MODEL -o OUT_DIR, with the widths from one of:
//   --bits B [--group-size G] [--sym]        every layer the same
//   --plan plan.json                         per-layer widths from lieq plan
//   --target-bpw X [--allocator A] [--levels 2,4]
//                                            one shot: diagnose, plan, quantize, then
//                                            perplexity before and after
// An output ending in .gguf gets a GGUF file for llama.cpp: each layer's bits
// become a ggml block type through --gguf-types (default 2=Q2_K, 3=Q3_K,
// 4=Q4_K, 5=Q5_K, 6=Q6_K, 8=Q8_0), GPTQ into the block grids or (--method rtn)
// llama.cpp's importance-weighted rounding, or (--method awq) AWQ's scales
// folded in, then that rounding. The work is jobs/quantize.h's; this file
// holds the flags and the printing.
#include <iostream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/stages.h"
#include "jobs/quantize.h"
#include "util/error.h"

namespace lieq::cli {

namespace {
struct QuantizeArgs {
  std::string model, method = "gptq", out, plan_file;
  int bits = 4, group_size = 128;
  bool sym = false, act_order = false, mse_clip = false, json = false;
  CalibArgs calib;
  CalibArgs diag_calib;
  double damp = 0.01;
  PlanArgs plan;  // one-shot mode (target_bpw > 0)
  std::vector<std::string> eval_data;
  int64_t eval_windows = 0;
  // GGUF output.
  std::string gguf_types, embed_type, output_type, types_from, imatrix;
  bool no_imatrix = false;
};

GgmlType type_option(const std::string& flag, const std::string& v) {
  GgmlType t;
  if (!parse_ggml_type(v, &t)) fail(flag, ": unknown ggml type \"", v, "\"");
  return t;
}

jobs::QuantizeRequest quantize_request(const QuantizeArgs& a) {
  jobs::QuantizeRequest r;
  r.model = a.model;
  r.out = a.out;
  if (!parse_method(a.method, &r.method)) fail("--method: unknown method \"", a.method, "\" (rtn, gptq, awq)");
  r.calib = a.calib;
  r.gptq.damp = a.damp;
  r.gptq.act_order = a.act_order;
  r.mse_clip = a.mse_clip;
  r.plan_file = a.plan_file;
  if (a.plan_file.empty() && (a.plan.target_bpw > 0 || !a.plan.target_size.empty())) {
    DiagnoseArgs da;
    da.model = a.model;
    da.calib = a.diag_calib;
    da.calib.file = a.calib.file;
    PlanArgs pa = a.plan;
    pa.model = a.model;
    pa.calib = da.calib;
    pa.gguf = jobs::is_gguf_path(a.out);
    pa.gguf_types = a.gguf_types;
    pa.embed_type = a.embed_type;
    pa.output_type = a.output_type;
    pa.method = a.method;
    check(a.plan.target_size.empty() || pa.gguf,
          "quantize: --target-size needs a .gguf output (it counts a GGUF file's bytes)");
    r.one_shot = jobs::OneShotRequest{diagnose_request(da), plan_request(pa)};
    r.on_plan = [](const Plan& p) { print_plan(p, std::cerr); };
  }
  r.uniform = QuantSpec{a.bits, a.group_size, a.sym};
  r.gguf_types = a.gguf_types;
  if (!a.embed_type.empty()) r.embed_type = type_option("--embed-type", a.embed_type);
  if (!a.output_type.empty() &&
      !(r.one_shot && (a.output_type == "measured" || a.output_type == "rule")))
    r.output_type = type_option("--output-type", a.output_type);
  r.types_from = a.types_from;
  r.importance = !a.no_imatrix;
  r.imatrix_file = a.imatrix;
  r.eval_data = a.eval_data;
  r.eval_windows = a.eval_windows;
  return r;
}

int run_quantize(const QuantizeArgs& a) {
  const jobs::QuantizeOutcome o = jobs::run_quantize(quantize_request(a), jobs::ArtifactCache());
  const QuantizeReport& rep = o.report;
  if (a.json) {
    nlohmann::json j = nlohmann::json::parse(report_json(rep));
    for (const auto& r : o.ppl) j["ppl"][r.file] = {{"before", r.before}, {"after", r.after}};
    j["total_seconds"] = o.total_seconds;
    print_json(j);
    return 0;
  }
  for (const std::string& f : rep.fallbacks) std::fprintf(stderr, "fallback: %s\n", f.c_str());
  std::printf("%s -> %s: %s, %s\n", a.model.c_str(), a.out.c_str(), rep.method.c_str(), o.mode.c_str());
  std::printf("linear %.4f bpw, whole file %.4f bpw (%.2f MB), quantize %.1fs, total %.1fs\n",
              rep.linear_bpw(), rep.file_bpw(), double(rep.file_bytes) / 1e6, rep.seconds, o.total_seconds);
  if (!o.ppl.empty()) {
    std::printf("%-56s %12s %12s %8s\n", "perplexity", "original", "quantized", "ratio");
    for (const auto& r : o.ppl)
      std::printf("%-56s %12.4f %12.4f %8.4f\n", r.file.c_str(), r.before, r.after, r.after / r.before);
  }
  return 0;
}
}  // namespace

void add_quantize(CLI::App& app, Action& action) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* sub = app.add_subcommand("quantize", "Quantize a model (RTN, GPTQ or AWQ; uniform, from a plan, or one-shot LieQ)");
  sub->add_option("model", args->model, "Hugging Face model directory")->required();
  sub->add_option("-o,--output", args->out, "Output directory, or a .gguf file")->required();
  sub->add_option("--method", args->method,
                  "rtn | gptq | awq (activation-aware scales folded into the norms, then "
                  "clipped RTN; GGUF: ggml rounding, weighted unless --no-imatrix)")->capture_default_str();
  auto* bits = sub->add_option("--bits", args->bits, "Bits per weight of every layer: 2, 3, 4, 5, 6, 8")
                   ->capture_default_str();
  auto* plan = sub->add_option("--plan", args->plan_file, "Per-layer widths from a plan JSON (lieq plan)");
  add_grid_flags(sub, args->group_size, args->sym);
  add_calib_flags(sub, args->calib, /*required=*/false);
  add_damp_flag(sub, args->damp);
  sub->add_flag("--act-order", args->act_order, "GPTQ: quantize columns by decreasing Hessian diagonal");
  sub->add_flag("--mse-clip", args->mse_clip, "Search each group's clipping ratio for least error");
  // One-shot LieQ.
  auto* target = sub->add_option("--target-bpw", args->plan.target_bpw,
                                 "One shot: diagnose, allocate to this linear-layer bpw, quantize");
  sub->add_option("--allocator", args->plan.allocator, "One shot: lieq | uniform | positional | lim | zd | measured")
      ->capture_default_str();
  add_target_size_flag(sub, args->plan);
  sub->get_option("--target-size")->excludes(target)->excludes(bits)->excludes(plan);
  add_granularity_flag(sub, args->plan);
  add_levels_flag(sub, args->plan.levels);
  add_diag_calib_flags(sub, args->diag_calib);
  sub->add_option("--eval-data", args->eval_data, "Text file(s) for perplexity before and after (repeatable)");
  sub->add_option("--eval-windows", args->eval_windows, "Evaluate at most this many windows per file (0 = all)")
      ->capture_default_str();
  sub->add_flag("--json", args->json, "Print the quantize report as JSON");
  sub->add_option("--gguf-types", args->gguf_types,
                  "GGUF output: bits -> ggml type, e.g. 2=Q2_K,3=IQ4_XS (over 2=Q2_K,3=Q3_K,4=Q4_K,5=Q5_K,6=Q6_K,8=Q8_0)");
  sub->add_option("--embed-type", args->embed_type,
                  "GGUF output: token_embd type (untied models; default: the plan's for a size "
                  "target, else Q4_K)");
  sub->add_option("--output-type", args->output_type,
                  "GGUF output: output head type (and token_embd of tied models; default: the "
                  "plan's for a size target, else Q6_K; with --target-size also `measured` or "
                  "`rule`, as for plan)");
  sub->add_option("--types-from", args->types_from,
                  "GGUF output: take each tensor's type from this GGUF file of the same model "
                  "(e.g. one llama-quantize made), for comparisons at equal size");
  auto* no_imat = sub->add_flag("--no-imatrix", args->no_imatrix,
                "GGUF output, --method rtn or awq: do not weigh rounding by the calibration's mean x^2");
  sub->add_option("--imatrix", args->imatrix,
                  "GGUF output, --method rtn: weigh rounding by this llama-imatrix file (GGUF or "
                  ".dat) instead of the calibration, as llama-quantize --imatrix does")
      ->excludes(no_imat);
  plan->excludes(bits);
  target->excludes(bits);
  target->excludes(plan);
  sub->callback([args, &action] {
    args->plan.group_size = args->group_size;
    args->plan.symmetric = args->sym;
    action = [args] { return run_quantize(*args); };
  });
}

}  // namespace lieq::cli
