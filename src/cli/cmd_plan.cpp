// lieq plan --diagnostics diag.json --target-bpw X [--levels 2,4] [--allocator A] -o plan.json
#include <iostream>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/stages.h"
#include "util/atomic_file.h"

namespace lieq::cli {

namespace {
struct PlanCmdArgs {
  std::string diagnostics, out;
  PlanArgs plan;
  bool json = false;
};

int run_plan(const PlanCmdArgs& a) {
  const Diagnostics d = read_diagnostics(a.diagnostics);
  const Plan p = jobs::run_plan(d, plan_request(a.plan), a.diagnostics, jobs::ArtifactCache());
  write_file_atomic(a.out, plan_to_json(p).dump(1) + "\n");
  std::cerr << plan_shortfall_warning(p);
  if (a.json)
    print_json(plan_to_json(p));
  else
    print_plan(p, std::cout);
  return 0;
}
}  // namespace

void add_plan(CLI::App& app, Action& action) {
  auto args = std::make_shared<PlanCmdArgs>();
  CLI::App* sub = app.add_subcommand("plan", "Allocate bits per decoder layer under a bits-per-weight budget");
  sub->add_option("--diagnostics,-d", args->diagnostics, "Diagnostics JSON from lieq diagnose")->required();
  sub->add_option("-o,--output", args->out, "Plan JSON to write")->required();
  add_plan_flags(sub, args->plan);
  sub->add_option("--model", args->plan.model, "Model to measure (measured allocator; default: the diagnosed one)");
  args->plan.calib.samples = 32;
  args->plan.calib.seqlen = 512;
  add_calib_flags(sub, args->plan.calib, /*required=*/false);
  sub->add_flag("--json", args->json, "Print the plan JSON");
  sub->callback([args, &action] { action = [args] { return run_plan(*args); }; });
}

}  // namespace lieq::cli
