// What a quantization run reports: per tensor and per decoder layer, the
// storage format and its real bits, output errors and times; for the whole
// output, linear and file bits per weight. quantize_report.json is its JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/storage_format.h"

namespace lieq {

struct TensorReport {
  std::string name;
  int layer = 0;  // -1: embedding, output head
  // As stored: an integer grid, or the ggml type the rows are stored in (after
  // llama.cpp's fallback for rows off the block size).
  StorageFormat format;
  std::string type;  // format.name(): "int4 g128 asym", "Q4_K"
  int64_t rows = 0, cols = 0;
  int64_t bits = 0;  // format.storage_bits(rows, cols): codes, scales, zeros / ggml blocks
  double bpw = 0;    // bits / (rows * cols)
  double output_rel_error = -1;  // ||(W - Q) X|| ^2 / ||W X||^2 on calibration rows; -1: none
  double gptq_loss = -1;
  double awq_alpha = -1;  // AWQ: the exponent of its group's scales; -1: not scaled
  double seconds = 0;
  // Sets format, type, bits and bpw for a [rows, cols] tensor stored in f.
  void set_storage(const StorageFormat& f);
};

struct LayerReport {
  int layer = 0;
  StorageFormat format;          // the layer's (a tensor may differ: per-tensor types, fallbacks)
  std::string type;              // format.name()
  int64_t params = 0, bits = 0;  // of its linear weights as stored
  double bpw() const { return params > 0 ? double(bits) / double(params) : 0.0; }
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
  // Tensors stored in another type than asked for (llama.cpp's row-length
  // fallback): "blk.0.ffn_down.weight: IQ2_XS -> IQ4_NL (rows of 320 values)".
  std::vector<std::string> fallbacks;
  double seconds = 0;
};

// JSON of a report (quantize_report.json). Each layer and tensor carries its
// "format" (StorageFormat::to_json) and "type" (its name); integer grids also
// their "spec" ({bits, group_size, symmetric}); layers their "bpw".
std::string report_json(const QuantizeReport& r);

}  // namespace lieq
