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

}  // namespace lieq
