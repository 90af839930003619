#include "model/forward.h"

#include <algorithm>
#include <cstring>

#include "kernels/gemm.h"
#include "util/error.h"

namespace lieq {

// Query rows per attention work item.
constexpr int64_t kAttnRowBlock = 32;

KVCache::KVCache(const ModelConfig& c, int64_t capacity)
    : capacity_(capacity),
      k_(size_t(c.n_layers), std::vector<float>(size_t(capacity * c.kv_dim()))),
      v_(size_t(c.n_layers), std::vector<float>(size_t(capacity * c.kv_dim()))) {}

Forward::Forward(const ModelConfig& config, ThreadPool* pool)
    : config_(config), pool_(pool), rope_(rope_inv_freq(config), 0) {
  attn_scratch_.resize(size_t(pool_->size()));
}

void Forward::ensure_scratch(int64_t rows, int64_t kv_rows) {
  const ModelConfig& c = config_;
  auto grow = [](std::vector<float>& v, int64_t n) {
    if (int64_t(v.size()) < n) v.resize(size_t(n));
  };
  grow(h_, rows * c.hidden);
  grow(q_, rows * c.q_dim());
  grow(k_, rows * c.kv_dim());
  grow(v_, rows * c.kv_dim());
  grow(att_, rows * c.q_dim());
  grow(gate_, rows * c.intermediate);
  grow(up_, rows * c.intermediate);
  if (int64_t(pos_.size()) < rows) pos_.resize(size_t(rows));
  for (auto& s : attn_scratch_) grow(s, attention_scratch_floats(kAttnRowBlock, kv_rows));
}

void Forward::embed(const ModelWeights& w, const int32_t* tokens, int64_t n, float* x) const {
  const int64_t d = config_.hidden;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t t = tokens[i];
    check(t >= 0 && t < config_.vocab, "token id ", t, " out of range [0, ", config_.vocab, ")");
    tensor_row_to_f32(w.embed, t, x + i * d);  // embed: [vocab, d], float32 or 16-bit
  }
}

// y[rows, out] = x[rows, in] W^T (+ bias)
static void linear(const Tensor& w, const Tensor* bias, const float* x, float* y, int64_t rows) {
  const int64_t n_out = w.rows();
  linear_nt(x, w, y, rows);  // w: [n_out, n_in], float32 or 16-bit
  if (bias && !bias->empty())
    for (int64_t r = 0; r < rows; ++r) add_inplace(y + r * n_out, bias->ptr(), n_out);
}

void Forward::layer(const LayerWeights& lw, int li, float* x, int64_t n_seq, int64_t T,
                    int64_t pos0, KVCache* cache, LayerObserver* obs) {
  const ModelConfig& c = config_;
  const int64_t rows = n_seq * T, d = c.hidden, qd = c.q_dim(), kvd = c.kv_dim();
  const int64_t kv_rows = pos0 + T;
  const int64_t cached_rows = n_seq == 1 ? kv_rows : pos0;  // rows the cache must hold
  check(!cache || cached_rows <= cache->capacity(), "KV cache capacity ",
        cache ? cache->capacity() : 0, " exceeded (", cached_rows, " positions)");
  ensure_scratch(rows, kv_rows);
  rope_.ensure(kv_rows);
  const float eps = float(c.rms_norm_eps);
  const int64_t grain_rows = std::max<int64_t>(1, 16384 / d);

  // Attention block.
  pool_->parallel_for(0, rows, grain_rows, [&](int64_t b, int64_t e, int) {
    rms_norm(x + b * d, lw[Role::kAttnNorm].ptr(), h_.data() + b * d, e - b, d, eps);
  });
  if (obs) {
    obs->on_linear_input(li, Role::kWq, h_.data(), rows, d);
    if (obs->stop_after_input(Role::kWq)) return;
  }
  linear(lw[Role::kWq], &lw[Role::kBq], h_.data(), q_.data(), rows);
  linear(lw[Role::kWk], &lw[Role::kBk], h_.data(), k_.data(), rows);
  linear(lw[Role::kWv], &lw[Role::kBv], h_.data(), v_.data(), rows);
  if (obs) {
    obs->on_projection_output(li, Role::kWq, q_.data(), rows, qd);
    obs->on_projection_output(li, Role::kWk, k_.data(), rows, kvd);
    obs->on_projection_output(li, Role::kWv, v_.data(), rows, kvd);
  }
  if (c.qk_norm) {
    // Per-head RMSNorm: rows of head_dim values.
    rms_norm(q_.data(), lw[Role::kQNorm].ptr(), q_.data(), rows * c.n_heads, c.head_dim, eps);
    rms_norm(k_.data(), lw[Role::kKNorm].ptr(), k_.data(), rows * c.n_kv_heads, c.head_dim, eps);
  }
  for (int64_t r = 0; r < rows; ++r) pos_[size_t(r)] = int32_t(pos0 + r % T);
  rope_.apply(q_.data(), rows, c.n_heads, pos_.data());
  rope_.apply(k_.data(), rows, c.n_kv_heads, pos_.data());

  // Keys/values of sequence s: rows [0, pos0 + T) at kall/vall + s * seq_stride.
  const float* kall = k_.data();
  const float* vall = v_.data();
  int64_t seq_stride = T * kvd;
  if (cache && n_seq == 1) {
    std::memcpy(cache->k(li) + pos0 * kvd, k_.data(), size_t(T * kvd) * sizeof(float));
    std::memcpy(cache->v(li) + pos0 * kvd, v_.data(), size_t(T * kvd) * sizeof(float));
    kall = cache->k(li);
    vall = cache->v(li);
  } else if (cache) {
    // Shared prefix: lay out [prefix keys, own keys] per sequence.
    seq_stride = kv_rows * kvd;
    if (int64_t(kv_seq_.size()) < 2 * n_seq * seq_stride) kv_seq_.resize(size_t(2 * n_seq * seq_stride));
    float* kb = kv_seq_.data();
    float* vb = kv_seq_.data() + n_seq * seq_stride;
    for (int64_t s = 0; s < n_seq; ++s) {
      std::memcpy(kb + s * seq_stride, cache->k(li), size_t(pos0 * kvd) * sizeof(float));
      std::memcpy(vb + s * seq_stride, cache->v(li), size_t(pos0 * kvd) * sizeof(float));
      std::memcpy(kb + s * seq_stride + pos0 * kvd, k_.data() + s * T * kvd, size_t(T * kvd) * sizeof(float));
      std::memcpy(vb + s * seq_stride + pos0 * kvd, v_.data() + s * T * kvd, size_t(T * kvd) * sizeof(float));
    }
    kall = kb;
    vall = vb;
  }
  const AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim, c.sliding_window};
  // Work items: (sequence, head, block of query rows).
  const int64_t row_block = kAttnRowBlock;
  const int64_t n_blocks = (T + row_block - 1) / row_block;
  pool_->parallel_for(0, n_seq * c.n_heads * n_blocks, 1, [&](int64_t b, int64_t e, int thread) {
    float* scratch = attn_scratch_[size_t(thread)].data();
    for (int64_t item = b; item < e; ++item) {
      const int64_t blk = item % n_blocks;
      const int64_t head = (item / n_blocks) % c.n_heads;
      const int64_t s = item / (n_blocks * c.n_heads);
      const int64_t off = s * T;  // query row offset of this sequence
      const int64_t i0 = blk * row_block, i1 = std::min(T, i0 + row_block);
      attention_rows(q_.data() + off * qd, kall + s * seq_stride, vall + s * seq_stride,
                     att_.data() + off * qd, shape, pos0, head, i0, i1, scratch);
    }
  });
  if (obs) {
    obs->on_linear_input(li, Role::kWo, att_.data(), rows, qd);
    if (obs->stop_after_input(Role::kWo)) return;
  }
  linear_nt(att_.data(), lw[Role::kWo], x, rows, /*accumulate=*/true);  // Wo: [d, qd]

  // Feed-forward block (SwiGLU).
  const int64_t f = c.intermediate;
  pool_->parallel_for(0, rows, grain_rows, [&](int64_t b, int64_t e, int) {
    rms_norm(x + b * d, lw[Role::kFfnNorm].ptr(), h_.data() + b * d, e - b, d, eps);
  });
  if (obs) {
    obs->on_linear_input(li, Role::kWgate, h_.data(), rows, d);
    if (obs->stop_after_input(Role::kWgate)) return;
  }
  linear(lw[Role::kWgate], nullptr, h_.data(), gate_.data(), rows);
  linear(lw[Role::kWup], nullptr, h_.data(), up_.data(), rows);
  pool_->parallel_for(0, rows, std::max<int64_t>(1, 16384 / f), [&](int64_t b, int64_t e, int) {
    silu_mul(gate_.data() + b * f, up_.data() + b * f, gate_.data() + b * f, (e - b) * f);
  });
  if (obs) {
    obs->on_linear_input(li, Role::kWdown, gate_.data(), rows, f);
    if (obs->stop_after_input(Role::kWdown)) return;
  }
  linear_nt(gate_.data(), lw[Role::kWdown], x, rows, /*accumulate=*/true);  // Wdown: [d, f]
}

void Forward::final_norm(const ModelWeights& w, float* x, int64_t rows) {
  const int64_t d = config_.hidden;
  pool_->parallel_for(0, rows, std::max<int64_t>(1, 16384 / d), [&](int64_t b, int64_t e, int) {
    rms_norm(x + b * d, w.final_norm.ptr(), x + b * d, e - b, d, float(config_.rms_norm_eps));
  });
}

void Forward::logits(const ModelWeights& w, const float* x_normed, int64_t rows, float* out) {
  linear_nt(x_normed, w.output(), out, rows);  // output: [vocab, hidden]
}

float* Forward::logits_buffer(int64_t n) {
  if (int64_t(logits_buf_.size()) < n) logits_buf_.resize(size_t(n));
  return logits_buf_.data();
}

void Forward::run(const ModelWeights& w, const int32_t* tokens, int64_t n_seq, int64_t T,
                  int64_t pos0, KVCache* cache, std::vector<float>& x, LayerObserver* observer) {
  const int64_t rows = n_seq * T;
  x.resize(size_t(rows * config_.hidden));
  embed(w, tokens, rows, x.data());
  for (int l = 0; l < int(config_.n_layers); ++l)
    layer(w.layers[size_t(l)], l, x.data(), n_seq, T, pos0, cache, observer);
  final_norm(w, x.data(), rows);
  if (cache && n_seq == 1) cache->n_past = pos0 + T;
}

}  // namespace lieq
