// What a quantization run is asked for: the method (RTN, GPTQ, AWQ) and its
// options, each decoder layer's integer grid (quantize_model's input), the
// driver's chunk sizes, and extra files for a quantized directory.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "format/dtype.h"
#include "format/qspec.h"
#include "model/arch.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "quant/rtn.h"

namespace lieq {

enum class QuantMethod : uint8_t { kRtn, kGptq, kAwq };
const char* method_name(QuantMethod m);
bool parse_method(const std::string& s, QuantMethod* out);

struct QuantizeOptions {
  QuantMethod method = QuantMethod::kGptq;
  std::vector<QuantSpec> layer_specs;  // one per decoder layer (all its linear weights)
  // Per-tensor grids by HF name over layer_specs (a per-group plan's).
  std::map<std::string, QuantSpec> tensor_specs;
  GptqOptions gptq;
  RtnOptions rtn;
  AwqOptions awq;
  // AWQ: the dtype each folded norm / bias is stored in, its values rounded to
  // it (F32 when absent), for awq_scale_layer; the driver takes these from
  // its sink instead (LayerSink::folded_dtypes: a directory's are the source's).
  std::map<Role, DType> stored_dtypes;
  int64_t chunk_rows = 4096;  // calibration rows per forward pass
  int64_t error_rows = 512;   // rows used to measure each tensor's output error
  bool progress = true;
  // Further files to place in the output directory (name -> contents).
  std::map<std::string, std::string> extra_files;
};

}  // namespace lieq
