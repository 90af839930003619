// lieq ppl MODEL --data FILE [--ctx N] [--protocol plain|wikitext2|llamacpp] [--json]
#include <iostream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "eval/perplexity.h"
#include "model/load.h"
#include "util/error.h"
#include "util/mapped_file.h"
#include "util/sysinfo.h"

namespace lieq::cli {

namespace {
struct PplArgs {
  std::string model, data, protocol = "plain";
  int64_t ctx = 0, max_windows = 0, batch_rows = 4096;
  bool json = false;
  bool f32_weights = false;
};

int run_ppl(const PplArgs& a) {
  PplOptions opt;
  if (!parse_protocol(a.protocol, &opt.protocol))
    fail("--protocol: unknown protocol \"", a.protocol, "\" (plain, wikitext2, llamacpp)");
  opt.ctx = a.ctx;
  opt.max_windows = a.max_windows;
  opt.batch_rows = a.batch_rows;
  const std::string text = read_text_file(a.data);
  if (text.empty()) fail(a.data, ": empty file");
  const Model model = load_model(a.model, inference_load_options(a.f32_weights));
  const Tokenizer tok = load_tokenizer(model);
  const PplResult r = perplexity(model, tok, text, opt);
  if (a.json) {
    print_json({{"ppl", r.ppl},
                {"nll", r.nll},
                {"tokens", r.tokens},
                {"text_tokens", r.text_tokens},
                {"windows", r.windows},
                {"ctx", r.ctx},
                {"protocol", r.protocol},
                {"seconds", r.seconds},
                {"tokens_per_second", double(r.windows * r.ctx) / r.seconds},
                {"peak_rss_mb", double(peak_rss_bytes()) / (1 << 20)}});
  } else {
    std::printf("%s: %lld windows of %lld tokens, %lld tokens scored, %.1fs (%.0f tokens/s)\n",
                a.data.c_str(), (long long)r.windows, (long long)r.ctx, (long long)r.tokens,
                r.seconds, double(r.windows * r.ctx) / r.seconds);
    std::printf("PPL = %.4f (nll %.6f, protocol %s)\n", r.ppl, r.nll, r.protocol.c_str());
  }
  return 0;
}
}  // namespace

void add_ppl(CLI::App& app, Action& action) {
  auto args = std::make_shared<PplArgs>();
  CLI::App* sub = app.add_subcommand("ppl", "Perplexity of a model on a text file");
  sub->add_option("model", args->model, "Model directory")->required();
  sub->add_option("--data,-f", args->data, "Evaluation text file")->required();
  sub->add_option("--ctx,-c", args->ctx, "Window length in tokens (0 = protocol default, capped by the model)")
      ->capture_default_str()->check(CLI::Range(int64_t(0), int64_t(1) << 20));
  sub->add_option("--protocol", args->protocol, "plain | wikitext2 | llamacpp")->capture_default_str();
  sub->add_option("--max-windows", args->max_windows, "Evaluate at most this many windows (0 = all)")
      ->capture_default_str();
  sub->add_option("--batch-rows", args->batch_rows, "Token rows per forward pass")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  add_f32_weights_flag(sub, &args->f32_weights);
  sub->add_flag("--json", args->json, "Print JSON");
  sub->callback([args, &action] { action = [args] { return run_ppl(*args); }; });
}

}  // namespace lieq::cli
