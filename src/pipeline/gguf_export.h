// Quantizing a model straight into a GGUF file that llama.cpp runs with its
// unchanged kernels: the layer-sequential driver (pipeline/driver.h) with
// the GGUF sink. Every decoder layer's linear weights in one ggml block type
// (from the plan's bits through a type map, or per tensor), GPTQ into the
// block grids or importance-weighted RTN (llama.cpp's quantizer; the
// importance is the calibration's mean x^2 per input column, what
// llama.cpp's imatrix holds); AWQ folds its scales first (norms are F32 here,
// so no rounding). Norms and biases stay F32, as llama.cpp's converter and
// quantizer leave them.
//
// Output layout: blk.0 ... blk.{n-1} (in role-table order), then
// output_norm.weight, token_embd.weight, output.weight (untied models) and
// rope_freqs.weight (llama3 RoPE). The file is streamed layer by layer to a
// temp file renamed into place when complete.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "format/ggml_formats.h"
#include "format/ggml_policy.h"
#include "io/gguf.h"
#include "io/imatrix.h"
#include "model/reader.h"
#include "pipeline/driver.h"
#include "tokenizer/tokenizer.h"

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
  // RTN: llama.cpp's importance matrix instead (empty: none); see Quantizer::imatrix.
  Imatrix imatrix;
  std::string name;        // general.name
};

// The GGUF file: metadata (hyperparameters, tokenizer, lieq.method,
// lieq.layer_types), tensor names and the q/k row permutation, per-tensor
// types, and the embedding and output head after the layers (the head
// quantized by `q` on the final-normed hidden states of the quantized model;
// the embedding by RTN, weighted by that importance when tied).
class GgufSink final : public LayerSink {
 public:
  GgufSink(ModelReader& reader, const Tokenizer& tok, const GgufExportOptions& opt,
           const Quantizer& q, std::filesystem::path out_path);

  // ggml types only (Error for an integer grid).
  void begin(const std::vector<StorageFormat>& layer_formats, QuantizeReport& rep) override;
  StorageFormat tensor_format(int layer, Role role,
                              const StorageFormat& layer_format) const override;
  void put_layer(const QuantizedLayer& q, QuantizeReport& rep) override;
  int n_finish_steps() const override { return 1; }
  void finish(Forward& fw, std::vector<float>* x, QuantizeReport& rep) override;

 private:
  // opt.tensor_types' type for a GGUF name, else `fallback`.
  GgmlType type_for(const std::string& gguf_name, GgmlType fallback) const;
  void put(const std::string& name, const std::vector<uint8_t>& bytes, bool linear,
           QuantizeReport& rep);

  ModelReader& reader_;
  const Tokenizer& tok_;
  const GgufExportOptions& opt_;
  const Quantizer& q_;
  std::filesystem::path out_path_;
  GgufWriter w_;
  GgmlType embed_type_ = GgmlType::F32, output_type_ = GgmlType::F32;  // after the row fallback
};

// The file's metadata and tensor declarations for these per-layer formats,
// as GgufSink writes them (method: lieq.method). Returns the embedding's and
// head's types after llama.cpp's row fallback; fallbacks (nullable) gets a
// line per tensor whose type that fallback changed.
struct GgufLayout {
  GgmlType embed_type = GgmlType::F32, output_type = GgmlType::F32;
};
GgufLayout declare_gguf(GgufWriter& w, const ModelReader& reader, const Tokenizer& tok,
                        const GgufExportOptions& opt,
                        const std::vector<StorageFormat>& layer_formats,
                        const std::string& method, std::vector<std::string>* fallbacks);
// Bytes of the GGUF file export_gguf writes for these per-layer formats
// (exact: the same header, padding and tensor sizes), without quantizing.
uint64_t gguf_file_bytes(const ModelReader& reader, const Tokenizer& tok,
                         const GgufExportOptions& opt,
                         const std::vector<StorageFormat>& layer_formats,
                         const std::string& method);

// Quantizes reader's model into the GGUF file out_path. calib may be null for
// RTN (then unweighted). The report's tensors include the embedding and output.
QuantizeReport export_gguf(ModelReader& reader, const Tokenizer& tok, const CalibSet* calib,
                           const GgufExportOptions& opt, const std::filesystem::path& out_path);

}  // namespace lieq
