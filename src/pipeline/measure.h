// Measurements for the `measured` allocator: each decoder layer quantized
// alone (GPTQ, in the driver's order) at each level, on calibration inputs
// from the float model; the error is the relative error of the layer's output.
#pragma once

#include "eval/calibration.h"
#include "lieq/plan.h"
#include "model/reader.h"
#include "pipeline/quantize.h"

namespace lieq {

Measurements measure_layers(ModelReader& reader, const CalibSet& calib,
                            const std::vector<int>& levels, int group_size, bool symmetric,
                            const QuantizeOptions& base);

}  // namespace lieq
