// Measurements for the `measured` allocator: each decoder layer quantized
// alone (base.method, in the driver's order: pipeline/driver.h) in each level's
// storage format (integer grids or ggml types), on calibration inputs from
// the float model; the error is the relative error of the layer's output.
// Per group: measure_group_errors.
#pragma once

#include <vector>

#include "eval/calibration.h"
#include "format/storage_format.h"
#include "lieq/plan.h"
#include "model/reader.h"
#include "pipeline/options.h"

namespace lieq {

Measurements measure_layers(ModelReader& reader, const CalibSet& calib,
                            const std::vector<StorageFormat>& levels, const QuantizeOptions& base,
                            Granularity granularity = Granularity::kLayer);

// The output head's relative logit error ||X Q^T - X W^T||^2 / ||X W^T||^2 in
// each ggml type (base.method; GPTQ on the head's input Hessian), X the float
// model's final-normed hidden states of the calibration (the first
// error_rows rows for the logits). For a tied model the head is the embedding.
std::vector<double> measure_head_errors(ModelReader& reader, const CalibSet& calib,
                                        const std::vector<GgmlType>& types,
                                        const QuantizeOptions& base);

}  // namespace lieq
