// Quantizing a model straight into a GGUF file that llama.cpp runs with its
// unchanged kernels: every decoder layer's linear weights in one ggml block
// type (from the plan's bits through a type map), GPTQ into the block grids
// (layer-sequential, as quantize_model) or importance-weighted RTN (llama.cpp's
// quantizer; the importance is the calibration's mean x^2 per input column,
// what llama.cpp's imatrix holds). Norms and biases stay F32, as llama.cpp's
// converter and quantizer leave them.
//
// Output layout: token_embd.weight, then blk.0 ... blk.{n-1} (in role-table
// order), then output_norm.weight, output.weight (untied models) and
// rope_freqs.weight (llama3 RoPE). The file is streamed layer by layer to a
// temp file renamed into place when complete.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "model/reader.h"
#include "pipeline/quantize.h"
#include "quant/ggml_formats.h"
#include "quant/ggml_policy.h"

namespace lieq {

struct GgufExportOptions {
  QuantizeOptions base;                   // method, GPTQ options, chunk sizes, progress
  std::vector<GgmlType> layer_types;      // per decoder layer (all its linear weights)
  GgmlType embed_type = GgmlType::Q4_K;   // token_embd of untied models
  GgmlType output_type = GgmlType::Q6_K;  // output, and token_embd of tied models
  // Per-tensor types by GGUF name ("blk.3.attn_v.weight", "token_embd.weight"),
  // over layer_types / embed_type / output_type: e.g. the types of a file
  // llama.cpp's quantizer made, for comparisons at exactly equal size.
  std::map<std::string, GgmlType> tensor_types;
  bool importance = true;  // RTN: weight by the calibration's mean x^2 (when given)
  std::string name;        // general.name
};

// Quantizes reader's model into the GGUF file out_path. calib may be null for
// RTN (then unweighted). The report's tensors include the embedding and output.
QuantizeReport export_gguf(ModelReader& reader, const Tokenizer& tok, const CalibSet* calib,
                           const GgufExportOptions& opt, const std::filesystem::path& out_path);

}  // namespace lieq
