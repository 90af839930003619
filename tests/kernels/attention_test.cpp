// attention_rows (the fast path, run over every head and in row blocks) against
// attention_ref, for grouped-query shapes, head dims that are odd multiples of
// 8, a cache-like layout (pos0 > 0: k/v hold pos0 + n_q rows) and sliding
// windows; the fused (online softmax) path against attention_ref on odd head
// dims and keys crossing several key blocks; the dispatch at long contexts;
// the reference itself against hand-checkable cases; dot_f32 and axpy_f32
// against double loops.
#include <gtest/gtest.h>

#include "test_support.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/attention.h"

namespace lieq {
namespace {

using testing::random_vec;

struct AttnCase {
  int64_t n_heads, n_kv_heads, head_dim, pos0, n_q, window;
};

using RowsFn = void (*)(const float*, const float*, const float*, float*, const AttentionShape&,
                        int64_t, int64_t, int64_t, int64_t, float*);

// Runs `rows_fn` over all heads, rows split into blocks of `block`, with
// scratch_floats(rows of a block) floats of scratch.
template <class ScratchFloats>
std::vector<float> run_blocks(const AttnCase& c, const std::vector<float>& q,
                              const std::vector<float>& k, const std::vector<float>& v,
                              int64_t block, RowsFn rows_fn, ScratchFloats scratch_floats) {
  const AttentionShape s{c.n_heads, c.n_kv_heads, c.head_dim, c.window};
  std::vector<float> out(size_t(c.n_q * c.n_heads * c.head_dim), NAN);
  // Scratch is poisoned so stale values from an earlier row would show.
  std::vector<float> scratch(size_t(scratch_floats(std::min<int64_t>(block, c.n_q))), NAN);
  for (int64_t h = 0; h < c.n_heads; ++h)
    for (int64_t i = 0; i < c.n_q; i += block)
      rows_fn(q.data(), k.data(), v.data(), out.data(), s, c.pos0, h, i,
              std::min(c.n_q, i + block), scratch.data());
  return out;
}

// Runs attention_rows (the dispatch) over all heads, rows split into blocks of `block`.
std::vector<float> run_rows(const AttnCase& c, const std::vector<float>& q,
                            const std::vector<float>& k, const std::vector<float>& v,
                            int64_t block) {
  return run_blocks(c, q, k, v, block, attention_rows,
                    [&](int64_t rows) { return attention_scratch_floats(rows, c.pos0 + c.n_q); });
}

// Runs attention_rows_fused over all heads, rows split into blocks of `block`.
std::vector<float> run_fused(const AttnCase& c, const std::vector<float>& q,
                             const std::vector<float>& k, const std::vector<float>& v,
                             int64_t block) {
  return run_blocks(c, q, k, v, block, attention_rows_fused, attention_fused_scratch_floats);
}

// Random q, k, v for case c (k/v hold pos0 + n_q rows) and attention_ref's output.
struct AttnData {
  std::vector<float> q, k, v, ref;
};
AttnData make_case(const AttnCase& c, uint32_t seed) {
  const int64_t kv_rows = c.pos0 + c.n_q;
  AttnData d;
  d.q = random_vec(size_t(c.n_q * c.n_heads * c.head_dim), seed);
  d.k = random_vec(size_t(kv_rows * c.n_kv_heads * c.head_dim), seed + 1);
  d.v = random_vec(size_t(kv_rows * c.n_kv_heads * c.head_dim), seed + 2);
  d.ref.assign(d.q.size(), NAN);
  const AttentionShape s{c.n_heads, c.n_kv_heads, c.head_dim, c.window};
  attention_ref(d.q.data(), d.k.data(), d.v.data(), d.ref.data(), s, c.pos0, c.n_q);
  return d;
}

TEST(Attention, RowsMatchReference) {
  // Outputs are convex combinations of v rows (|v| <= 1); float32 scores of
  // length head_dim <= 48 with |q|, |k| <= 1 are accurate to ~1e-6, so 2e-5
  // absolute leaves a wide margin while any indexing error is O(0.1).
  const double tol = 2e-5;
  const std::vector<AttnCase> cases = {
      {1, 1, 8, 0, 1, 0},    {4, 4, 8, 0, 9, 0},    {4, 1, 24, 0, 13, 0},  // MQA
      {6, 2, 24, 5, 7, 0},   {8, 2, 48, 0, 17, 0},  {6, 3, 40, 11, 1, 0},  // decode step
      {4, 2, 56, 3, 10, 1},  {4, 2, 24, 0, 16, 4},  {6, 2, 8, 20, 9, 7},   // windows
      {2, 1, 48, 30, 5, 64}, {3, 3, 72, 2, 33, 5},  {8, 4, 24, 100, 3, 0},
  };
  uint32_t seed = 7;
  for (const AttnCase& c : cases) {
    const int64_t kv_rows = c.pos0 + c.n_q;
    const auto q = random_vec(size_t(c.n_q * c.n_heads * c.head_dim), seed++);
    const auto k = random_vec(size_t(kv_rows * c.n_kv_heads * c.head_dim), seed++);
    const auto v = random_vec(size_t(kv_rows * c.n_kv_heads * c.head_dim), seed++);
    const AttentionShape s{c.n_heads, c.n_kv_heads, c.head_dim, c.window};
    std::vector<float> ref(q.size(), NAN);
    attention_ref(q.data(), k.data(), v.data(), ref.data(), s, c.pos0, c.n_q);
    for (int64_t block : {int64_t(1), int64_t(3), c.n_q}) {
      const std::vector<float> out = run_rows(c, q, k, v, block);
      for (size_t i = 0; i < out.size(); ++i)
        ASSERT_NEAR(out[i], ref[i], tol)
            << "heads " << c.n_heads << "/" << c.n_kv_heads << " hd " << c.head_dim << " pos0 "
            << c.pos0 << " n_q " << c.n_q << " window " << c.window << " block " << block
            << " index " << i;
    }
  }
}

TEST(Attention, FusedMatchesReference) {
  // Tolerance as in RowsMatchReference: outputs are convex combinations of v
  // rows (|v| <= 1) and float32 scores of head_dim <= 80 values in [-1, 1] are
  // accurate to ~1e-6 after the 1/sqrt(head_dim) scale; the online softmax adds
  // one rescale per key block (~1e-7 relative each, <= 4 blocks here).
  const double tol = 2e-5;
  const int64_t kb = kAttnKeyBlock;
  const std::vector<AttnCase> cases = {
      // heads, kv heads, head_dim, pos0, n_q, window
      {4, 1, 7, 0, 1, 0},                  // one key
      {4, 1, 7, 2 * kb + 13, 5, 0},        // decode-like rows behind 3 key blocks
      {6, 2, 64, kb - 3, 33, 0},           // the row block crosses a key-block edge
      {6, 2, 80, 3 * kb + 41, 100, 0},     // 4+ key blocks, 100 rows
      {4, 1, 64, 0, 100, 0},               // no prefix, causal mask inside key blocks
      {6, 2, 7, 2 * kb + 5, 33, kb / 2 + 3},   // window smaller than a key block
      {4, 1, 80, 3 * kb + 1, 5, kb + 37},      // window larger than a key block
      {6, 2, 64, kb + 9, 100, 1},              // window 1: each row sees only itself
      {4, 1, 7, 11, 100, 2 * kb - 1},          // window beyond the prefix for early rows
  };
  uint32_t seed = 101;
  for (const AttnCase& c : cases) {
    const AttnData d = make_case(c, seed);
    seed += 3;
    for (int64_t block : {int64_t(32), c.n_q}) {
      const std::vector<float> out = run_fused(c, d.q, d.k, d.v, block);
      for (size_t i = 0; i < out.size(); ++i)
        ASSERT_NEAR(out[i], d.ref[i], tol)
            << "heads " << c.n_heads << "/" << c.n_kv_heads << " hd " << c.head_dim << " pos0 "
            << c.pos0 << " n_q " << c.n_q << " window " << c.window << " block " << block
            << " index " << i;
    }
  }
}

TEST(Attention, FusedLargeScoresDoNotOverflow) {
  // Scores of order 1e3 that grow along the keys: the running max is raised
  // in every key block and the earlier blocks' terms rescaled (to ~0).
  const AttnCase c{2, 1, 16, 3 * kAttnKeyBlock, 4, 0};
  const int64_t kv_rows = c.pos0 + c.n_q;
  const auto q = random_vec(size_t(c.n_q * 2 * 16), 1, 30.0f);
  auto k = random_vec(size_t(kv_rows * 16), 2, 30.0f);
  for (int64_t j = 0; j < kv_rows; ++j)
    for (int64_t d = 0; d < 16; ++d) k[size_t(j * 16 + d)] *= float(j + 1) / float(kv_rows);
  const auto v = random_vec(size_t(kv_rows * 16), 3);
  const AttentionShape s{2, 1, 16, 0};
  std::vector<float> ref(q.size());
  attention_ref(q.data(), k.data(), v.data(), ref.data(), s, c.pos0, c.n_q);
  const auto out = run_fused(c, q, k, v, 4);
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(std::isfinite(out[i])) << i;
    ASSERT_NEAR(out[i], ref[i], 1e-3) << i;  // scores ~1e3 carry ~1e-4 relative rounding
  }
}

TEST(Attention, DispatchAtLongContextMatchesReference) {
  // attention_rows with the scratch forward.cpp gives it (attention_scratch_floats
  // of 32 rows and every key): row blocks below the fused threshold take the
  // materialised path, the others the fused one.
  const double tol = 2e-5;
  const int64_t t = kAttnMaterializedMaxKeys;
  const std::vector<AttnCase> cases = {
      {4, 2, 64, t - 32, 96, 0},           // row block 0 sees exactly t keys (materialised),
                                           // blocks 1 and 2 more (fused)
      {4, 1, 64, 3000 - 40, 40, 0},        // 3000 keys
      {6, 2, 80, 3000 - 33, 33, t + 100},  // a window above the threshold
  };
  uint32_t seed = 301;
  for (const AttnCase& c : cases) {
    const AttnData d = make_case(c, seed);
    seed += 3;
    const std::vector<float> out = run_rows(c, d.q, d.k, d.v, 32);
    for (size_t i = 0; i < out.size(); ++i)
      ASSERT_NEAR(out[i], d.ref[i], tol)
          << "pos0 " << c.pos0 << " n_q " << c.n_q << " window " << c.window << " index " << i;
  }
}

TEST(Attention, ScratchIsBoundedForLongContexts) {
  // Up to the threshold the materialised rows * keys; above it a bound that
  // does not grow with the context, at least the fused path's need.
  EXPECT_EQ(attention_scratch_floats(32, 100), 32 * 100);
  const int64_t bound = attention_scratch_floats(32, kAttnMaterializedMaxKeys);
  EXPECT_EQ(bound, 32 * kAttnMaterializedMaxKeys);
  EXPECT_GE(bound, attention_fused_scratch_floats(32));
  EXPECT_EQ(attention_scratch_floats(32, kAttnMaterializedMaxKeys + 1), bound);
  EXPECT_EQ(attention_scratch_floats(32, 32768), bound);
  EXPECT_EQ(attention_scratch_floats(32, int64_t(1) << 20), bound);
}

TEST(Attention, LargeScoresDoNotOverflow) {
  // |q.k| / sqrt(hd) of order 1e3: softmax must subtract the max.
  const AttnCase c{2, 1, 16, 4, 4, 0};
  auto q = random_vec(size_t(c.n_q * 2 * 16), 1, 30.0f);
  auto k = random_vec(size_t(8 * 16), 2, 30.0f);
  const auto v = random_vec(size_t(8 * 16), 3);
  const AttentionShape s{2, 1, 16, 0};
  std::vector<float> ref(q.size());
  attention_ref(q.data(), k.data(), v.data(), ref.data(), s, c.pos0, c.n_q);
  const auto out = run_rows(c, q, k, v, 2);
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(std::isfinite(out[i])) << i;
    ASSERT_NEAR(out[i], ref[i], 1e-3) << i;  // scores ~1e3 carry ~1e-4 relative rounding
  }
}

// Checks of the reference that need no other implementation.
TEST(Attention, ReferenceHandCases) {
  const int64_t hd = 8;
  const AttentionShape s{2, 1, hd, 0};
  const auto q = random_vec(size_t(3 * 2 * hd), 5);
  const auto k = random_vec(size_t(3 * hd), 6);
  const auto v = random_vec(size_t(3 * hd), 7);
  std::vector<float> out(q.size());
  attention_ref(q.data(), k.data(), v.data(), out.data(), s, 0, 3);
  // Row 0 sees only key 0: its output is v[0] for both heads.
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t c = 0; c < hd; ++c) EXPECT_NEAR(out[size_t(h * hd + c)], v[size_t(c)], 1e-7);
  // Row 2, head 1, written out: softmax(q.k / sqrt(8)) over keys 0..2.
  double w[3], sum = 0;
  for (int j = 0; j < 3; ++j) {
    double d = 0;
    for (int64_t c = 0; c < hd; ++c) d += double(q[size_t(2 * 2 * hd + hd + c)]) * k[size_t(j * hd + c)];
    sum += (w[j] = std::exp(d / std::sqrt(8.0)));
  }
  for (int64_t c = 0; c < hd; ++c) {
    double o = 0;
    for (int j = 0; j < 3; ++j) o += w[j] / sum * v[size_t(j * hd + c)];
    EXPECT_NEAR(out[size_t(2 * 2 * hd + hd + c)], o, 1e-6);
  }
  // Window 1: every row sees only itself, so the output is its own v row.
  const AttentionShape s1{2, 1, hd, 1};
  attention_ref(q.data(), k.data(), v.data(), out.data(), s1, 0, 3);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t c = 0; c < hd; ++c)
        EXPECT_NEAR(out[size_t((i * 2 + h) * hd + c)], v[size_t(i * hd + c)], 1e-7);
}

TEST(Attention, GroupedHeadsReadTheirKvHead) {
  // 4 query heads on 2 kv heads: heads 0,1 read kv head 0 and heads 2,3 kv head 1.
  // With one key position the output of head h is exactly v of its kv head.
  const int64_t hd = 8;
  const AttentionShape s{4, 2, hd, 0};
  const auto q = random_vec(size_t(4 * hd), 1);
  const auto k = random_vec(size_t(2 * hd), 2);
  const auto v = random_vec(size_t(2 * hd), 3);
  std::vector<float> out(q.size()), scratch(size_t(attention_scratch_floats(1, 1)));
  for (int64_t h = 0; h < 4; ++h)
    attention_rows(q.data(), k.data(), v.data(), out.data(), s, 0, h, 0, 1, scratch.data());
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t c = 0; c < hd; ++c)
      EXPECT_NEAR(out[size_t(h * hd + c)], v[size_t((h / 2) * hd + c)], 1e-6) << h;
}

TEST(Attention, RowsOnlyWriteTheirHeadAndRows) {
  // 4 heads / 2 kv heads, head_dim 24, pos0 2, 6 query rows; compute head 1, rows [2, 4).
  const auto q = random_vec(size_t(6 * 4 * 24), 1);
  const auto k = random_vec(size_t(8 * 2 * 24), 2);
  const auto v = random_vec(size_t(8 * 2 * 24), 3);
  const AttentionShape s{4, 2, 24, 0};
  std::vector<float> out(q.size(), -99.0f), scratch(size_t(attention_scratch_floats(2, 6)));
  attention_rows(q.data(), k.data(), v.data(), out.data(), s, 2, /*head=*/1, 2, 4, scratch.data());
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t h = 0; h < 4; ++h)
      for (int64_t d = 0; d < 24; ++d) {
        const float x = out[size_t((i * 4 + h) * 24 + d)];
        if (h == 1 && i >= 2 && i < 4)
          EXPECT_NE(x, -99.0f);
        else
          EXPECT_EQ(x, -99.0f) << "i=" << i << " h=" << h;
      }
}

TEST(DotAxpy, DotMatchesDoubleOnLengths1To100) {
  // Bound: |float dot - exact| <= n * 2^-24 * sum |a_i b_i| (+ a denormal-free
  // slack); the test allows 2x that.
  for (int64_t n = 1; n <= 100; ++n) {
    const auto a = random_vec(size_t(n) + 1, uint32_t(n), 3.0f);
    const auto b = random_vec(size_t(n) + 1, uint32_t(1000 + n), 3.0f);
    for (int64_t off : {0, 1}) {  // also from an unaligned start
      double exact = 0, abs_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        exact += double(a[size_t(i + off)]) * double(b[size_t(i + off)]);
        abs_sum += std::fabs(double(a[size_t(i + off)]) * double(b[size_t(i + off)]));
      }
      const float got = dot_f32(a.data() + off, b.data() + off, n);
      ASSERT_NEAR(got, exact, 2.0 * double(n) * std::ldexp(1.0, -24) * abs_sum + 1e-30)
          << "n=" << n << " off=" << off;
    }
  }
  EXPECT_EQ(dot_f32(nullptr, nullptr, 0), 0.0f);
}

TEST(DotAxpy, AxpyMatchesDoubleOnLengths1To100) {
  for (int64_t n = 1; n <= 100; ++n) {
    const auto x = random_vec(size_t(n) + 2, uint32_t(n), 2.0f);
    const auto y0 = random_vec(size_t(n) + 2, uint32_t(500 + n), 2.0f);
    const float alpha = -0.37f;
    std::vector<float> y = y0;
    axpy_f32(alpha, x.data() + 1, y.data() + 1, n);
    EXPECT_EQ(y[0], y0[0]);
    EXPECT_EQ(y[size_t(n) + 1], y0[size_t(n) + 1]) << "wrote past the end, n=" << n;
    for (int64_t i = 1; i <= n; ++i) {
      const double exact = double(y0[size_t(i)]) + double(alpha) * double(x[size_t(i)]);
      // Two roundings at most (product, sum): 2 * 2^-24 * (|y| + |alpha x|).
      const double bound = 2.0 * std::ldexp(1.0, -24) *
                           (std::fabs(double(y0[size_t(i)])) + std::fabs(double(alpha) * x[size_t(i)]));
      ASSERT_NEAR(y[size_t(i)], exact, bound + 1e-30) << "n=" << n << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace lieq
