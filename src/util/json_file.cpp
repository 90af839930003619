#include "util/json_file.h"

#include <cstdint>
#include <vector>

#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq {

json read_json_file(const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    fail(path.string(), ": malformed JSON: ", e.what());
  }
}

template <typename T>
T json_get(const json& j, const std::string& key, const std::filesystem::path& path) {
  if (!j.is_object()) fail(path.string(), ": expected a JSON object");
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) fail(path.string(), ": missing \"", key, "\"");
  try {
    return it->get<T>();
  } catch (const json::exception& e) {
    fail(path.string(), ": \"", key, "\" has the wrong type (", it->type_name(), ")");
  }
}

template <typename T>
T json_get_or(const json& j, const std::string& key, const T& fallback,
              const std::filesystem::path& path) {
  if (!j.is_object()) fail(path.string(), ": expected a JSON object");
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception& e) {
    fail(path.string(), ": \"", key, "\" has the wrong type (", it->type_name(), ")");
  }
}

#define LIEQ_JSON_INSTANTIATE(T)                                                          \
  template T json_get<T>(const json&, const std::string&, const std::filesystem::path&); \
  template T json_get_or<T>(const json&, const std::string&, const T&,                   \
                            const std::filesystem::path&);
LIEQ_JSON_INSTANTIATE(int64_t)
LIEQ_JSON_INSTANTIATE(int)
LIEQ_JSON_INSTANTIATE(double)
LIEQ_JSON_INSTANTIATE(bool)
LIEQ_JSON_INSTANTIATE(std::string)
LIEQ_JSON_INSTANTIATE(std::vector<int64_t>)
#undef LIEQ_JSON_INSTANTIATE

}  // namespace lieq
