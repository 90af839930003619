// Small helpers shared by the subcommands.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace lieq::cli {

// Prints a JSON document to stdout (pretty, newline-terminated).
void print_json(const nlohmann::json& j);

// "12.3M" style parameter counts.
std::string human_count(int64_t n);

}  // namespace lieq::cli
