#include "format/dtype.h"

#include <cstring>

namespace lieq {

static constexpr DTypeInfo kDTypes[] = {
    {DType::kF32, "F32", 4, true},  {DType::kF16, "F16", 2, true}, {DType::kBF16, "BF16", 2, true},
    {DType::kF64, "F64", 8, true},  {DType::kI64, "I64", 8, false}, {DType::kI32, "I32", 4, false},
    {DType::kI16, "I16", 2, false}, {DType::kI8, "I8", 1, false},   {DType::kU8, "U8", 1, false},
    {DType::kBool, "BOOL", 1, false},
};

const DTypeInfo& dtype_info(DType t) { return kDTypes[size_t(t)]; }

bool parse_safetensors_dtype(std::string_view name, DType* out) {
  for (const auto& d : kDTypes) {
    if (name == d.safetensors_name) {
      *out = d.dtype;
      return true;
    }
  }
  return false;
}

}  // namespace lieq
