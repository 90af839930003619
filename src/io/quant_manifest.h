// lieq's quantized model directory:
//   config.json, tokenizer files       copied from the source model
//   model.safetensors                  quantized linear weights as three tensors
//                                      "<name>.qcodes" U8 [rows, row_bytes],
//                                      "<name>.scales" F16 [rows, n_groups],
//                                      "<name>.zeros"  F16 [rows, n_groups] (asymmetric),
//                                      every other tensor under its HF name, as stored
//   lieq_quant.json                    this manifest: format, version, method, and
//                                      each quantized tensor's shape and spec
//   quantize_report.json               what the quantizer measured (not needed to load)
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "format/qspec.h"

namespace lieq {

inline constexpr const char* kQuantManifestFile = "lieq_quant.json";
inline constexpr const char* kQuantFormat = "lieq-quant";
inline constexpr int kQuantFormatVersion = 1;

struct QuantEntry {
  QuantSpec spec;
  int64_t rows = 0, cols = 0;
};

struct QuantManifest {
  std::string method;  // "rtn", "gptq", ...
  std::string source;  // path of the original model
  std::map<std::string, QuantEntry> tensors;  // HF weight name -> spec

  static QuantManifest read(const std::filesystem::path& path);
  void write(const std::filesystem::path& path) const;
};

// True when dir holds a lieq quantized model.
bool is_quantized_dir(const std::filesystem::path& dir);

std::string qcodes_name(const std::string& weight);
std::string qscales_name(const std::string& weight);
std::string qzeros_name(const std::string& weight);

// The tensors a quantized weight is stored as (for SafetensorsStreamWriter).
std::vector<SafetensorsStreamWriter::Decl> quantized_decls(const std::string& weight,
                                                           const QuantEntry& e);
// Streams a quantized tensor's parts in the order of quantized_decls.
void write_quantized(SafetensorsStreamWriter& w, const std::string& weight,
                     const QuantizedTensor& q);
// Reads one quantized tensor back, checking every part against the manifest.
QuantizedTensor read_quantized(const TensorStore& store, const std::string& weight,
                               const QuantEntry& e);

}  // namespace lieq
