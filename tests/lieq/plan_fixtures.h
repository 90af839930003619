// A toy model's diagnostics for the plan tests.
#pragma once

#include "lieq/diagnose.h"

namespace lieq::testing {

// n_layers layers of q, k, v, o, gate, up, down at hidden 256, FFN 768 (GQA:
// k and v 128 rows); layer l scored (l * score_mult) % n_layers, LIM l, ZD
// n_layers - l; 1000 other parameters in 16000 bits.
inline Diagnostics toy_diagnostics(int n_layers, int score_mult) {
  Diagnostics d;
  d.model_path = "toy";
  d.architecture = "LlamaForCausalLM";
  d.n_layers = n_layers;
  d.other_params = 1000;
  d.other_bits = 16000;
  for (int l = 0; l < n_layers; ++l) {
    LayerShapes s;
    s.linears = {{256, 256}, {128, 256}, {128, 256}, {256, 256}, {768, 256}, {768, 256}, {256, 768}};
    d.layer_shapes.push_back(s);
    LayerDiagnostics ld;
    ld.layer = l;
    ld.score = double((l * score_mult) % n_layers);
    ld.lim = double(l);
    ld.zd = double(n_layers - l);
    d.layers.push_back(ld);
  }
  return d;
}

}  // namespace lieq::testing
