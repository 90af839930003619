#include "cli/cli_util.h"

#include <iostream>

#include "cli/commands.h"

namespace lieq::cli {

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << "\n" << std::flush; }

std::string human_count(int64_t n) {
  char buf[32];
  if (n >= 1000000000)
    std::snprintf(buf, sizeof buf, "%.2fB", double(n) / 1e9);
  else if (n >= 1000000)
    std::snprintf(buf, sizeof buf, "%.2fM", double(n) / 1e6);
  else if (n >= 1000)
    std::snprintf(buf, sizeof buf, "%.1fK", double(n) / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%lld", (long long)n);
  return buf;
}

void add_f32_weights_flag(CLI::App* sub, bool* f32_weights) {
  sub->add_flag("--f32-weights", *f32_weights,
                "Convert BF16/F16 weights to float32 on load (default: they stay 16-bit, "
                "half the memory; products convert them on the fly)");
}

LoadOptions inference_load_options(bool f32_weights) {
  LoadOptions o;
  o.keep_16bit = !f32_weights;
  return o;
}

}  // namespace lieq::cli
