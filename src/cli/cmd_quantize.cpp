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
// folded in, then that rounding.
#include <chrono>
#include <iostream>
#include <map>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/stages.h"
#include "format/ggml_policy.h"
#include "eval/perplexity.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"
#include "model/load.h"
#include "model/reader.h"
#include "pipeline/gguf_export.h"
#include "pipeline/quantize.h"
#include "util/error.h"
#include "util/mapped_file.h"

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
  std::string gguf_types, embed_type = "Q4_K", output_type = "Q6_K", types_from;
  bool no_imatrix = false;
};

bool is_gguf_path(const std::string& p) {
  return p.size() > 5 && p.compare(p.size() - 5, 5, ".gguf") == 0;
}

GgmlType type_option(const std::string& flag, const std::string& v) {
  GgmlType t;
  if (!parse_ggml_type(v, &t)) fail(flag, ": unknown ggml type \"", v, "\"");
  return t;
}

// Each layer's format in the output: a GGUF file stores ggml types (an
// integer-grid layer's bits map through --gguf-types), a lieq directory
// integer grids.
std::vector<StorageFormat> output_formats(const std::vector<StorageFormat>& formats,
                                          const std::vector<int>& bits, bool gguf,
                                          const std::string& gguf_types) {
  const GgmlTypeMap map = parse_ggml_type_map(gguf_types);
  std::vector<StorageFormat> out;
  for (size_t l = 0; l < formats.size(); ++l) {
    if (formats[l].is_ggml() && !gguf)
      fail("layer ", l, " is planned as ", formats[l].name(),
           ", a ggml type: write a .gguf file, or plan without --gguf");
    if (formats[l].is_ggml() || !gguf) {
      out.push_back(formats[l]);
      continue;
    }
    const auto it = map.find(bits[l]);
    if (it == map.end()) fail("--gguf-types: no ggml type for ", bits[l], "-bit layers");
    out.push_back(StorageFormat::ggml(it->second));
  }
  return out;
}

struct PplRow {
  std::string file;
  double before = 0, after = 0;
};

std::vector<PplRow> ppl_before_after(const std::string& fp_dir, const std::string& q_dir,
                                     const std::vector<std::string>& files, int64_t max_windows) {
  std::vector<PplRow> rows;
  if (files.empty()) return rows;
  const Model fp = load_model(fp_dir), q = load_model(q_dir);
  const Tokenizer tok = load_tokenizer(fp);
  PplOptions po;
  po.max_windows = max_windows;
  for (const auto& f : files) {
    const std::string text = read_text_file(f);
    rows.push_back({f, perplexity(fp, tok, text, po).ppl, perplexity(q, tok, text, po).ppl});
  }
  return rows;
}

int run_quantize(const QuantizeArgs& a) {
  const auto t_start = std::chrono::steady_clock::now();
  QuantizeOptions opt;
  if (!parse_method(a.method, &opt.method))
    fail("--method: unknown method \"", a.method, "\" (rtn, gptq, awq)");
  if (opt.method != QuantMethod::kRtn && a.calib.file.empty())
    fail("--calib: ", opt.method == QuantMethod::kAwq ? "AWQ" : "GPTQ",
         " needs a calibration text file");
  for (const auto& f : a.eval_data) (void)read_text_file(f);  // fail early on a bad path
  ModelReader reader(a.model);
  if (reader.quantized())
    fail(a.model, ": is already a lieq quantized model (", kQuantManifestFile,
         "); quantize the original model instead");
  const ModelConfig& c = reader.config();
  opt.gptq.damp = a.damp;
  opt.gptq.act_order = a.act_order;
  opt.gptq.rtn.mse_clip = a.mse_clip;
  opt.rtn.mse_clip = a.mse_clip;

  std::string mode;
  std::vector<StorageFormat> formats;  // per decoder layer
  std::vector<int> bits;               // per decoder layer: the width it was given
  if (!a.plan_file.empty()) {
    const Plan p = read_plan(a.plan_file);
    validate_plan_for_model(p, c, a.plan_file);
    formats = p.layer_formats, bits = p.bits;
    opt.extra_files["plan.json"] = read_text_file(a.plan_file);
    mode = "plan " + a.plan_file;
  } else if (a.plan.target_bpw > 0) {
    // One shot: diagnose and plan first, kept in OUT.stages (a rerun with the
    // same settings resumes from them) and saved next to the quantized weights.
    DiagnoseArgs da;
    da.model = a.model;
    da.calib = a.diag_calib;
    da.calib.file = a.calib.file;
    PlanArgs pa = a.plan;
    pa.model = a.model;
    pa.calib = da.calib;
    pa.gguf = is_gguf_path(a.out);
    pa.gguf_types = a.gguf_types;
    const std::filesystem::path stages = jobs::stages_dir_for(a.out);
    std::fprintf(stderr, "[1/3] diagnose, [2/3] plan (%s, target %.4f bpw) in %s\n", a.plan.allocator.c_str(),
                 a.plan.target_bpw, stages.string().c_str());
    const jobs::PlannedModel pm =
        jobs::diagnose_and_plan(diagnose_request(da), plan_request(pa), stages, jobs::ArtifactCache());
    const Diagnostics& d = pm.diagnostics;
    const Plan& p = pm.plan;
    print_plan(p, std::cerr);
    formats = p.layer_formats, bits = p.bits;
    opt.extra_files["diagnostics.json"] = diagnostics_to_json(d).dump(1) + "\n";
    opt.extra_files["diagnostics.svg"] = jobs::diagnostics_chart_svg(d);
    opt.extra_files["plan.json"] = plan_to_json(p).dump(1) + "\n";
    mode = cat("plan ", p.allocator, " at ", p.target_bpw, " bpw");
    std::fprintf(stderr, "[3/3] quantize\n");
  } else {
    const QuantSpec spec{a.bits, a.group_size, a.sym};
    validate_spec(spec, "--bits/--group-size");
    formats.assign(size_t(c.n_layers), StorageFormat::grid(spec));
    bits.assign(size_t(c.n_layers), a.bits);
    mode = spec.name();
  }
  formats = output_formats(formats, bits, is_gguf_path(a.out), a.gguf_types);
  CalibSet calib;
  if (!a.calib.file.empty()) calib = jobs::load_calibration(a.model, a.calib, c.max_position_embeddings);
  const CalibSet* calib_ptr = a.calib.file.empty() ? nullptr : &calib;
  QuantizeReport rep;
  if (is_gguf_path(a.out)) {
    GgufExportOptions go;
    go.base = opt;
    for (const StorageFormat& f : formats) go.layer_types.push_back(f.ggml_type());
    go.embed_type = type_option("--embed-type", a.embed_type);
    go.output_type = type_option("--output-type", a.output_type);
    go.importance = !a.no_imatrix;
    if (!a.types_from.empty()) {
      // Every quantized tensor's type as in another GGUF file of the same model.
      const GgufReader ref(a.types_from);
      for (const GgufTensorInfo& t : ref.tensors())
        if (t.shape.size() == 2 && t.type != GgmlType::F32) go.tensor_types[t.name] = t.type;
      mode += " with the tensor types of " + a.types_from;
    }
    go.name = std::filesystem::path(a.model).filename().string();
    const Tokenizer tok = Tokenizer::load(a.model);
    rep = export_gguf(reader, tok, calib_ptr, go, a.out);
    std::map<std::string, int> n_of;
    for (GgmlType t : go.layer_types) ++n_of[ggml_type_name(t)];
    std::string types;
    for (const auto& [t, n] : n_of) types += cat(types.empty() ? "" : ", ", n, " layers ", t);
    if (a.plan_file.empty() && a.plan.target_bpw <= 0) mode = "uniform";
    mode += " -> GGUF: " + types;
  } else {
    for (const StorageFormat& f : formats) opt.layer_specs.push_back(f.spec());
    rep = quantize_model(reader, calib_ptr, opt, a.out);
  }
  const std::vector<PplRow> ppl = ppl_before_after(a.model, a.out, a.eval_data, a.eval_windows);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  if (a.json) {
    nlohmann::json j = nlohmann::json::parse(report_json(rep));
    for (const auto& r : ppl) j["ppl"][r.file] = {{"before", r.before}, {"after", r.after}};
    j["total_seconds"] = total;
    print_json(j);
    return 0;
  }
  std::printf("%s -> %s: %s, %s\n", a.model.c_str(), a.out.c_str(), rep.method.c_str(), mode.c_str());
  std::printf("linear %.4f bpw, whole file %.4f bpw (%.2f MB), quantize %.1fs, total %.1fs\n",
              rep.linear_bpw(), rep.file_bpw(),
              double(rep.file_bytes) / 1e6, rep.seconds, total);
  if (!ppl.empty()) {
    std::printf("%-56s %12s %12s %8s\n", "perplexity", "original", "quantized", "ratio");
    for (const auto& r : ppl)
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
  sub->add_option("--group-size", args->group_size, "Weights per group (0 = per output channel)")
      ->capture_default_str();
  sub->add_flag("--sym", args->sym, "Symmetric grid (no zero point)");
  add_calib_flags(sub, args->calib, /*required=*/false);
  sub->add_option("--damp", args->damp, "GPTQ damping, fraction of the mean Hessian diagonal")
      ->capture_default_str()->check(CLI::Range(0.0, 10.0));
  sub->add_flag("--act-order", args->act_order, "GPTQ: quantize columns by decreasing Hessian diagonal");
  sub->add_flag("--mse-clip", args->mse_clip, "Search each group's clipping ratio for least error");
  // One-shot LieQ.
  auto* target = sub->add_option("--target-bpw", args->plan.target_bpw,
                                 "One shot: diagnose, allocate to this linear-layer bpw, quantize");
  sub->add_option("--allocator", args->plan.allocator, "One shot: lieq | uniform | positional | lim | zd | measured")
      ->capture_default_str();
  sub->add_option("--levels", args->plan.levels, "One shot: bit widths a layer may get")->delimiter(',')
      ->capture_default_str();
  sub->add_option("--diag-samples", args->diag_calib.samples, "One shot: calibration samples for diagnostics")
      ->capture_default_str();
  args->diag_calib.samples = 32;
  args->diag_calib.seqlen = 512;
  sub->add_option("--diag-seqlen", args->diag_calib.seqlen, "One shot: tokens per diagnostics sample")
      ->capture_default_str();
  sub->add_option("--eval-data", args->eval_data, "Text file(s) for perplexity before and after (repeatable)");
  sub->add_option("--eval-windows", args->eval_windows, "Evaluate at most this many windows per file (0 = all)")
      ->capture_default_str();
  sub->add_flag("--json", args->json, "Print the quantize report as JSON");
  sub->add_option("--gguf-types", args->gguf_types,
                  "GGUF output: bits -> ggml type, e.g. 2=Q2_K,3=IQ4_XS (over 2=Q2_K,3=Q3_K,4=Q4_K,5=Q5_K,6=Q6_K,8=Q8_0)");
  sub->add_option("--embed-type", args->embed_type, "GGUF output: token_embd type (untied models)")
      ->capture_default_str();
  sub->add_option("--output-type", args->output_type,
                  "GGUF output: output head type (and token_embd of tied models)")
      ->capture_default_str();
  sub->add_option("--types-from", args->types_from,
                  "GGUF output: take each tensor's type from this GGUF file of the same model "
                  "(e.g. one llama-quantize made), for comparisons at equal size");
  sub->add_flag("--no-imatrix", args->no_imatrix,
                "GGUF output, --method rtn or awq: do not weigh rounding by the calibration's mean x^2");
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
