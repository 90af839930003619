// IEEE half (F16) and bfloat16 (BF16) conversions, scalar reference versions.
#pragma once

#include <cstdint>
#include <cstring>

namespace lieq {

inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float bf16_to_f32(uint16_t h) { return bits_to_f32(uint32_t(h) << 16); }

// Round to nearest even; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float f16_to_f32(uint16_t h);
// Round to nearest even, overflow to infinity.
uint16_t f32_to_f16(float f);

void f16_to_f32_row(const uint16_t* x, float* y, size_t n);
void bf16_to_f32_row(const uint16_t* x, float* y, size_t n);

}  // namespace lieq
