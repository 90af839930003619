// The layer-sequential quantization driver (GPTQ's order): decoder layers one
// at a time, each calibrated on the outputs of the already-quantized layers
// before it; inside a layer q/k/v, then o, then gate/up, then down, each group
// calibrated with the groups before it already quantized; for AWQ, the
// layer's scales searched on the float layer and folded in first
// (pipeline/awq_layer.h). Memory: one layer's weights plus the calibration
// activations; weights are read from the memory-mapped source and each
// quantized layer goes to the sink before the next is read.
//
// Two parts plug in:
//   a Quantizer (pipeline/quantizer.h): the method into any StorageFormat,
//     one format per decoder layer;
//   a LayerSink: where the quantized layers go: a lieq quantized directory
//     (pipeline/quantize.h), a GGUF file (pipeline/gguf_export.h), or nothing
//     (NullSink; measurements, reports).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "eval/calibration.h"
#include "format/dtype.h"
#include "format/storage_format.h"
#include "model/forward.h"
#include "model/reader.h"
#include "pipeline/options.h"
#include "pipeline/quantizer.h"
#include "pipeline/report.h"

namespace lieq {

struct DriverOptions {
  int64_t chunk_rows = 4096;  // calibration rows per forward pass
  int64_t error_rows = 512;   // rows used to measure each tensor's output error
  bool progress = true;
  static DriverOptions from(const QuantizeOptions& opt);
};

// One decoder layer quantized.
struct QuantizedLayer {
  int layer = 0;
  StorageFormat format;  // the layer's format
  // The layer as the output stores it: projections dequantized, AWQ's scales
  // folded into its norms and biases.
  LayerWeights dequantized;
  std::map<Role, StoredTensor> tensors;  // the projections as stored
  bool awq_folded = false;               // awq_folds_into(role) tensors changed
  std::vector<TensorReport> reports;     // per projection, in GPTQ's order
};

// Where quantized layers go. Calls, in order: begin, then per layer
// tensor_format / folded_dtypes (while it is quantized) and put_layer, then
// finish and commit.
class LayerSink {
 public:
  virtual ~LayerSink() = default;
  // Before the first layer, with each layer's format (one per decoder layer).
  virtual void begin(const std::vector<StorageFormat>& layer_formats, QuantizeReport& rep) {
    (void)layer_formats, (void)rep;
  }
  // The format projection `role` of `layer` is quantized into (a ggml type
  // before llama.cpp's row fallback): the layer's unless the output says otherwise.
  virtual StorageFormat tensor_format(int layer, Role role,
                                      const StorageFormat& layer_format) const {
    (void)layer, (void)role;
    return layer_format;
  }
  // The dtype each AWQ-folded tensor of `layer` is stored in (F32 when
  // absent): the fold rounds to it, so the stored model is what was quantized.
  virtual std::map<Role, DType> folded_dtypes(int layer) const {
    (void)layer;
    return {};
  }
  // Each quantized layer, in order; adds what it stores to rep's bit counts.
  virtual void put_layer(const QuantizedLayer& q, QuantizeReport& rep) = 0;
  // Progress steps finish() takes (shown after the layers').
  virtual int n_finish_steps() const { return 0; }
  // After the last layer. x: the calibration rows' hidden states after every
  // quantized layer [rows, hidden] (null without calibration; the sink may
  // release or overwrite it). Writes what follows the layers, sets rep.file_bytes.
  virtual void finish(Forward& fw, std::vector<float>* x, QuantizeReport& rep) {
    (void)fw, (void)x, (void)rep;
  }
  // With rep complete (seconds included): puts the output in place.
  virtual void commit(const QuantizeReport& rep) { (void)rep; }
};

// Keeps nothing: the reports (per-tensor and per-layer errors) alone.
class NullSink final : public LayerSink {
 public:
  void put_layer(const QuantizedLayer& q, QuantizeReport& rep) override { (void)q, (void)rep; }
};

// Error unless reader's model is an original (not a lieq quantized) model.
void check_quantizable(const ModelReader& reader);

// One decoder layer in `format` (the sink's tensor_format per projection):
// AWQ's scales first, then the projections in GPTQ's order, each group
// calibrated on inputs computed with the groups before it quantized. x: the
// layer's calibration input [n_seq * seqlen, hidden] (null for RTN without
// calibration; left unchanged). w is taken by value and quantized in place
// (pass it with std::move when the float layer is not needed again). Memory
// beyond w: one group's Hessian (factored in place), the quantizer's work,
// the calibration activations.
QuantizedLayer quantize_layer(Forward& fw, LayerWeights w, int layer, const StorageFormat& format,
                              const float* x, int64_t n_seq, int64_t seqlen, const Quantizer& q,
                              const LayerSink& sink, const DriverOptions& opt);

// The model read by `reader`, layer l in layer_formats[l], into `sink`.
// calib may be null for RTN (no errors are measured then). rep: source and
// method set by the caller; the driver adds the calibration's size, every
// tensor's and layer's report and the time, the sink the bit counts and
// file size. Validate with q.validate first.
void quantize_layers(ModelReader& reader, const CalibSet* calib, const Quantizer& q,
                     const std::vector<StorageFormat>& layer_formats, LayerSink& sink,
                     const DriverOptions& opt, QuantizeReport& rep);

// Measurements: every decoder layer quantized alone in each of `levels`, on
// calibration inputs from the float model; [layer][level] the relative error
// of the layer's output (as LayerReport::output_rel_error).
std::vector<std::vector<double>> measure_layer_errors(ModelReader& reader, const CalibSet& calib,
                                                      const Quantizer& q,
                                                      const std::vector<StorageFormat>& levels,
                                                      const DriverOptions& opt);

// The same per tensor group: every group of every layer quantized alone in
// each of `levels` (the layer's other groups float; AWQ's scales searched for
// the whole layer at that level first), on calibration inputs from the float
// model; [layer * kTensorGroups + group][level] the relative error of the
// layer's output. Costs about as much as measure_layer_errors: each group's
// Hessian is accumulated once and factored once for all levels (AWQ: per level).
std::vector<std::vector<double>> measure_group_errors(ModelReader& reader, const CalibSet& calib,
                                                      const Quantizer& q,
                                                      const std::vector<StorageFormat>& levels,
                                                      const DriverOptions& opt);

}  // namespace lieq
