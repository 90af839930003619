#include "model/tensor_f32.h"

#include "kernels/convert.h"
#include "util/error.h"

namespace lieq {

std::vector<float> tensor_to_f32(const TensorView& t) {
  if (!dtype_info(t.dtype).is_float)
    fail(t.file.string(), ": tensor \"", t.name, "\" has dtype ", dtype_name(t.dtype),
         ", expected a float type");
  std::vector<float> out(size_t(t.numel()));
  convert_to_f32(t.dtype, t.data, out.data(), out.size());
  return out;
}

}  // namespace lieq
