// Causal scaled-dot-product attention with grouped-query heads.
//
// Layout: q rows hold n_heads * head_dim values, k and v rows hold
// n_kv_heads * head_dim values. Query row i (i in [0, n_q)) sits at position
// pos0 + i and sees key rows [max(0, pos0 + i - window + 1), pos0 + i]
// (window 0 = unlimited). Query head h reads kv head h / (n_heads / n_kv_heads).
//
// Two implementations of one row block of one head:
//   materialised  scores [rows, n_visible] in scratch, softmax, P V: two GEMMs.
//                 A few % faster (bench_attention); scratch grows with the keys.
//   fused         keys in blocks of kAttnKeyBlock with an online softmax
//                 (running max and sum per row, the output rescaled when the
//                 max grows), accumulating P_blk V_blk into out directly:
//                 scratch rows * (kAttnKeyBlock + 2) floats for any context.
// attention_rows picks by the row block's visible key count.
#pragma once

#include <algorithm>
#include <cstdint>

namespace lieq {

struct AttentionShape {
  int64_t n_heads, n_kv_heads, head_dim;
  int64_t window = 0;
};

// Keys per block of the fused path.
constexpr int64_t kAttnKeyBlock = 256;
// A row block seeing at most this many keys takes the materialised path, one
// seeing more the fused one. bench/bench_attention (one core, 32 rows, head_dim
// 64 and 128): the fused path takes 1.00-1.08x the materialised time at every
// key count from 256 to 16384 (OpenBLAS packs each key block's operands per
// call), and the materialised path slows per key no more than the fused one as
// its scratch grows. So the threshold bounds memory, not time: contexts up to
// 2048 (ppl's default) run as before, and a thread's scratch stays at
// 32 rows * 2048 keys * 4 bytes = 256 KiB for any context (4 MiB at 32k keys
// before; the bench machine's L2 is 1 MiB per core).
constexpr int64_t kAttnMaterializedMaxKeys = 2048;

// Floats of scratch attention_rows_fused needs for n_rows query rows.
inline int64_t attention_fused_scratch_floats(int64_t n_rows) {
  return n_rows * (kAttnKeyBlock + 2);  // probabilities [rows, key block], max [rows], sum [rows]
}

// Floats of scratch attention_rows needs for up to n_rows query rows seeing
// up to n_keys keys: the materialised path's rows * keys, at most
// rows * kAttnMaterializedMaxKeys (which covers the fused path) for any context.
static_assert(kAttnMaterializedMaxKeys >= kAttnKeyBlock + 2);
inline int64_t attention_scratch_floats(int64_t n_rows, int64_t n_keys) {
  return n_rows * std::min(n_keys, kAttnMaterializedMaxKeys);
}

// Computes out rows [i_begin, i_end) of head `head`, by the materialised path
// when the block sees at most kAttnMaterializedMaxKeys keys, else the fused one.
// scratch: at least attention_scratch_floats(i_end - i_begin, pos0 + i_end) floats.
void attention_rows(const float* q, const float* k, const float* v, float* out,
                    const AttentionShape& s, int64_t pos0, int64_t head, int64_t i_begin,
                    int64_t i_end, float* scratch);

// The materialised path at any size.
// scratch: at least (i_end - i_begin) * (pos0 + i_end) floats.
void attention_rows_materialized(const float* q, const float* k, const float* v, float* out,
                                 const AttentionShape& s, int64_t pos0, int64_t head,
                                 int64_t i_begin, int64_t i_end, float* scratch);

// The fused path at any size.
// scratch: at least attention_fused_scratch_floats(i_end - i_begin) floats.
void attention_rows_fused(const float* q, const float* k, const float* v, float* out,
                          const AttentionShape& s, int64_t pos0, int64_t head, int64_t i_begin,
                          int64_t i_end, float* scratch);

// Scalar reference over all heads and rows (double accumulation).
void attention_ref(const float* q, const float* k, const float* v, float* out,
                   const AttentionShape& s, int64_t pos0, int64_t n_q);

// Dot product and axpy used by the attention rows, exposed for tests.
float dot_f32(const float* a, const float* b, int64_t n);
void axpy_f32(float alpha, const float* x, float* y, int64_t n);

}  // namespace lieq
