// One projection quantized by a method (RTN, GPTQ, AWQ's clipped rounding)
// into a storage format (format/storage_format.h): an integer grid or a ggml
// block type, the driver's only per-tensor step.
//
//              integer grid                     ggml type (rows in ggml_row_type(cols))
//   RTN        quantize_rtn (opt. MSE clip)     llama.cpp's rounding, weighted by the input's
//                                               mean x^2 when `importance` (and calibrated)
//   GPTQ       Gptq::quantize_in_place          Gptq::quantize_ggml_in_place
//   AWQ        clip search on the Hessian,      as RTN (the scales are folded before)
//              then RTN (awq_quantize_clipped)
//
// AWQ's scale search rounds with fake_quantizer(format): plain RTN for a grid
// (the reference's pseudo-quantizer), llama.cpp's rounding for a ggml type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/storage_format.h"
#include "io/imatrix.h"
#include "model/weights.h"
#include "pipeline/options.h"
#include "pipeline/report.h"
#include "quant/awq.h"
#include "quant/gptq.h"

namespace lieq {

// A projection as stored.
struct StoredTensor {
  StorageFormat format;         // ggml: the row type actually stored
  QuantizedTensor grid;         // integer grid: codes, scales, zeros
  std::vector<uint8_t> blocks;  // ggml: rows * ggml_row_size(type, cols) bytes
};

struct Quantizer {
  QuantMethod method = QuantMethod::kGptq;
  GptqOptions gptq;
  RtnOptions rtn;
  AwqOptions awq;
  // RTN and AWQ into ggml types: rounding weighted by the calibration's mean
  // x^2 per input (llama.cpp's imatrix) when calibrated. Integer grids ignore it.
  bool importance = true;
  // RTN into ggml types: llama.cpp's importance matrix (llama-imatrix's file)
  // instead of the calibration's, by GGUF tensor name; every quantized
  // tensor must have an entry (Error naming it).
  const Imatrix* imatrix = nullptr;

  // The method and options of opt.
  static Quantizer from(const QuantizeOptions& opt, bool importance = true);
  // Errors prefixed by `who`: GPTQ and AWQ without calibration, act_order
  // with a ggml format.
  void validate(const std::vector<StorageFormat>& formats, bool calibrated,
                const std::string& who) const;
  // Quantizes w [rows, cols] into `format` in place: w comes in with the
  // float weights and leaves with their dequantized values. hessian: that of
  // its input (null without calibration), factored in place by GPTQ (only the
  // projections sharing that input use it). Fills tr's storage (format, type,
  // bits, bpw) and gptq_loss. gguf_name: the tensor's GGUF name, which
  // finds its imatrix entry.
  StoredTensor quantize(const StorageFormat& format, Tensor& w, Gptq* hessian, TensorReport& tr,
                        const std::string& gguf_name = {}) const;
  // The imatrix entry of a GGUF tensor name for a [*, cols] weight; null
  // without an imatrix; Error when it has none or one of another length.
  const float* imatrix_for(const std::string& gguf_name, int64_t cols) const;
  // The rounding AWQ's scale search measures for `format`.
  FakeQuantizer fake_quantizer(const StorageFormat& format) const;
};

}  // namespace lieq
