// lieq diagnose MODEL --calib FILE [--samples N --seqlen L] -o diag.json
#include <iostream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/stages.h"
#include "util/error.h"

namespace lieq::cli {

namespace {
int run_diagnose(const DiagnoseArgs& a) {
  // Reused when the file was made with the same settings (the chart beside it too).
  const Diagnostics d = jobs::diagnose_cached(diagnose_request(a), a.out, jobs::ArtifactCache());
  if (a.json)
    print_json(diagnostics_to_json(d));
  else
    print_diagnostics_table(d, std::cout);
  return 0;
}
}  // namespace

void add_diagnose(CLI::App& app, Action& action) {
  auto args = std::make_shared<DiagnoseArgs>();
  CLI::App* sub = app.add_subcommand(
      "diagnose", "Layer-wise diagnostics (Perplexity Drop, Representational Compactness, Top-k Energy Gain, LIM, ZD)");
  sub->add_option("model", args->model, "Hugging Face model directory")->required();
  sub->add_option("-o,--output", args->out, "Diagnostics JSON to write (a chart .svg is written beside it)")
      ->required();
  // Fewer tokens than quantization: the bypass passes cost L^2 / 2 layer forwards.
  args->calib.samples = 32;
  args->calib.seqlen = 512;
  add_calib_flags(sub, args->calib);
  sub->add_option("--energy-k", args->energy_k, "k of Top-k Energy Gain (0 = 1% of hidden, at least 8)")
      ->capture_default_str();
  sub->add_option("--weights", args->weights, "Score weights of dPPL, RC, TEG")->expected(3)
      ->capture_default_str();
  sub->add_option("--normalisation", args->normalisation,
                  "How metrics are scaled before they are summed: minmax (METHOD.md) or rank")
      ->capture_default_str();
  sub->add_flag("--signed-teg", args->signed_teg,
                "Score signed Top-k Energy Gain as METHOD.md states (default: its magnitude)");
  sub->add_flag("--no-random-reference", args->no_random,
                "RC without subtracting a randomly initialised model's");
  sub->add_option("--random-seed", args->random_seed, "Seed of the random reference model")
      ->capture_default_str();
  sub->add_flag("--json", args->json, "Print the diagnostics JSON instead of the table");
  sub->callback([args, &action] { action = [args] { return run_diagnose(*args); }; });
}

}  // namespace lieq::cli
