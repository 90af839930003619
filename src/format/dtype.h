// Element types of tensors stored in model files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lieq {

enum class DType : uint8_t { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

struct DTypeInfo {
  DType dtype;
  const char* safetensors_name;  // "F32", "BF16", ...
  size_t size;                   // bytes per element
  bool is_float;
};

const DTypeInfo& dtype_info(DType t);
// Parses a safetensors dtype name; returns false when unknown.
bool parse_safetensors_dtype(std::string_view name, DType* out);
inline size_t dtype_size(DType t) { return dtype_info(t).size; }
inline const char* dtype_name(DType t) { return dtype_info(t).safetensors_name; }

}  // namespace lieq
