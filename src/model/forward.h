// The decoder forward pass on CPU, float32 activations.
//
// Batched prefill: n_seq independent sequences of T tokens each, laid out as
// x[n_seq * T, hidden]; projections are one GEMM over all rows. Incremental
// decoding: n_seq = 1 with a KVCache holding keys/values of earlier positions.
// The pieces (embed, one decoder layer, final norm, logits) are exposed so that
// calibration and diagnostics can run the model layer by layer, swap a layer's
// weights, bypass a layer or observe the inputs of its projections.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "model/weights.h"
#include "util/thread_pool.h"

namespace lieq {

// Keys and values of past positions for one sequence, per layer [capacity, kv_dim].
class KVCache {
 public:
  KVCache(const ModelConfig& c, int64_t capacity);
  int64_t n_past = 0;  // positions stored; set lower to drop a suffix (shared prefixes)
  int64_t capacity() const { return capacity_; }
  float* k(int64_t layer) { return k_[size_t(layer)].data(); }
  float* v(int64_t layer) { return v_[size_t(layer)].data(); }

 private:
  int64_t capacity_;
  std::vector<std::vector<float>> k_, v_;
};

// Receives activations while a layer runs (calibration, diagnostics).
class LayerObserver {
 public:
  virtual ~LayerObserver() = default;
  // Input of the projections of a group: kWq (shared by q, k, v), kWo,
  // kWgate (shared by gate, up), kWdown. x: [rows, cols].
  virtual void on_linear_input(int layer, Role group, const float* x, int64_t rows,
                               int64_t cols) {
    (void)layer, (void)group, (void)x, (void)rows, (void)cols;
  }
  // Return true to end the layer right after this group's input was observed
  // (x is then left partially updated; used to capture inputs cheaply).
  virtual bool stop_after_input(Role group) {
    (void)group;
    return false;
  }
  // Output of projection kWq/kWk/kWv (bias added, before q/k norm and RoPE), [rows, cols].
  virtual void on_projection_output(int layer, Role role, const float* y, int64_t rows,
                                    int64_t cols) {
    (void)layer, (void)role, (void)y, (void)rows, (void)cols;
  }
};

class Forward {
 public:
  explicit Forward(const ModelConfig& config, ThreadPool* pool = &ThreadPool::global());

  const ModelConfig& config() const { return config_; }

  // x[n, hidden] = embedding rows of tokens.
  void embed(const ModelWeights& w, const int32_t* tokens, int64_t n, float* x) const;

  // Applies one decoder layer in place to x[n_seq * T, hidden]. Every sequence
  // starts at position pos0. With a cache, keys/values of positions [0, pos0)
  // come from the cache: with n_seq == 1 the new ones are appended to it; with
  // n_seq > 1 the cache is a shared prefix of every sequence and stays unchanged.
  void layer(const LayerWeights& lw, int layer_index, float* x, int64_t n_seq, int64_t T,
             int64_t pos0, KVCache* cache = nullptr, LayerObserver* observer = nullptr);

  // Final RMSNorm in place on x[rows, hidden].
  void final_norm(const ModelWeights& w, float* x, int64_t rows);
  // logits[rows, vocab] = x_normed[rows, hidden] * output^T.
  void logits(const ModelWeights& w, const float* x_normed, int64_t rows, float* out);

  // Frees the activation scratch (grown again by the next call), for callers
  // that keep the Forward through long work needing the memory (GPTQ's sweep
  // of a layer between its forward passes).
  void release_scratch() {
    for (std::vector<float>* v : {&h_, &q_, &k_, &v_, &att_, &gate_, &up_, &kv_seq_})
      std::vector<float>().swap(*v);
    for (auto& s : attn_scratch_) std::vector<float>().swap(s);
  }

  // A buffer of at least n floats owned by this Forward and reused across calls
  // (logits of a row chunk), so evaluation loops allocate nothing per batch.
  float* logits_buffer(int64_t n);

  // All layers then the final norm: x becomes the normed hidden states [n_seq * T, hidden].
  void run(const ModelWeights& w, const int32_t* tokens, int64_t n_seq, int64_t T, int64_t pos0,
           KVCache* cache, std::vector<float>& x, LayerObserver* observer = nullptr);

 private:
  void ensure_scratch(int64_t rows, int64_t kv_rows);

  ModelConfig config_;
  ThreadPool* pool_;
  RopeTable rope_;
  // Scratch, grown on demand and reused across calls.
  std::vector<float> h_;     // [rows, hidden] normed input
  std::vector<float> q_;     // [rows, q_dim]
  std::vector<float> k_;     // [rows, kv_dim]
  std::vector<float> v_;     // [rows, kv_dim]
  std::vector<float> att_;   // [rows, q_dim]
  std::vector<float> gate_;  // [rows, intermediate]
  std::vector<float> up_;    // [rows, intermediate]
  std::vector<int32_t> pos_;
  std::vector<float> kv_seq_;  // [n_seq, 2, pos0 + T, kv_dim] prefix + own keys/values
  std::vector<std::vector<float>> attn_scratch_;  // per thread [kv_rows]
  std::vector<float> logits_buf_;                 // see logits_buffer()
};

}  // namespace lieq
