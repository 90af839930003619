// lieq eval MODEL --task FILE [--task FILE ...] [--limit N] [--json]
#include <cmath>
#include <iostream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "eval/zeroshot.h"
#include "model/load.h"
#include "util/error.h"

namespace lieq::cli {

namespace {
struct EvalArgs {
  std::string model;
  std::vector<std::string> tasks;
  int64_t limit = 0;
  bool json = false;
  bool f32_weights = false;
};

nlohmann::json num_or_null(double v) { return std::isnan(v) ? nlohmann::json() : nlohmann::json(v); }

int run_eval(const EvalArgs& a) {
  // Parse every task file first: a malformed file fails before any model work.
  std::vector<Task> tasks;
  for (const auto& t : a.tasks) tasks.push_back(load_task(t, a.limit));
  const Model model = load_model(a.model, inference_load_options(a.f32_weights));
  const Tokenizer tok = load_tokenizer(model);
  std::vector<TaskResult> results;
  double acc_sum = 0, seconds = 0;
  for (const Task& t : tasks) {
    results.push_back(evaluate_task(model, tok, t));
    acc_sum += results.back().acc;
    seconds += results.back().seconds;
  }
  const double avg = acc_sum / double(results.size());
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    for (const auto& r : results) {
      j["tasks"][r.name] = {{"format", r.format},
                            {"n", r.n},
                            {"acc", r.acc},
                            {"acc_stderr", r.acc_stderr},
                            {"acc_norm", num_or_null(r.acc_norm)},
                            {"acc_norm_stderr", num_or_null(r.acc_norm_stderr)},
                            {"ppl", num_or_null(r.ppl)},
                            {"seconds", r.seconds},
                            {"items_per_second", double(r.n) / r.seconds}};
    }
    j["average_acc"] = avg;
    j["seconds"] = seconds;
    print_json(j);
    return 0;
  }
  std::printf("%-24s %-16s %7s %16s %16s %10s %8s\n", "task", "format", "n", "acc", "acc_norm",
              "ppl", "seconds");
  for (const auto& r : results) {
    char norm[32] = "-", ppl[32] = "-";
    if (!std::isnan(r.acc_norm)) std::snprintf(norm, sizeof norm, "%.4f ± %.4f", r.acc_norm, r.acc_norm_stderr);
    if (!std::isnan(r.ppl)) std::snprintf(ppl, sizeof ppl, "%.3f", r.ppl);
    std::printf("%-24s %-16s %7lld %7.4f ± %.4f %16s %10s %8.1f\n", r.name.c_str(), r.format.c_str(),
                (long long)r.n, r.acc, r.acc_stderr, norm, ppl, r.seconds);
  }
  std::printf("average acc over %zu tasks: %.4f (%.1fs)\n", results.size(), avg, seconds);
  return 0;
}
}  // namespace

void add_eval(CLI::App& app, Action& action) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* sub = app.add_subcommand("eval", "Zero-shot accuracy (lm-evaluation-harness loglikelihood protocol)");
  sub->add_option("model", args->model, "Model directory")->required();
  sub->add_option("--task", args->tasks, "Task file (jsonl or HellaSwag text); repeat for several")
      ->required();
  sub->add_option("--limit", args->limit, "Evaluate the first N items of each task (0 = all)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  add_f32_weights_flag(sub, &args->f32_weights);
  sub->add_flag("--json", args->json, "Print JSON");
  sub->callback([args, &action] { action = [args] { return run_eval(*args); }; });
}

}  // namespace lieq::cli
