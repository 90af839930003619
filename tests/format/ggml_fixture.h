// What the ggml format tests share: the fixture that llama.cpp's reference
// harness builds too (floats from integers, exact on any platform), FNV-1a
// hashes and hex dumps of encodings, and a row decoder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/ggml_formats.h"

namespace lieq::testing {

// Standard FNV-1a (offset basis 0xcbf29ce484222325).
inline uint64_t fnv1a(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

inline std::string hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

// xorshift32, as in the harness.
struct TestRng {
  uint32_t s;
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
};
// Sum of four 20-bit uniforms, centred: roughly normal, sd 0.29, in [-1, 1).
inline float gaussish(TestRng& r) {
  int32_t acc = -(1 << 21);
  for (int k = 0; k < 4; ++k) acc += static_cast<int32_t>(r.next() >> 12);
  return static_cast<float>(acc) * 0x1p-21f;
}
// Two rows of 1024: sd ~0.018 with an x8 outlier every 61 values and a zero
// block at 512..543; importance [1024] in [0, 16) with zeros every 13.
inline void ggml_fixture(std::vector<float>* x, std::vector<float>* imp) {
  x->assign(2048, 0.0f);
  imp->assign(1024, 0.0f);
  TestRng r{0x9e3779b9u};
  for (int i = 0; i < 2048; ++i) {
    float v = gaussish(r) * 0x1p-4f;
    if (i % 61 == 7) v *= 8.0f;
    if (i >= 512 && i < 544) v = 0.0f;
    (*x)[size_t(i)] = v;
  }
  for (int i = 0; i < 1024; ++i)
    (*imp)[size_t(i)] = i % 13 == 5 ? 0.0f : static_cast<float>(r.next() >> 20) * 0x1p-8f;
}

// n values decoded from q as `t` (ggml_dequantize_row).
inline std::vector<float> decode(GgmlType t, const void* q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  ggml_dequantize_row(t, q, y.data(), n);
  return y;
}

}  // namespace lieq::testing
