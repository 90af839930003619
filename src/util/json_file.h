// JSON files with errors that name the file.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace lieq {

using json = nlohmann::json;

// Parses a JSON file; a missing file or a syntax error throws Error naming the path.
json read_json_file(const std::filesystem::path& path);

// Typed access to a required member; a missing member or wrong type throws Error
// "<path>: <key>: ...".
template <typename T>
T json_get(const json& j, const std::string& key, const std::filesystem::path& path);

// Typed access to an optional member; null or absent gives the fallback.
template <typename T>
T json_get_or(const json& j, const std::string& key, const T& fallback,
              const std::filesystem::path& path);

}  // namespace lieq
