// A model quantized into a lieq quantized directory: the layer-sequential
// driver (pipeline/driver.h) with the directory sink.
//
// The directory holds config.json and the tokenizer files (copied),
// model.safetensors (each linear weight as its integer grid's codes, scales
// and zeros; every other tensor as stored in the source, except AWQ's folded
// norms and biases, stored in the source's dtype, so loading it gives the AWQ
// model), lieq_quant.json (io/quant_manifest.h) and quantize_report.json.
// It is written under a temporary name and renamed when complete.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "eval/calibration.h"
#include "io/quant_manifest.h"
#include "io/safetensors.h"
#include "model/reader.h"
#include "pipeline/driver.h"
#include "pipeline/layer_pass.h"
#include "pipeline/options.h"
#include "pipeline/report.h"

namespace lieq {

class DirectorySink final : public LayerSink {
 public:
  // Refuses an out_dir that exists and is neither empty nor a lieq quantized
  // directory (which it replaces on commit); writes into a temporary
  // directory beside it, removed unless committed. extra_files: name ->
  // contents, placed in the output too.
  // tensor_specs: per-tensor grids by HF name over the layer's.
  DirectorySink(ModelReader& reader, const std::filesystem::path& out_dir,
                std::map<std::string, std::string> extra_files = {},
                std::map<std::string, QuantSpec> tensor_specs = {});
  ~DirectorySink() override;
  DirectorySink(const DirectorySink&) = delete;
  DirectorySink& operator=(const DirectorySink&) = delete;

  // Integer grids only (Error naming the layer for a ggml type).
  void begin(const std::vector<StorageFormat>& layer_formats, QuantizeReport& rep) override;
  std::map<Role, DType> folded_dtypes(int layer) const override;  // the source's
  StorageFormat tensor_format(int layer, Role role,
                              const StorageFormat& layer_format) const override;
  void put_layer(const QuantizedLayer& q, QuantizeReport& rep) override;
  void finish(Forward& fw, std::vector<float>* x, QuantizeReport& rep) override;
  void commit(const QuantizeReport& rep) override;

 private:
  void write_source(const std::string& name);  // a tensor's bytes as the source stores them

  ModelReader& reader_;
  std::filesystem::path out_dir_, tmp_dir_;
  std::map<std::string, std::string> extra_files_;
  std::map<std::string, QuantSpec> tensor_specs_;
  QuantManifest manifest_;
  std::unique_ptr<SafetensorsStreamWriter> writer_;
  bool committed_ = false;
};

// Quantizes the model read by `reader` into out_dir, layer l in
// opt.layer_specs[l]. calib may be null for RTN (no errors are measured then).
QuantizeReport quantize_model(ModelReader& reader, const CalibSet* calib,
                              const QuantizeOptions& opt, const std::filesystem::path& out_dir);

}  // namespace lieq
