// lieq generate MODEL --prompt TEXT -n N [--temperature T --top-p P --seed S]
#include <chrono>
#include <iostream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "eval/generate.h"
#include "model/load.h"
#include "util/error.h"

namespace lieq::cli {

namespace {
struct GenerateArgs {
  std::string model, prompt;
  int64_t n = 128;
  double temperature = 0.0, top_p = 1.0;
  uint64_t seed = 42;
  bool json = false, ignore_eos = false;
  bool f32_weights = false;
};

int run_generate(const GenerateArgs& a) {
  const Model model = load_model(a.model, inference_load_options(a.f32_weights));
  const Tokenizer tok = load_tokenizer(model);
  const std::vector<int32_t> prompt = tok.encode(a.prompt);
  if (prompt.empty()) fail("generate: the prompt has no tokens and the tokenizer adds no BOS");
  GenerateOptions opt;
  opt.n_new = a.n;
  opt.temperature = a.temperature;
  opt.top_p = a.top_p;
  opt.seed = a.seed;
  opt.stop_id = a.ignore_eos ? -1 : tok.eos_id();
  // Stream the text: decode everything so far and print what is new (BPE
  // pieces and byte fallback only make sense in context).
  std::vector<int32_t> all = prompt;
  std::string printed;
  auto flush_text = [&](bool final) {
    const std::string text = tok.decode(all, /*skip_special=*/true);
    // Hold back an incomplete UTF-8 sequence at the end until it completes.
    size_t end = text.size();
    if (!final) {
      size_t i = end;
      while (i > 0 && (uint8_t(text[i - 1]) & 0xC0) == 0x80) --i;
      if (i > 0 && uint8_t(text[i - 1]) >= 0xC0) end = i - 1;
    }
    if (end > printed.size() && text.compare(0, printed.size(), printed) == 0) {
      if (!a.json) std::cout << text.substr(printed.size(), end - printed.size()) << std::flush;
      printed = text.substr(0, end);
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> out = generate(model, prompt, opt, [&](int32_t id) {
    all.push_back(id);
    flush_text(false);
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  flush_text(true);
  if (a.json) {
    print_json({{"text", tok.decode(all, true)}, {"prompt_tokens", prompt.size()},
                {"ids", out}, {"seconds", secs}});
  } else {
    std::cout << "\n" << std::flush;
    std::fprintf(stderr, "generated %zu tokens in %.2fs (%.1f tokens/s)\n", out.size(), secs,
                 double(out.size()) / std::max(secs, 1e-9));
  }
  return 0;
}
}  // namespace

void add_generate(CLI::App& app, Action& action) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* sub = app.add_subcommand("generate", "Generate text (greedy by default)");
  sub->add_option("model", args->model, "Model directory")->required();
  sub->add_option("--prompt,-p", args->prompt, "Prompt text")->required();
  sub->add_option("-n,--n-tokens", args->n, "Tokens to generate at most")->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  sub->add_option("--temperature,-t", args->temperature, "Sampling temperature (0 = greedy)")
      ->capture_default_str()->check(CLI::Range(0.0, 100.0));
  sub->add_option("--top-p", args->top_p, "Nucleus sampling mass")->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--seed", args->seed, "Random seed for sampling")->capture_default_str();
  sub->add_flag("--ignore-eos", args->ignore_eos, "Keep generating after an end-of-sequence token");
  add_f32_weights_flag(sub, &args->f32_weights);
  sub->add_flag("--json", args->json, "Print JSON");
  sub->callback([args, &action] { action = [args] { return run_generate(*args); }; });
}

}  // namespace lieq::cli
