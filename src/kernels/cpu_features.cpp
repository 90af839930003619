#include "kernels/cpu_features.h"

#include <cstdio>
#include <cstdlib>

namespace lieq {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "?";
}

bool parse_isa(std::string_view name, Isa* out) {
  for (Isa i : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (name == isa_name(i)) {
      *out = i;
      return true;
    }
  }
  return false;
}

bool cpu_supports(Isa isa) {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return avx2;
    case Isa::kAvx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }
  return false;
}

bool cpu_supports_avx512_bf16() {
  __builtin_cpu_init();
  return cpu_supports(Isa::kAvx512) && __builtin_cpu_supports("avx512bf16");
}

Isa best_supported_isa() {
  if (cpu_supports(Isa::kAvx512)) return Isa::kAvx512;
  if (cpu_supports(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512})
    if (cpu_supports(i)) v.push_back(i);
  return v;
}

Isa active_isa() {
  static const Isa isa = [] {
    Isa best = best_supported_isa();
    const char* env = std::getenv("LIEQ_ISA");
    if (env == nullptr || *env == '\0') return best;
    Isa want;
    if (!parse_isa(env, &want)) {
      std::fprintf(stderr, "lieq: LIEQ_ISA=%s unknown (scalar, avx2, avx512); using %s\n", env,
                   isa_name(best));
      return best;
    }
    while (!cpu_supports(want)) want = Isa(uint8_t(want) - 1);
    return want;
  }();
  return isa;
}

}  // namespace lieq
