// AWQ's searches on synthetic data: the scales' normalisation (alpha = 0 is
// s = 1), the scale search lowering a group's output error below plain RTN on
// held-out rows when a few input channels carry 20x outliers, and the clip
// search: never worse than plain RTN on the output error, RTN itself without
// clipping, bad inputs refused.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "expect_error.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "quant/rtn.h"
#include "test_support.h"

namespace lieq {
namespace {

using testing::normal_matrix;

// X [rows, n] ~ N(0, 1) with a few channels 20x larger (LLM activations'
// outlier channels).
std::vector<float> activations(int64_t rows, int64_t n, uint32_t seed) {
  std::vector<float> x = normal_matrix(rows, n, seed);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j : {3, 50, 77, 200}) x[size_t(r * n + j)] *= 20.0f;
  return x;
}

FakeQuantizer rtn_quantizer(const QuantSpec& spec) {
  return [spec](const float* w, int64_t rows, int64_t cols, const float*) {
    return quantize_rtn(w, rows, cols, spec).dequantize();
  };
}

TEST(AwqScales, NormalisedByTheGeometricMeanOfMaxAndMin) {
  const std::vector<float> m = {1.0f, 4.0f, 0.0f, 16.0f};
  for (float s : awq_scales(m, 0.0)) EXPECT_EQ(s, 1.0f);  // 0^0 = 1: plain quantization
  // alpha 0.5: {1, 2, 1e-4 (clamped), 4} / sqrt(4 * 1e-4).
  const std::vector<float> s = awq_scales(m, 0.5);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_NEAR(s[0], 50.0f, 1e-3f);
  EXPECT_NEAR(s[1], 100.0f, 1e-3f);
  EXPECT_NEAR(s[2], 0.005f, 1e-7f);
  EXPECT_NEAR(s[3], 200.0f, 1e-3f);
  EXPECT_NEAR(double(s[2]) * s[3], 1.0, 1e-5);
  const std::vector<float> x = {1, -2, 3, -4, 0, 0};
  const std::vector<float> mean = mean_abs_columns(x.data(), 3, 2);
  EXPECT_FLOAT_EQ(mean[0], 4.0f / 3);
  EXPECT_FLOAT_EQ(mean[1], 2.0f);
}

TEST(AwqSearch, ScalesLowerTheGroupOutputErrorBelowRtnWithOutlierChannels) {
  const int64_t n_in = 256;
  // A group of two projections sharing the input (as gate/up).
  const std::vector<float> w1 = normal_matrix(128, n_in, 11, 0.02f);
  const std::vector<float> w2 = normal_matrix(64, n_in, 12, 0.02f);
  const std::vector<float> x = activations(512, n_in, 13), held = activations(512, n_in, 14);
  const std::vector<float> mean = mean_abs_columns(x.data(), 512, n_in);
  for (int bits : {3, 4}) {
    const QuantSpec spec{bits, 128, false};
    const std::vector<AwqWeight> ws = {{w1.data(), 128, rtn_quantizer(spec)},
                                       {w2.data(), 64, rtn_quantizer(spec)}};
    const AwqScaleSearch r = awq_search_scales(ws, n_in, x.data(), 512, mean);
    EXPECT_GT(r.alpha, 0.0) << bits;
    EXPECT_LT(r.error, r.error_plain) << bits;
    // alpha = 0 is plain RTN: the search's own baseline.
    const std::vector<float> ones(size_t(n_in), 1.0f);
    EXPECT_DOUBLE_EQ(r.error_plain, awq_group_error(ws, n_in, x.data(), 512, ones));
    // On rows the search did not see, still well below RTN.
    const double e_awq = awq_group_error(ws, n_in, held.data(), 512, r.scales);
    const double e_rtn = awq_group_error(ws, n_in, held.data(), 512, ones);
    EXPECT_LT(e_awq, 0.7 * e_rtn) << bits << " bits: AWQ " << e_awq << " RTN " << e_rtn;
  }
}

TEST(AwqSearch, BadInputsAreClearErrors) {
  const std::vector<float> w = normal_matrix(4, 8, 1), x = normal_matrix(4, 8, 2);
  const std::vector<AwqWeight> ws = {{w.data(), 4, rtn_quantizer({4, 0, false})}};
  EXPECT_LIEQ_ERROR(awq_search_scales(ws, 8, x.data(), 4, std::vector<float>(7, 1.0f)),
                    "7 statistics for 8 inputs");
  AwqOptions o;
  o.n_grid = 0;
  EXPECT_LIEQ_ERROR(awq_search_scales(ws, 8, x.data(), 4, std::vector<float>(8, 1.0f), o),
                    "alpha grid");
  const std::vector<AwqWeight> bad = {
      {w.data(), 4,
       [](const float*, int64_t, int64_t, const float*) { return std::vector<float>(3); }}};
  EXPECT_LIEQ_ERROR(awq_group_error(bad, 8, x.data(), 4, std::vector<float>(8, 1.0f)),
                    "quantizer returned 3 values");
}

TEST(AwqClip, NeverWorseThanRtnOnTheOutputErrorAndPlainRtnWithoutClipping) {
  const int64_t n_out = 96, n_in = 256, rows = 1024;
  std::vector<float> w = normal_matrix(n_out, n_in, 21, 0.02f);
  for (int64_t r = 0; r < n_out; r += 3) w[size_t(r * n_in + (r * 7) % n_in)] *= 12.0f;
  const std::vector<float> x = activations(rows, n_in, 22);
  Gptq h(n_in);
  h.add_batch(x.data(), rows);
  for (const QuantSpec spec :
       {QuantSpec{3, 128, false}, QuantSpec{4, 64, true}, QuantSpec{2, 0, false}}) {
    const QuantizedTensor plain = quantize_rtn(w.data(), n_out, n_in, spec);
    const QuantizedTensor clipped =
        awq_quantize_clipped(w.data(), n_out, n_in, spec, h.hessian().data());
    const double e_plain =
        layer_output_error(w.data(), plain.dequantize().data(), n_out, n_in, x.data(), rows);
    const double e_clip =
        layer_output_error(w.data(), clipped.dequantize().data(), n_out, n_in, x.data(), rows);
    EXPECT_LT(e_clip, 0.9 * e_plain) << spec.name() << ": clip " << e_clip << " plain " << e_plain;
    AwqOptions off;
    off.clip = false;
    const QuantizedTensor same =
        awq_quantize_clipped(w.data(), n_out, n_in, spec, h.hessian().data(), off);
    EXPECT_EQ(same.codes, plain.codes) << spec.name();
    EXPECT_EQ(same.scales, plain.scales) << spec.name();
    EXPECT_EQ(same.zeros, plain.zeros) << spec.name();
  }
  std::vector<float> nan_w = w;
  nan_w[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_LIEQ_ERROR(
      awq_quantize_clipped(nan_w.data(), n_out, n_in, QuantSpec{4, 128, false}, h.hessian().data()),
      "weight [0, 5] is nan");
}

}  // namespace
}  // namespace lieq
