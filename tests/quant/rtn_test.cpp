// Round-to-nearest quantization: codes and parameters agree with
// group_params / quantize_value group by group, a group size that does not
// divide the row (stories260K's 172 columns), the MSE clipping search
// (never worse than no clipping, clips outliers, finds the grid's best), and
// input errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "expect_error.h"
#include "io/safetensors.h"
#include "model/tensor_f32.h"
#include "quant/rtn.h"
#include "test_support.h"
#include "util/half.h"

namespace lieq {
namespace {

using testing::normal_matrix;

// Checks every code and parameter of an RTN result against group_params.
void expect_matches_group_params(const std::vector<float>& w, int64_t rows, int64_t cols,
                                 const QuantSpec& s, const QuantizedTensor& t) {
  ASSERT_EQ(t.rows, rows);
  ASSERT_EQ(t.cols, cols);
  const int64_t gc = s.group_cols(cols), ng = s.n_groups(cols);
  ASSERT_EQ(t.n_groups(), ng);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < ng; ++g) {
      const int64_t c0 = g * gc, len = std::min(gc, cols - c0);
      const GroupParams p = group_params(w.data() + r * cols + c0, len, s);
      ASSERT_EQ(f16_to_f32(t.scales[size_t(r * ng + g)]), p.scale) << s.name() << " group " << g;
      if (!s.symmetric) {
        ASSERT_EQ(f16_to_f32(t.zeros[size_t(r * ng + g)]), p.zero);
      }
      for (int64_t c = c0; c < c0 + len; ++c)
        ASSERT_EQ(t.code(r, c), quantize_value(w[size_t(r * cols + c)], p, s.maxq()))
            << s.name() << " at " << r << "," << c;
    }
}

TEST(RtnTest, CodesAndParamsMatchGroupParams) {
  const int64_t rows = 7, cols = 172;
  const std::vector<float> w = normal_matrix(rows, cols, 21, 0.02f);
  for (const QuantSpec& s : {QuantSpec{3, 128, false}, QuantSpec{4, 32, true},
                             QuantSpec{2, 0, false}, QuantSpec{8, 64, false},
                             QuantSpec{5, 16, true}, QuantSpec{6, 1024, false}}) {
    const QuantizedTensor t = quantize_rtn(w.data(), rows, cols, s);
    expect_matches_group_params(w, rows, cols, s, t);
  }
}

// A row of 172 columns in groups of 128 has a last group of 44; its
// parameters must come from those 44 values only.
void check_partial_groups(const std::vector<float>& w, int64_t rows, int64_t cols) {
  ASSERT_EQ(cols % 128, 44);
  for (const QuantSpec& s : {QuantSpec{3, 128, false}, QuantSpec{2, 128, true},
                             QuantSpec{4, 32, false}, QuantSpec{4, 0, false}}) {
    const QuantizedTensor t = quantize_rtn(w.data(), rows, cols, s);
    expect_matches_group_params(w, rows, cols, s, t);
    const std::vector<float> back = t.dequantize();
    const int64_t gc = s.group_cols(cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t gi = r * t.n_groups() + c / gc;
        const double sc = f16_to_f32(t.scales[size_t(gi)]);
        const double bound = sc * (0.5 + s.maxq() / 2048.0) + 1e-6;
        ASSERT_LE(std::fabs(double(back[size_t(r * cols + c)]) - w[size_t(r * cols + c)]), bound)
            << s.name() << " at " << r << "," << c;
      }
  }
  EXPECT_DOUBLE_EQ((QuantSpec{3, 128, false}.bits_per_weight(rows, cols)),
                   3.0 + 2.0 * 32.0 / double(cols));
}

TEST(RtnTest, PartialLastGroupRandom) {
  check_partial_groups(normal_matrix(64, 172, 5, 0.05f), 64, 172);
}

TEST(RtnTest, PartialLastGroupStories260K) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  const TensorStore store(dir);
  const TensorView& t = store.get("model.layers.0.mlp.down_proj.weight");
  ASSERT_EQ(t.shape, (std::vector<int64_t>{64, 172}));
  check_partial_groups(tensor_to_f32(t), 64, 172);
}

TEST(RtnTest, RowsAreIndependentOfChunking) {
  // The pool splits rows; quantizing each row alone gives the same bytes.
  const int64_t rows = 33, cols = 96;
  const std::vector<float> w = normal_matrix(rows, cols, 8);
  const QuantSpec s{3, 32, false};
  const QuantizedTensor all = quantize_rtn(w.data(), rows, cols, s);
  for (int64_t r = 0; r < rows; ++r) {
    const QuantizedTensor one = quantize_rtn(w.data() + r * cols, 1, cols, s);
    ASSERT_EQ(one.codes, std::vector<uint8_t>(all.codes.begin() + r * all.row_bytes(),
                                              all.codes.begin() + (r + 1) * all.row_bytes()));
    ASSERT_EQ(one.scales[0], all.scales[size_t(r * 3)]);
  }
}

// sum |x - x'|^norm in double with std::pow: the search's objective, exactly.
double group_error(const float* x, int64_t n, const GroupParams& p, int maxq, double norm) {
  double e = 0;
  for (int64_t i = 0; i < n; ++i)
    e += std::pow(std::fabs(double(x[i]) - double(dequantize_value(quantize_value(x[i], p, maxq), p))),
                  norm);
  return e;
}

TEST(RtnTest, MseClipSearchFindsTheGridBest) {
  const RtnOptions opt{true, 100, 0.2f, 2.4f};
  std::mt19937 rng(99);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  int clipped = 0, n_groups = 0;
  for (int bits : {2, 3, 4})
    for (bool sym : {false, true})
      for (int trial = 0; trial < 20; ++trial) {
        const QuantSpec s{bits, 128, sym};
        std::vector<float> x(128);
        for (float& v : x) v = nd(rng);
        if (trial % 2 == 0) x[size_t(trial)] = 12.0f;  // an outlier
        const GroupParams full = group_params(x.data(), 128, s);
        const GroupParams best = search_group_params(x.data(), 128, s, opt);
        const double e_full = group_error(x.data(), 128, full, s.maxq(), 2.4);
        const double e_best = group_error(x.data(), 128, best, s.maxq(), 2.4);
        EXPECT_LE(e_best, e_full * (1 + 1e-5));
        // Brute force over the same grid of ratios (1 down to 0.2 included).
        double e_grid = e_full;
        for (int i = 1; i <= 80; ++i) {
          const GroupParams p = group_params(x.data(), 128, s, float(1.0 - i / 100.0));
          e_grid = std::min(e_grid, group_error(x.data(), 128, p, s.maxq(), 2.4));
        }
        EXPECT_LE(e_best, e_grid * (1 + 1e-4)) << s.name() << " trial " << trial;
        if (best.scale < full.scale) ++clipped;
        ++n_groups;
      }
  // Gaussian groups at 2-4 bits are best clipped (with or without an outlier).
  std::printf("  clip < 1 chosen for %d of %d groups\n", clipped, n_groups);
  EXPECT_GT(clipped, n_groups / 2);
}

TEST(RtnTest, MseClipLowersTheError) {
  const int64_t rows = 16, cols = 256;
  const std::vector<float> w = normal_matrix(rows, cols, 4);
  for (const QuantSpec& s : {QuantSpec{2, 64, false}, QuantSpec{3, 128, true}, QuantSpec{4, 0, false}}) {
    RtnOptions opt;
    const QuantizedTensor plain = quantize_rtn(w.data(), rows, cols, s, opt);
    opt.mse_clip = true;
    const QuantizedTensor clip = quantize_rtn(w.data(), rows, cols, s, opt);
    const std::vector<float> a = plain.dequantize(), b = clip.dequantize();
    double ea = 0, eb = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      ea += std::pow(std::fabs(double(a[i]) - w[i]), 2.4);
      eb += std::pow(std::fabs(double(b[i]) - w[i]), 2.4);
    }
    EXPECT_LT(eb, ea) << s.name();
    EXPECT_NE(plain.scales, clip.scales) << s.name();
  }
}

TEST(RtnTest, RejectsBadInput) {
  std::vector<float> w = normal_matrix(3, 40, 1);
  w[size_t(2 * 40 + 17)] = std::nanf("");
  EXPECT_LIEQ_ERROR(quantize_rtn(w.data(), 3, 40, QuantSpec{4, 32, false}), "quantize_rtn",
                    "[2, 17]");
  EXPECT_LIEQ_ERROR(quantize_rtn(w.data(), 3, 40, QuantSpec{7, 32, false}), "quantize_rtn",
                    "bits 7");
  w[size_t(2 * 40 + 17)] = 0.0f;
  RtnOptions opt;
  opt.mse_clip = true;
  opt.clip_grid = 0;
  EXPECT_LIEQ_ERROR(quantize_rtn(w.data(), 3, 40, QuantSpec{4, 32, false}, opt), "clip grid 0");
  opt.clip_grid = 100;
  opt.min_clip = 0.0f;
  EXPECT_LIEQ_ERROR(quantize_rtn(w.data(), 3, 40, QuantSpec{4, 32, false}, opt),
                    "smallest clip ratio");
}

}  // namespace
}  // namespace lieq
