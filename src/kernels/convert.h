// Conversion of stored float tensors (format/dtype.h) to float32, through the
// run-time-dispatched vector kernels.
#pragma once

#include <cstddef>

#include "format/dtype.h"

namespace lieq {

// Converts n elements of a float dtype (F32/F16/BF16/F64) to float32; throws
// Error for a non-float dtype.
void convert_to_f32(DType t, const void* src, float* dst, size_t n);

}  // namespace lieq
