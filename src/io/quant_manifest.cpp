#include "io/quant_manifest.h"

#include <cstring>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_file.h"

namespace lieq {
namespace fs = std::filesystem;

std::string qcodes_name(const std::string& weight) { return weight + ".qcodes"; }
std::string qscales_name(const std::string& weight) { return weight + ".scales"; }
std::string qzeros_name(const std::string& weight) { return weight + ".zeros"; }

bool is_quantized_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::exists(dir / kQuantManifestFile, ec);
}

QuantManifest QuantManifest::read(const fs::path& path) {
  const json j = read_json_file(path);
  const std::string p = path.string();
  if (json_get<std::string>(j, "format", path) != kQuantFormat)
    fail(p, ": not a lieq quantized model manifest (format is not \"", kQuantFormat, "\")");
  const int version = json_get<int>(j, "version", path);
  if (version != kQuantFormatVersion)
    fail(p, ": manifest version ", version, " is not supported (this lieq reads version ",
         kQuantFormatVersion, ")");
  QuantManifest m;
  m.method = json_get_or<std::string>(j, "method", "", path);
  m.source = json_get_or<std::string>(j, "source", "", path);
  if (!j.contains("tensors") || !j["tensors"].is_object()) fail(p, ": missing \"tensors\" object");
  for (auto it = j["tensors"].begin(); it != j["tensors"].end(); ++it) {
    const json& t = it.value();
    const std::string where = p + ": tensor \"" + it.key() + "\"";
    if (!t.is_object()) fail(where, ": entry is not an object");
    QuantEntry e;
    try {
      e.spec.bits = t.at("bits").get<int>();
      e.spec.group_size = t.at("group_size").get<int>();
      e.spec.symmetric = t.at("symmetric").get<bool>();
      const auto shape = t.at("shape").get<std::vector<int64_t>>();
      if (shape.size() != 2 || shape[0] <= 0 || shape[1] <= 0) fail(where, ": shape must be [rows, cols]");
      e.rows = shape[0];
      e.cols = shape[1];
    } catch (const json::exception& ex) {
      fail(where, ": bad entry: ", ex.what());
    }
    validate_spec(e.spec, where);
    m.tensors[it.key()] = e;
  }
  return m;
}

void QuantManifest::write(const fs::path& path) const {
  json j;
  j["format"] = kQuantFormat;
  j["version"] = kQuantFormatVersion;
  j["method"] = method;
  j["source"] = source;
  j["tensors"] = json::object();
  for (const auto& [name, e] : tensors)
    j["tensors"][name] = {{"bits", e.spec.bits},
                          {"group_size", e.spec.group_size},
                          {"symmetric", e.spec.symmetric},
                          {"shape", {e.rows, e.cols}}};
  write_file_atomic(path, j.dump(1) + "\n");
}

std::vector<SafetensorsStreamWriter::Decl> quantized_decls(const std::string& weight,
                                                           const QuantEntry& e) {
  const int64_t row_bytes = (e.cols * e.spec.bits + 7) / 8, groups = e.spec.n_groups(e.cols);
  std::vector<SafetensorsStreamWriter::Decl> d = {
      {qcodes_name(weight), DType::kU8, {e.rows, row_bytes}},
      {qscales_name(weight), DType::kF16, {e.rows, groups}}};
  if (!e.spec.symmetric) d.push_back({qzeros_name(weight), DType::kF16, {e.rows, groups}});
  return d;
}

void write_quantized(SafetensorsStreamWriter& w, const std::string& weight,
                     const QuantizedTensor& q) {
  w.write(qcodes_name(weight), q.codes.data(), q.codes.size());
  w.write(qscales_name(weight), q.scales.data(), q.scales.size() * 2);
  if (!q.spec.symmetric) w.write(qzeros_name(weight), q.zeros.data(), q.zeros.size() * 2);
}

QuantizedTensor read_quantized(const TensorStore& store, const std::string& weight,
                               const QuantEntry& e) {
  QuantizedTensor q = QuantizedTensor::empty(e.spec, e.rows, e.cols);
  for (const auto& d : quantized_decls(weight, e)) {
    const TensorView& t = store.get(d.name);
    if (t.dtype != d.dtype || t.shape != d.shape)
      fail(t.file.string(), ": tensor \"", d.name, "\" is ", dtype_name(t.dtype), " ",
           t.shape_str(), ", the manifest implies ", dtype_name(d.dtype), " [", d.shape[0], ", ",
           d.shape[1], "]");
    void* dst = d.name == qcodes_name(weight)    ? static_cast<void*>(q.codes.data())
                : d.name == qscales_name(weight) ? static_cast<void*>(q.scales.data())
                                                 : static_cast<void*>(q.zeros.data());
    std::memcpy(dst, t.data, t.nbytes);
  }
  return q;
}

}  // namespace lieq
