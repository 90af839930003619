// lieq compare MODEL --calib FILE --target-bpw X[,Y...] [--methods rtn,gptq]
//     [--allocators uniform,lieq] [--levels 2,4] [--data FILE ...] [--task FILE ...]
//     [--shard I/N] -o DIR
// lieq compare --merge DIR... -o DIR
// The flags of jobs/compare.h's comparison (and jobs/compare_shard.h's
// shards and merge), and its table on stdout.
#include <iostream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/stages.h"
#include "jobs/compare.h"
#include "util/error.h"

namespace lieq::cli {

namespace {
struct CompareArgs {
  std::string model, out;
  CalibArgs calib;       // quantization (GPTQ's Hessians, output errors)
  CalibArgs diag_calib;  // diagnostics and the measured allocator's measurements
  std::vector<double> targets;
  std::vector<std::string> methods = {"rtn", "gptq"};
  std::vector<std::string> allocators = {"uniform", "lieq"};
  std::vector<std::string> levels = {"2", "4"};
  int group_size = 128;
  bool sym = false;
  double damp = 0.01;
  std::vector<std::string> data, tasks;
  std::string kld_data;  // default: the first --data file
  int64_t task_limit = 0, ppl_windows = 0, kld_windows = 0, ctx = 0;
  double bpw_tolerance = kDefaultBpwTolerance;
  bool no_keep_models = false, json = false;
  std::string shard;               // "I/N"; empty: the whole sweep
  std::vector<std::string> merge;  // shard directories or files
};

jobs::CompareRequest compare_request(const CompareArgs& a) {
  jobs::CompareRequest r;
  r.model = a.model;
  r.out = a.out;
  r.calib = a.calib;
  r.diag_calib = a.diag_calib;
  r.targets = a.targets;
  r.methods.clear();
  for (const std::string& m : a.methods) {
    QuantMethod q;
    if (!parse_method(m, &q)) fail("--methods: unknown method \"", m, "\" (rtn, gptq, awq)");
    r.methods.push_back(q);
  }
  r.allocators.clear();
  for (const std::string& s : a.allocators) {
    AllocatorKind k;
    if (!parse_allocator(s, &k)) fail("--allocators: unknown allocator \"", s, "\" (", allocator_names(), ")");
    r.allocators.push_back(k);
  }
  r.levels = jobs::level_widths(a.levels, "compare --levels");  // compare rows are integer grids
  r.group_size = a.group_size;
  r.symmetric = a.sym;
  r.damp = a.damp;
  r.data = a.data;
  r.tasks = a.tasks;
  r.kld_data = a.kld_data;
  r.task_limit = a.task_limit;
  r.ppl_windows = a.ppl_windows;
  r.kld_windows = a.kld_windows;
  r.ctx = a.ctx;
  r.bpw_tolerance = a.bpw_tolerance;
  r.keep_models = !a.no_keep_models;
  if (!a.shard.empty()) r.shard = jobs::parse_shard(a.shard);
  return r;
}

int run_compare(const CompareArgs& a) {
  const jobs::CompareOutcome o =
      a.merge.empty()
          ? jobs::run_compare(compare_request(a), jobs::ArtifactCache())
          : jobs::merge_compare({{a.merge.begin(), a.merge.end()}, a.out}, jobs::ArtifactCache());
  if (a.json)
    print_json(o.json);
  else
    std::cout << o.markdown;
  return 0;
}
}  // namespace

void add_compare(CLI::App& app, Action& action) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* sub = app.add_subcommand(
      "compare",
      "Every method x allocator x bpw target at matched bits per weight: perplexity, "
      "zero-shot accuracy, KLD; results.json, results.md and report.html");
  // MODEL, --calib and --target-bpw are required unless --merge (checked in the callback).
  CLI::Option* model =
      sub->add_option("model", args->model, "Hugging Face model directory (the original)");
  sub->add_option("-o,--output", args->out,
                  "Output directory (resumed when it exists; with --merge: where the merged "
                  "results go)")
      ->required();
  add_calib_flags(sub, args->calib, false);
  CLI::Option* targets =
      sub->add_option("--target-bpw", args->targets,
                      "Linear-layer bits per weight targets (scales and zeros included), e.g. "
                      "2.5,4.25")
          ->delimiter(',')
          ->check(CLI::Range(1.0, 16.0));
  sub->add_option("--methods", args->methods, "Quantizers: rtn, gptq, awq")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--allocators", args->allocators,
                  "Allocators: lieq, uniform, positional, lim, zd, measured")
      ->delimiter(',')
      ->capture_default_str();
  add_levels_flag(sub, args->levels);
  add_grid_flags(sub, args->group_size, args->sym);
  add_damp_flag(sub, args->damp);
  add_diag_calib_flags(sub, args->diag_calib);
  sub->add_option("--data", args->data, "Text file for perplexity (repeatable)");
  sub->add_option("--task", args->tasks, "Zero-shot task file, as lieq eval reads (repeatable)");
  sub->add_option("--task-limit", args->task_limit,
                  "Evaluate the first N items of each task (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--ppl-windows", args->ppl_windows,
                  "Perplexity: at most this many windows per file (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--kld-windows", args->kld_windows,
                  "KL divergence: at most this many windows (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--kld-data", args->kld_data,
                  "Text file for KL divergence (default: the first --data)");
  sub->add_option("--ctx", args->ctx, "Evaluation window in tokens (0 = 2048, capped by the model)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(0), int64_t(1) << 20));
  sub->add_option("--bpw-tolerance", args->bpw_tolerance,
                  "Show a row under its target only when its real linear bpw is within this "
                  "many bpw of it (else n/a)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 16.0));
  sub->add_flag("--no-keep-models", args->no_keep_models,
                "Delete each quantized model under DIR/models once it is evaluated");
  sub->add_flag("--json", args->json, "Print results.json instead of the table");
  CLI::Option* shard = sub->add_option(
      "--shard", args->shard,
      "Run shard I of N (combinations whose index mod N is I, in the unsharded order) into "
      "DIR/shards/shard-I-of-N.json; --merge joins them");
  sub->add_option("--merge", args->merge,
                  "Join the shard results of these directories (their shards/*.json) or files "
                  "into -o DIR's results.json, results.md and report.html")
      ->excludes(model)
      ->excludes(targets)
      ->excludes(shard);
  sub->callback([args, &action] {
    if (args->merge.empty()) {
      if (args->model.empty()) throw CLI::RequiredError("model");
      if (args->calib.file.empty()) throw CLI::RequiredError("--calib");
      if (args->targets.empty()) throw CLI::RequiredError("--target-bpw");
    }
    args->diag_calib.file = args->calib.file;
    args->diag_calib.seed = args->calib.seed;
    action = [args] { return run_compare(*args); };
  });
}

}  // namespace lieq::cli
