// AWQ's scales for one decoder layer, searched and folded before the layer is
// quantized (quant/awq.h has the searches).
//
// Order, as the reference implementation: every group's inputs are captured
// in one pass of the float layer, every group's scales are searched on them
// against the float weights, and all are applied before any projection is
// quantized; the driver then quantizes the scaled layer in GPTQ's order, each
// group's clip search on its input with the groups before it quantized.
//
// Folds (y = W x = (W diag(s)) (diag(s)^-1 x)), the model's function unchanged:
//   q/k/v     (input: normed hidden)        attn norm weight / s
//   o         (input: attention output)     v_proj rows (and bias) / s, only when
//                                           n_kv_heads == n_heads (each v row
//                                           feeds one o column; the reference
//                                           skips it otherwise, as here)
//   gate/up   (input: normed hidden)        ffn norm weight / s
//   down      (input: silu(gate) * up)      up_proj rows / s
// A norm or bias is stored in its source dtype (BF16/F16/F32): the folded
// value is rounded to that dtype first and the weight columns are scaled by
// the effective s = old / rounded, so the stored model computes exactly what
// the driver quantized against (a channel whose norm weight is 0, or whose
// rounded value is 0 or not finite, keeps s = 1).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <map>

#include "format/dtype.h"
#include "model/forward.h"
#include "pipeline/options.h"
#include "pipeline/report.h"
#include "quant/awq.h"

namespace lieq {

struct AwqGroupReport {
  Role group = Role::kWq;  // the group's input role: kWq, kWo, kWgate, kWdown
  bool scaled = false;     // false: o with n_kv_heads != n_heads (not scaled)
  double alpha = 0;
  double error = 0;        // group output error at alpha, on the search rows
  double error_plain = 0;  // the same without scales
};

struct AwqLayer {
  LayerWeights scaled;  // the layer with every group's scales folded in
  std::vector<AwqGroupReport> groups;
};

// The quantizer the scale search uses for a projection of the layer.
using FakeQuantizerFor = std::function<FakeQuantizer(Role role)>;

// Searches and folds AWQ's scales for decoder layer `layer` with weights w,
// on its calibration input x [n_seq * seqlen, hidden] (left unchanged), run
// in passes of chunk_rows rows. stored_dtypes: the dtype each folded norm /
// bias is rounded to (F32 when absent).
AwqLayer awq_scale_layer(Forward& fw, const LayerWeights& w, int layer, const float* x,
                         int64_t n_seq, int64_t seqlen, const AwqOptions& awq,
                         int64_t chunk_rows, const std::map<Role, DType>& stored_dtypes,
                         const FakeQuantizerFor& fake_quantizer);
// The same with opt.awq, opt.chunk_rows and opt.stored_dtypes.
inline AwqLayer awq_scale_layer(Forward& fw, const LayerWeights& w, int layer, const float* x,
                                int64_t n_seq, int64_t seqlen, const QuantizeOptions& opt,
                                const FakeQuantizerFor& fake_quantizer) {
  return awq_scale_layer(fw, w, layer, x, n_seq, seqlen, opt.awq, opt.chunk_rows,
                         opt.stored_dtypes, fake_quantizer);
}

// The tensors besides the projections that awq_scale_layer may change (the
// norms and v's bias it folds scales into).
bool awq_folds_into(Role role);

// Sets each report's awq_alpha from its group (reports of layer tensors by HF name).
void set_awq_alphas(const AwqLayer& a, std::vector<TensorReport>& reports);

// v rounded to a float dtype as stored (round to nearest even): F32, F16, BF16.
float round_to_dtype(DType dtype, float v);

}  // namespace lieq
