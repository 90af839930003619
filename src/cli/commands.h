// Subcommands of the lieq binary. Each add_* registers its flags (declared
// once, with default and help) and the action run after parsing.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "model/weights.h"

namespace lieq::cli {

// The action selected on the command line; returns the exit code.
using Action = std::function<int()>;

// --f32-weights of the inference commands (ppl, eval, kld, generate): BF16/F16
// weight matrices stay 16-bit in memory unless it is given.
void add_f32_weights_flag(CLI::App* sub, bool* f32_weights);
LoadOptions inference_load_options(bool f32_weights);

void add_inspect(CLI::App& app, Action& action);
void add_tokenize(CLI::App& app, Action& action);
void add_generate(CLI::App& app, Action& action);
void add_ppl(CLI::App& app, Action& action);
void add_eval(CLI::App& app, Action& action);
void add_kld(CLI::App& app, Action& action);
void add_quantize(CLI::App& app, Action& action);
void add_diagnose(CLI::App& app, Action& action);
void add_plan(CLI::App& app, Action& action);
void add_compare(CLI::App& app, Action& action);

}  // namespace lieq::cli
