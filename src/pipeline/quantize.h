// The layer-sequential quantization driver (GPTQ's order): decoder layers one
// at a time, each calibrated on the outputs of the already-quantized layers
// before it; inside a layer q/k/v, then o, then gate/up, then down, each group
// calibrated with the groups before it already quantized. Memory: one layer's
// weights plus the calibration activations; weights are read from the
// memory-mapped source and the output is streamed to disk.
//
// Methods: RTN (optional MSE clipping), GPTQ, and AWQ (pipeline/awq_layer.h:
// each layer's scales searched on the float layer and folded into the norms /
// v_proj / up_proj first, then the scaled projections rounded to nearest after
// a clip search on their output error). AWQ changes tensors that are not
// quantized (the norms, and v's bias when o is scaled): the output stores the
// folded values in the source's dtype, so loading it gives the AWQ model.
#pragma once

#include <cstdint>
#include <map>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "eval/calibration.h"
#include "io/dtype.h"
#include "model/forward.h"
#include "model/reader.h"
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
  GptqOptions gptq;
  RtnOptions rtn;
  AwqOptions awq;
  // AWQ: the dtype each folded norm / bias is stored in, its values rounded to
  // it (F32 when absent); quantize_model sets it from the source.
  std::map<Role, DType> stored_dtypes;
  int64_t chunk_rows = 4096;    // calibration rows per forward pass
  int64_t error_rows = 512;     // rows used to measure each tensor's output error
  bool progress = true;
  // Further files to place in the output directory (name -> contents).
  std::map<std::string, std::string> extra_files;
};

struct TensorReport {
  std::string name;
  int layer = 0;
  QuantSpec spec;
  std::string type;  // storage: spec.name() or a ggml type ("Q4_K")
  int64_t rows = 0, cols = 0;
  double bpw = 0;
  double output_rel_error = -1;  // ||(W - Q) X|| ^2 / ||W X||^2 on calibration rows; -1: none
  double gptq_loss = -1;
  double awq_alpha = -1;  // AWQ: the exponent of its group's scales; -1: not scaled
  double seconds = 0;
};

struct LayerReport {
  int layer = 0;
  QuantSpec spec;
  std::string type;  // storage of the layer's linear weights (spec.name() or a ggml type)
  double output_rel_error = -1;  // of the decoder layer's output, quantized vs float weights
  double seconds = 0;
};

struct QuantizeReport {
  std::string source, method;
  std::vector<TensorReport> tensors;
  std::vector<LayerReport> layers;
  int64_t linear_params = 0, linear_bits = 0;  // quantized linear weights
  int64_t total_params = 0, total_bits = 0;    // every tensor in the file
  int64_t file_bytes = 0;
  double linear_bpw() const { return double(linear_bits) / double(linear_params); }
  // Bits of the real file (headers, metadata and padding included) per parameter;
  // before the file exists, the tensors' bits per parameter.
  double file_bpw() const {
    return double(file_bytes > 0 ? file_bytes * 8 : total_bits) / double(total_params);
  }
  int64_t calib_samples = 0, calib_seqlen = 0, calib_text_tokens = 0;
  std::string calib_source, calib_warning;
  double seconds = 0;
};

// One decoder layer quantized in GPTQ's order (q/k/v, o, gate/up, down), each
// group calibrated on inputs computed with the groups before it quantized.
// x: the layer's calibration input [n_seq * seqlen, hidden] (null for RTN
// without calibration; left unchanged). w is taken by value and quantized in
// place (pass it with std::move when the float layer is not needed again):
// returns the quantized tensors, the layer with dequantized projections (and,
// for AWQ, its folded norms and biases: what the output stores), and
// per-tensor reports.
struct QuantizedLayer {
  LayerWeights dequantized;
  std::map<Role, QuantizedTensor> tensors;
  std::vector<TensorReport> reports;
};

// Quantizes one projection w [rows, cols] of a layer in place: w comes in
// with the float weights and leaves with their dequantized values. `gptq`
// holds the Hessian of its calibration input (null without calibration); a
// GPTQ quantizer may factor it in place (Gptq::factor), as only the
// projections sharing that input use it. Fills tr's bpw, type and gptq_loss.
class Gptq;
using TensorQuantizer = std::function<void(Role role, Tensor& w, Gptq* gptq, TensorReport& tr)>;

// The layer-sequential sweep of quantize_layer with any quantizer (integer
// grids, ggml blocks), in place: each projection of w is replaced by its
// dequantized values as soon as it is quantized, so the layer is held once.
// Returns the reports (name, layer, shape, output error, time filled here).
// Memory beyond w: one group's Hessian (factored in place), the tensor's
// quantizer's work, and the calibration activations.
std::vector<TensorReport> quantize_layer_with(Forward& fw, LayerWeights& w, int layer,
                                              const float* x, int64_t n_seq, int64_t seqlen,
                                              const QuantizeOptions& opt,
                                              const TensorQuantizer& quantize);

QuantizedLayer quantize_layer(Forward& fw, LayerWeights w, int layer, const QuantSpec& spec,
                              const float* x, int64_t n_seq, int64_t seqlen,
                              const QuantizeOptions& opt);

// Runs `layer` in place over calibration rows x [n_seq * seqlen, hidden] in
// chunks of whole sequences (opt.chunk_rows rows at most per pass).
void run_layer_chunks(Forward& fw, const LayerWeights& lw, int layer, float* x, int64_t n_seq,
                      int64_t seqlen, int64_t chunk_rows, LayerObserver* obs = nullptr);

// The calibration samples' embeddings [n_samples * seqlen, hidden] (the first
// layer's input), read row by row from the checkpoint; records the
// calibration's size and warning in rep.
std::vector<float> calibration_embeddings(ModelReader& reader, const CalibSet& calib,
                                          QuantizeReport& rep);

// ||a - b||^2 / ||b||^2 over n values.
double relative_error(const float* a, const float* b, size_t n);

// Quantizes the model read by `reader` into out_dir (a lieq quantized
// directory, written under a temporary name and renamed when complete).
// calib may be null for RTN (no errors are measured then).
QuantizeReport quantize_model(ModelReader& reader, const CalibSet* calib,
                              const QuantizeOptions& opt, const std::filesystem::path& out_dir);

// JSON of a report (quantize_report.json).
std::string report_json(const QuantizeReport& r);

}  // namespace lieq
