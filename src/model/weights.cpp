#include "model/weights.h"


#include "model/reader.h"
#include "util/error.h"

namespace lieq {
namespace fs = std::filesystem;

Model load_hf_model(const fs::path& dir) {
  ModelReader reader(dir);
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
