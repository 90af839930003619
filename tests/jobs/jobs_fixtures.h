// Helpers shared by the plan and quantize job tests.
#pragma once

#include <filesystem>

#include "lieq/diagnose.h"
#include "model/reader.h"

namespace lieq::testing {

// Diagnostics of the model at `dir` with its real linear shapes (in
// kLinearRoles order) and layer l scored (l * mult) % n_layers: a
// permutation when mult and the layer count are coprime.
inline Diagnostics model_diagnostics(const std::filesystem::path& dir, int mult) {
  const ModelReader reader(dir);
  const ModelConfig& c = reader.config();
  Diagnostics d;
  d.model_path = dir.string();
  d.architecture = c.architecture;
  d.n_layers = c.n_layers;
  for (int l = 0; l < c.n_layers; ++l) {
    LayerShapes s;
    for (Role role : kLinearRoles) {
      const auto shape = role_shape(role, c);
      s.linears.push_back({shape[0], shape[1]});
    }
    d.layer_shapes.push_back(s);
    LayerDiagnostics ld;
    ld.layer = l;
    ld.score = double((l * mult) % int(c.n_layers));
    d.layers.push_back(ld);
  }
  return d;
}

}  // namespace lieq::testing
