// Which instruction set the fast kernels use, chosen once at startup.
//
// The binary is built for the baseline x86-64 target; the AVX2 and AVX-512
// kernels carry per-function target attributes (kernels/vec_avx2.cpp,
// kernels/vec_avx512.cpp) and run only when __builtin_cpu_supports says the
// CPU has them, so one binary runs everywhere and uses what it finds.
// LIEQ_ISA=scalar|avx2|avx512 caps the choice (tests and benchmarks use it to
// run every path on one machine); a request above what the CPU has falls back
// to the best supported path below it.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace lieq {

enum class Isa : uint8_t { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

const char* isa_name(Isa isa);
// Parses "scalar", "avx2", "avx512"; false when unknown.
bool parse_isa(std::string_view name, Isa* out);

// kAvx2: AVX2 + FMA + F16C. kAvx512: AVX-512 F/BW/DQ/VL (+ the AVX2 set).
bool cpu_supports(Isa isa);
// AVX512_BF16 (vdpbf16ps) on top of kAvx512; only matmul_nt_16 uses it
// (kernels/gemm16_kernels.h).
bool cpu_supports_avx512_bf16();
// The best path the CPU supports.
Isa best_supported_isa();
// Every supported path, scalar first (for tests).
std::vector<Isa> supported_isas();
// The path in use: best_supported_isa(), capped by LIEQ_ISA. Decided on first call.
Isa active_isa();

}  // namespace lieq
