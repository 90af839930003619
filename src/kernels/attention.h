// Causal scaled-dot-product attention with grouped-query heads.
//
// Layout: q rows hold n_heads * head_dim values, k and v rows hold
// n_kv_heads * head_dim values. Query row i (i in [0, n_q)) sits at position
// pos0 + i and sees key rows [max(0, pos0 + i - window + 1), pos0 + i]
// (window 0 = unlimited). Query head h reads kv head h / (n_heads / n_kv_heads).
#pragma once

#include <cstdint>

namespace lieq {

struct AttentionShape {
  int64_t n_heads, n_kv_heads, head_dim;
  int64_t window = 0;
};

// Computes out rows [i_begin, i_end) of head `head` with two GEMMs (scores
// of the row block against its visible keys, then probabilities times values).
// scratch: at least attention_scratch_floats(i_end - i_begin, pos0 + i_end) floats.
void attention_rows(const float* q, const float* k, const float* v, float* out,
                    const AttentionShape& s, int64_t pos0, int64_t head, int64_t i_begin,
                    int64_t i_end, float* scratch);

inline int64_t attention_scratch_floats(int64_t n_rows, int64_t n_keys) { return n_rows * n_keys; }

// Scalar reference over all heads and rows (double accumulation).
void attention_ref(const float* q, const float* k, const float* v, float* out,
                   const AttentionShape& s, int64_t pos0, int64_t n_q);

// Dot product and axpy used by the attention rows, exposed for tests.
float dot_f32(const float* a, const float* b, int64_t n);
void axpy_f32(float alpha, const float* x, float* y, int64_t n);

}  // namespace lieq
