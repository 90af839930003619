// lieq kld BASE MODEL --data FILE [--ctx N] [--protocol P] [--json]
#include <iostream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "eval/kld.h"
#include "model/load.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq::cli {

namespace {
struct KldArgs {
  std::string base, model, data, protocol = "plain";
  int64_t ctx = 0, max_windows = 0;
  bool json = false;
  bool f32_weights = false;
};

int run_kld(const KldArgs& a) {
  PplOptions opt;
  if (!parse_protocol(a.protocol, &opt.protocol))
    fail("--protocol: unknown protocol \"", a.protocol, "\" (plain, wikitext2, llamacpp)");
  opt.ctx = a.ctx;
  opt.max_windows = a.max_windows;
  const std::string text = read_text_file(a.data);
  if (text.empty()) fail(a.data, ": empty file");
  const Model base = load_model(a.base, inference_load_options(a.f32_weights));
  const Model model = load_model(a.model, inference_load_options(a.f32_weights));
  const Tokenizer tok = load_tokenizer(base);
  const KldResult r = kl_divergence(base, model, tok, text, opt);
  if (a.json) {
    print_json({{"mean_kld", r.mean_kld},       {"median_kld", r.median_kld},
                {"p99_kld", r.p99_kld},         {"max_kld", r.max_kld},
                {"top1_agreement", r.top1_agreement},
                {"ppl_base", r.ppl_base},       {"ppl_model", r.ppl_model},
                {"tokens", r.tokens},           {"windows", r.windows},
                {"ctx", r.ctx},                 {"protocol", r.protocol},
                {"seconds", r.seconds}});
  } else {
    std::printf("%lld tokens in %lld windows of %lld (%s), %.1fs\n", (long long)r.tokens,
                (long long)r.windows, (long long)r.ctx, r.protocol.c_str(), r.seconds);
    std::printf("PPL base %.4f, model %.4f (ratio %.4f)\n", r.ppl_base, r.ppl_model,
                r.ppl_model / r.ppl_base);
    std::printf("KLD mean %.6f, median %.6f, 99%% %.6f, max %.6f; top-1 agreement %.2f%%\n",
                r.mean_kld, r.median_kld, r.p99_kld, r.max_kld, 100.0 * r.top1_agreement);
  }
  return 0;
}
}  // namespace

void add_kld(CLI::App& app, Action& action) {
  auto args = std::make_shared<KldArgs>();
  CLI::App* sub = app.add_subcommand("kld", "KL divergence of a model's predictions from a base model's");
  sub->add_option("base", args->base, "Reference model (the original)")->required();
  sub->add_option("model", args->model, "Model to compare (e.g. a quantized one)")->required();
  sub->add_option("--data,-f", args->data, "Evaluation text file")->required();
  sub->add_option("--ctx,-c", args->ctx, "Window length (0 = protocol default, capped by the models)")
      ->capture_default_str();
  sub->add_option("--protocol", args->protocol, "plain | wikitext2 | llamacpp")->capture_default_str();
  sub->add_option("--max-windows", args->max_windows, "At most this many windows (0 = all)")
      ->capture_default_str();
  add_f32_weights_flag(sub, &args->f32_weights);
  sub->add_flag("--json", args->json, "Print JSON");
  sub->callback([args, &action] { action = [args] { return run_kld(*args); }; });
}

}  // namespace lieq::cli
