#include "format/ggml_policy.h"

#include <exception>

#include "util/error.h"

namespace lieq {

GgmlTypeMap default_ggml_type_map() {
  return {{2, GgmlType::Q2_K}, {3, GgmlType::Q3_K}, {4, GgmlType::Q4_K},
          {5, GgmlType::Q5_K}, {6, GgmlType::Q6_K}, {8, GgmlType::Q8_0}};
}

GgmlTypeMap parse_ggml_type_map(const std::string& s) {
  GgmlTypeMap m = default_ggml_type_map();
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    const std::string item = s.substr(pos, end - pos);
    pos = end + 1;
    const size_t eq = item.find('=');
    int bits = 0;
    if (eq != std::string::npos) {
      try {
        size_t used = 0;
        bits = std::stoi(item.substr(0, eq), &used);
        if (used != eq) bits = 0;
      } catch (const std::exception&) {
        bits = 0;
      }
    }
    GgmlType t;
    if (bits < 1 || bits > 16 || !parse_ggml_type(item.substr(eq + 1), &t))
      fail("ggml type map: bad entry \"", item, "\" (expected BITS=TYPE, e.g. 2=Q2_K)");
    m[bits] = t;
  }
  return m;
}

GgmlType ggml_row_type(GgmlType type, int64_t cols) {
  auto fits = [cols](GgmlType t) { return cols % ggml_traits(t).block_size == 0; };
  if (fits(type)) return type;
  GgmlType fb = GgmlType::F16;
  switch (type) {
    case GgmlType::IQ1_S:
    case GgmlType::IQ1_M:
    case GgmlType::IQ2_XXS:
    case GgmlType::IQ2_XS:
    case GgmlType::IQ2_S:
    case GgmlType::IQ3_XXS:
    case GgmlType::IQ3_S:
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::IQ4_XS:
      fb = GgmlType::IQ4_NL;
      break;
    case GgmlType::TQ1_0:
    case GgmlType::TQ2_0:
      fb = GgmlType::Q4_0;
      break;
    case GgmlType::Q4_K:
      fb = GgmlType::Q5_0;
      break;
    case GgmlType::Q5_K:
      fb = GgmlType::Q5_1;
      break;
    case GgmlType::Q6_K:
      fb = GgmlType::Q8_0;
      break;
    default:
      break;
  }
  return fits(fb) ? fb : GgmlType::F16;
}

int64_t ggml_storage_bits(GgmlType type, int64_t rows, int64_t cols) {
  const GgmlType t = ggml_row_type(type, cols);
  return rows * int64_t(ggml_row_size(t, cols)) * 8;
}

}  // namespace lieq
