// The lattice code books of ggml's i-quant formats (ggml-common.h), as
// generated into ggml_iq_grids.cpp by scripts/gen_iq_grids.py, and the sign
// tables, which follow a rule.
//
// Each uint64_t grid entry packs 8 unsigned magnitudes, byte k = element k
// (IQ2 grids: 0x08, 0x19, 0x2b = 8, 25, 43 ...; IQ1: int8 -1, 0, +1); each
// uint32_t entry packs 4 (IQ3 grids).
#pragma once

#include <cstdint>

namespace lieq::ggml {

extern const uint64_t kIq2xxsGrid[256];   // IQ2_XXS
extern const uint64_t kIq2xsGrid[512];    // IQ2_XS
extern const uint64_t kIq2sGrid[1024];    // IQ2_S
extern const uint32_t kIq3xxsGrid[256];   // IQ3_XXS
extern const uint32_t kIq3sGrid[512];     // IQ3_S
extern const uint64_t kIq1sGrid[2048];    // IQ1_S, IQ1_M (int8 entries -1, 0, 1)

inline constexpr float kIq1sDelta = 0.125f;  // ggml's IQ1S_DELTA (= IQ1M_DELTA)

// ggml's ksigns_iq2xs: 7 sign bits i, plus bit 7 set when i has an odd number
// of bits, so that every 8-bit pattern has an even number of minus signs.
constexpr uint8_t iq2_signs(int i) {
  int p = 0;
  for (int b = 0; b < 7; ++b) p ^= (i >> b) & 1;
  return static_cast<uint8_t>(i | (p << 7));
}

// Magnitude k (0..7) of a grid entry.
inline uint8_t grid_byte(uint64_t entry, int k) { return static_cast<uint8_t>(entry >> (8 * k)); }
inline uint8_t grid_byte(uint32_t entry, int k) { return static_cast<uint8_t>(entry >> (8 * k)); }

}  // namespace lieq::ggml
