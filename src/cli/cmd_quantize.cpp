// lieq quantize MODEL --method rtn|gptq --bits B [--group-size G] [--sym]
//   --calib FILE [--samples N --seqlen L] -o OUT_DIR
#include <iostream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "io/tokenizer.h"
#include "model/reader.h"
#include "pipeline/quantize.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq::cli {

namespace {
struct QuantizeArgs {
  std::string model, method = "gptq", calib, out;
  int bits = 4, group_size = 128;
  bool sym = false, act_order = false, mse_clip = false, json = false;
  int64_t samples = 128, seqlen = 2048;
  uint64_t seed = 0;
  double damp = 0.01;
};

int run_quantize(const QuantizeArgs& a) {
  QuantizeOptions opt;
  if (!parse_method(a.method, &opt.method))
    fail("--method: unknown method \"", a.method, "\" (rtn, gptq)");
  QuantSpec spec{a.bits, a.group_size, a.sym};
  validate_spec(spec, "--bits/--group-size");
  if (opt.method == QuantMethod::kGptq && a.calib.empty())
    fail("--calib: GPTQ needs a calibration text file");
  ModelReader reader(a.model);
  if (reader.quantized())
    fail(a.model, ": is already a lieq quantized model (", kQuantManifestFile,
         "); quantize the original model instead");
  opt.layer_specs.assign(size_t(reader.config().n_layers), spec);
  opt.gptq.damp = a.damp;
  opt.gptq.act_order = a.act_order;
  opt.gptq.rtn.mse_clip = a.mse_clip;
  opt.rtn.mse_clip = a.mse_clip;
  CalibSet calib;
  if (!a.calib.empty()) {
    const Tokenizer tok = Tokenizer::load(a.model);
    calib = make_calibration(tok, read_text_file(a.calib), {a.samples, a.seqlen, a.seed},
                             reader.config().max_position_embeddings, a.calib);
    if (!calib.warning.empty()) std::fprintf(stderr, "lieq: warning: %s\n", calib.warning.c_str());
    std::fprintf(stderr, "calibration: %lld samples x %lld tokens from %s\n",
                 (long long)calib.n_samples, (long long)calib.seqlen, a.calib.c_str());
  }
  QuantizeReport rep = quantize_model(reader, a.calib.empty() ? nullptr : &calib, opt, a.out);
  rep.calib_source = a.calib;
  if (a.json) {
    std::cout << report_json(rep) << std::flush;
  } else {
    std::printf("%s -> %s: %s %s, linear %.4f bpw, file %.4f bpw (%.2f MB), %.1fs\n",
                a.model.c_str(), a.out.c_str(), rep.method.c_str(), spec.name().c_str(),
                rep.linear_bpw(), rep.file_bpw(), double(rep.file_bytes) / 1e6, rep.seconds);
  }
  return 0;
}
}  // namespace

void add_quantize(CLI::App& app, Action& action) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* sub = app.add_subcommand("quantize", "Quantize a model (RTN or GPTQ) into a lieq quantized directory");
  sub->add_option("model", args->model, "Hugging Face model directory")->required();
  sub->add_option("-o,--output", args->out, "Output directory")->required();
  sub->add_option("--method", args->method, "rtn | gptq")->capture_default_str();
  sub->add_option("--bits", args->bits, "Bits per weight: 2, 3, 4, 5, 6, 8")->capture_default_str();
  sub->add_option("--group-size", args->group_size, "Weights per group (0 = per output channel)")
      ->capture_default_str();
  sub->add_flag("--sym", args->sym, "Symmetric grid (no zero point)");
  sub->add_option("--calib", args->calib, "Calibration text file (required for gptq)");
  sub->add_option("--samples", args->samples, "Calibration samples")->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  sub->add_option("--seqlen", args->seqlen, "Tokens per calibration sample (capped by the model)")
      ->capture_default_str()->check(CLI::Range(int64_t(2), int64_t(1) << 20));
  sub->add_option("--seed", args->seed, "Seed for choosing calibration windows")->capture_default_str();
  sub->add_option("--damp", args->damp, "GPTQ damping, fraction of the mean Hessian diagonal")
      ->capture_default_str()->check(CLI::Range(0.0, 10.0));
  sub->add_flag("--act-order", args->act_order, "GPTQ: quantize columns by decreasing Hessian diagonal");
  sub->add_flag("--mse-clip", args->mse_clip, "Search each group's clipping ratio for least error");
  sub->add_flag("--json", args->json, "Print the quantize report as JSON");
  sub->callback([args, &action] { action = [args] { return run_quantize(*args); }; });
}

}  // namespace lieq::cli
