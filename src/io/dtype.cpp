#include "io/dtype.h"

#include <cstring>

#include "util/error.h"
#include "util/half.h"

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

// 16-bit elements through an aligned local buffer (the source may be unaligned).
static void convert_u16_rows(const void* src, float* dst, size_t n,
                             void (*row)(const uint16_t*, float*, size_t)) {
  const auto* p = static_cast<const uint8_t*>(src);
  uint16_t buf[256];
  for (size_t i = 0; i < n; i += 256) {
    const size_t m = n - i < 256 ? n - i : 256;
    std::memcpy(buf, p + 2 * i, 2 * m);
    row(buf, dst + i, m);
  }
}

void convert_to_f32(DType t, const void* src, float* dst, size_t n) {
  // Empty tensors may come with null pointers, which memcpy must not get.
  if (n == 0 && dtype_info(t).is_float) return;
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::kF16:
      convert_u16_rows(src, dst, n, f16_to_f32_row);
      return;
    case DType::kBF16:
      convert_u16_rows(src, dst, n, bf16_to_f32_row);
      return;
    case DType::kF64: {
      const auto* p = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        dst[i] = float(d);
      }
      return;
    }
    default:
      fail("cannot convert ", dtype_name(t), " tensor data to float32");
  }
}

}  // namespace lieq
