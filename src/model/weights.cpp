#include "model/weights.h"

#include <cstring>

#include "kernels/gemm.h"
#include "kernels/vec.h"
#include "model/reader.h"
#include "util/error.h"

namespace lieq {
namespace fs = std::filesystem;

void linear_nt(const float* x, const Tensor& w, float* y, int64_t m, bool accumulate) {
  if (w.is_16bit())
    matmul_nt_16(x, w.half.data(), w.half_dtype, y, m, w.rows(), w.cols(), accumulate);
  else
    matmul_nt(x, w.ptr(), y, m, w.rows(), w.cols(), accumulate);
}

void tensor_row_to_f32(const Tensor& t, int64_t i, float* out) {
  const int64_t d = t.cols();
  if (!t.is_16bit()) {
    std::memcpy(out, t.ptr() + i * d, size_t(d) * sizeof(float));
    return;
  }
  const uint16_t* row = t.half.data() + i * d;
  if (t.half_dtype == Dtype16::kBf16)
    convert_bf16_to_f32(row, out, d);
  else
    convert_f16_to_f32(row, out, d);
}

Model load_hf_model(const fs::path& dir, const LoadOptions& opt) {
  ModelReader reader(dir, opt);
  Model m;
  m.path = dir;
  m.format = reader.quantized() ? ModelFormat::kLieqQuantized : ModelFormat::kHuggingFace;
  m.config = reader.config();
  m.weights = reader.load_all();
  m.weight_dtype = reader.weight_dtype();
  return m;
}

ParamCounts count_params(const ModelConfig& c) {
  ParamCounts p;
  p.embedding = c.vocab * c.hidden;
  p.output = c.tie_word_embeddings ? 0 : c.vocab * c.hidden;
  p.norms = c.hidden;
  auto numel = [](const std::vector<int64_t>& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
  };
  for (const RoleSpec& r : role_table()) {
    if (!role_present(r.role, c)) continue;
    const int64_t n = numel(role_shape(r.role, c)) * c.n_layers;
    switch (r.role) {
      case Role::kWq: case Role::kWk: case Role::kWv: case Role::kWo: p.attention += n; break;
      case Role::kWgate: case Role::kWup: case Role::kWdown: p.mlp += n; break;
      case Role::kBq: case Role::kBk: case Role::kBv: p.biases += n; break;
      default: p.norms += n; break;
    }
  }
  return p;
}

}  // namespace lieq
