#include "format/storage_format.h"

#include <charconv>

#include "format/ggml_policy.h"
#include "util/error.h"

namespace lieq {

StorageFormat StorageFormat::grid(const QuantSpec& spec) {
  validate_spec(spec, "storage format");
  StorageFormat f;
  f.kind_ = Kind::kGrid;
  f.spec_ = spec;
  return f;
}

StorageFormat StorageFormat::ggml(GgmlType type) {
  ggml_traits(type);  // throws for an unsupported id
  StorageFormat f;
  f.kind_ = Kind::kGgml;
  f.type_ = type;
  return f;
}

const QuantSpec& StorageFormat::spec() const {
  check(is_grid(), "storage format ", name(), " is a ggml type, not an integer grid");
  return spec_;
}

GgmlType StorageFormat::ggml_type() const {
  check(is_ggml(), "storage format ", name(), " is an integer grid, not a ggml type");
  return type_;
}

GgmlType StorageFormat::ggml_row_type(int64_t cols) const {
  return lieq::ggml_row_type(ggml_type(), cols);
}

int64_t StorageFormat::storage_bits(int64_t rows, int64_t cols) const {
  return is_grid() ? spec_.storage_bits(rows, cols) : ggml_storage_bits(type_, rows, cols);
}

std::string StorageFormat::name() const {
  return is_grid() ? spec_.name() : std::string(ggml_type_name(type_));
}

nlohmann::json StorageFormat::to_json() const {
  if (is_ggml()) return {{"ggml", ggml_type_name(type_)}};
  return {
      {"grid",
       {{"bits", spec_.bits}, {"group_size", spec_.group_size}, {"symmetric", spec_.symmetric}}}};
}

bool operator==(const StorageFormat& a, const StorageFormat& b) {
  if (a.kind_ != b.kind_) return false;
  if (a.is_ggml()) return a.type_ == b.type_;
  return a.spec_.bits == b.spec_.bits && a.spec_.group_size == b.spec_.group_size &&
         a.spec_.symmetric == b.spec_.symmetric;
}

namespace {
// "int<bits>" then "g<size>" or "per-channel", then "sym" or "asym".
bool parse_grid_name(std::string_view s, QuantSpec* out) {
  auto word = [&s]() {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    const size_t n = s.find(' ');
    std::string_view w = s.substr(0, n);
    s.remove_prefix(n == std::string_view::npos ? s.size() : n);
    return w;
  };
  auto number = [](std::string_view w, int* v) {
    const auto r = std::from_chars(w.data(), w.data() + w.size(), *v);
    return r.ec == std::errc() && r.ptr == w.data() + w.size();
  };
  QuantSpec q;
  std::string_view w = word();
  if (w.substr(0, 3) != "int" || !number(w.substr(3), &q.bits)) return false;
  w = word();
  if (w == "per-channel")
    q.group_size = 0;
  else if (w.empty() || w.front() != 'g' || !number(w.substr(1), &q.group_size))
    return false;
  w = word();
  if (w != "sym" && w != "asym") return false;
  q.symmetric = w == "sym";
  if (!word().empty()) return false;
  try {
    validate_spec(q, "storage format");
  } catch (const Error&) {
    return false;
  }
  *out = q;
  return true;
}
}  // namespace

bool parse_storage_format(std::string_view name, StorageFormat* out) {
  GgmlType t;
  if (parse_ggml_type(name, &t)) return *out = StorageFormat::ggml(t), true;
  QuantSpec q;
  if (parse_grid_name(name, &q)) return *out = StorageFormat::grid(q), true;
  return false;
}

std::vector<StorageFormat> grid_formats(const std::vector<int>& bits, int group_size,
                                        bool symmetric) {
  std::vector<StorageFormat> f;
  for (int b : bits) f.push_back(StorageFormat::grid({b, group_size, symmetric}));
  return f;
}

std::vector<StorageFormat> ggml_formats(const std::vector<GgmlType>& types) {
  std::vector<StorageFormat> f;
  for (GgmlType t : types) f.push_back(StorageFormat::ggml(t));
  return f;
}

std::string format_names(const std::vector<StorageFormat>& formats) {
  std::string s;
  for (const StorageFormat& f : formats) s += (s.empty() ? "" : ", ") + f.name();
  return s;
}

StorageFormat storage_format_from_json(const nlohmann::json& j, const std::string& where) {
  try {
    if (j.is_object() && j.size() == 1 && j.contains("ggml")) {
      GgmlType t;
      const std::string n = j.at("ggml").get<std::string>();
      if (!parse_ggml_type(n, &t)) fail(where, ": unknown ggml type \"", n, "\"");
      return StorageFormat::ggml(t);
    }
    if (j.is_object() && j.size() == 1 && j.contains("grid")) {
      const nlohmann::json& g = j.at("grid");
      QuantSpec q{g.at("bits").get<int>(), g.at("group_size").get<int>(),
                  g.at("symmetric").get<bool>()};
      validate_spec(q, where);
      return StorageFormat::grid(q);
    }
  } catch (const nlohmann::json::exception& e) {
    fail(where, ": malformed storage format ", j.dump(), ": ", e.what());
  }
  fail(where, ": a storage format is {\"grid\": {...}} or {\"ggml\": TYPE}, not ", j.dump());
}

}  // namespace lieq
