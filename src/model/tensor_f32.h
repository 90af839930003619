// Stored float tensors (io/safetensors.h views) read as float32.
#pragma once

#include <vector>

#include "io/safetensors.h"

namespace lieq {

// Reads tensor data as float32 (F32/F16/BF16/F64); throws for other dtypes.
std::vector<float> tensor_to_f32(const TensorView& t);

}  // namespace lieq
