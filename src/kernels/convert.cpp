#include "kernels/convert.h"

#include <cstring>

#include "kernels/vec.h"
#include "util/error.h"

namespace lieq {

// 16-bit elements through an aligned local buffer (the source may be
// unaligned), converted by the run-time-dispatched vector kernels
// (kernels/vec.h: AVX-512 / AVX2 / scalar, bit-exact with each other).
static void convert_u16_rows(const void* src, float* dst, size_t n,
                             void (*row)(const uint16_t*, float*, int64_t)) {
  const auto* p = static_cast<const uint8_t*>(src);
  constexpr size_t kBuf = 4096;
  alignas(64) uint16_t buf[kBuf];
  for (size_t i = 0; i < n; i += kBuf) {
    const size_t m = n - i < kBuf ? n - i : kBuf;
    std::memcpy(buf, p + 2 * i, 2 * m);
    row(buf, dst + i, int64_t(m));
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
      convert_u16_rows(src, dst, n, vec().f16_to_f32);
      return;
    case DType::kBF16:
      convert_u16_rows(src, dst, n, vec().bf16_to_f32);
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
