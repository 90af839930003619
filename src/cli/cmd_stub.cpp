#include "cli/commands.h"
namespace lieq::cli {
void add_inspect(CLI::App&, Action&) {}
void add_tokenize(CLI::App&, Action&) {}
void add_generate(CLI::App&, Action&) {}
void add_ppl(CLI::App&, Action&) {}
}
