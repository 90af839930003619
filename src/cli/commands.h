// Subcommands of the lieq binary. Each add_* registers its flags (declared
// once, with default and help) and the action run after parsing.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace lieq::cli {

// The action selected on the command line; returns the exit code.
using Action = std::function<int()>;

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
