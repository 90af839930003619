// Inference with 16-bit weights (LoadOptions::keep_16bit): the weight
// matrices stay BF16/F16 in memory (half the bytes of float32), and the
// forward pass matches the golden logits (tolerance of forward_golden_test:
// 1e-3 x max |logit|) and the float32-loaded forward: prefill (the convert +
// sgemm path) to 1e-5 x max |logit|, token-by-token decoding (the direct
// kernels; avx512bf16 within 1.5e-5 S per product) to 1e-4 x max |logit|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "io/safetensors.h"
#include "kernels/gemm16.h"
#include "model/forward.h"
#include "model/tensor_f32.h"
#include "model/weights.h"
#include "test_support.h"

namespace lieq {
namespace {

struct Golden {
  std::vector<int32_t> ids;
  std::vector<float> logits;  // [T, vocab]
};
Golden read_golden(const std::filesystem::path& dir) {
  SafetensorsFile golden(dir / "golden.safetensors");
  const std::vector<float> ids_f = tensor_to_f32(*golden.find("input_ids"));
  return {std::vector<int32_t>(ids_f.begin(), ids_f.end()), tensor_to_f32(*golden.find("logits"))};
}

// Logits [T, vocab] of the sequence: prefilled as 3 copies in one batch
// (3 T rows: the convert + sgemm path of matmul_nt_16), or token by token
// (1 row: the direct kernels).
std::vector<float> run_logits(const Model& m, const std::vector<int32_t>& ids, bool one_by_one) {
  const int64_t T = int64_t(ids.size()), V = m.config.vocab;
  Forward fw(m.config);
  std::vector<float> x, logits(size_t(T * V));
  if (!one_by_one) {
    constexpr int64_t kCopies = 3;
    std::vector<int32_t> batch;
    for (int64_t c = 0; c < kCopies; ++c) batch.insert(batch.end(), ids.begin(), ids.end());
    EXPECT_GT(kCopies * T, kGemm16DirectMaxRows);
    fw.run(m.weights, batch.data(), kCopies, T, 0, nullptr, x);
    std::vector<float> all(size_t(kCopies * T * V));
    fw.logits(m.weights, x.data(), kCopies * T, all.data());
    all.resize(size_t(T * V));
    return all;
  }
  KVCache cache(m.config, T);
  for (int64_t pos = 0; pos < T; ++pos) {
    fw.run(m.weights, ids.data() + pos, 1, 1, pos, &cache, x);
    fw.logits(m.weights, x.data(), 1, logits.data() + pos * V);
  }
  return logits;
}

// max |a - b| / max |b|
double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double mx = 0, md = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    mx = std::max(mx, double(std::fabs(b[i])));
    md = std::max(md, double(std::fabs(a[i] - b[i])));
  }
  return md / mx;
}

class Forward16 : public ::testing::TestWithParam<std::string> {};

TEST_P(Forward16, WeightMatricesStay16Bit) {
  const auto dir = testing::shared_model(GetParam());
  LIEQ_REQUIRE_PATH(dir);
  const Model m16 = load_hf_model(dir, LoadOptions{true});
  const Model m32 = load_hf_model(dir);
  const Dtype16 want = m16.config.torch_dtype == "bfloat16" ? Dtype16::kBf16 : Dtype16::kF16;
  int64_t bytes16 = 0, bytes32 = 0, n_16bit = 0;
  auto check = [&](const Tensor& t16, const Tensor& t32) {
    if (t32.empty()) return;
    EXPECT_EQ(t16.shape, t32.shape);
    EXPECT_EQ(t16.numel(), t32.numel());
    if (t32.shape.size() == 2) {
      EXPECT_TRUE(t16.is_16bit());
      EXPECT_TRUE(t16.data.empty());
      EXPECT_EQ(t16.half_dtype, want);
      EXPECT_EQ(t16.nbytes(), t16.numel() * 2);
      ++n_16bit;
    } else {
      EXPECT_FALSE(t16.is_16bit());  // norms and biases stay float32
      EXPECT_EQ(t16.data, t32.data);
    }
    EXPECT_FALSE(t32.is_16bit());
    bytes16 += t16.nbytes();
    bytes32 += t32.nbytes();
  };
  check(m16.weights.embed, m32.weights.embed);
  check(m16.weights.final_norm, m32.weights.final_norm);
  check(m16.weights.lm_head, m32.weights.lm_head);
  for (size_t l = 0; l < m32.weights.layers.size(); ++l)
    for (size_t r = 0; r < size_t(kNumRoles); ++r)
      check(m16.weights.layers[l].t[r], m32.weights.layers[l].t[r]);
  EXPECT_GT(n_16bit, 0);
  EXPECT_LT(double(bytes16), 0.51 * double(bytes32)) << bytes16 << " vs " << bytes32;
  std::printf("%s: weights %.2f MB 16-bit, %.2f MB float32\n", GetParam().c_str(),
              double(bytes16) / 1e6, double(bytes32) / 1e6);
}

TEST_P(Forward16, LogitsMatchGoldenAndFloat32) {
  const auto dir = testing::shared_model(GetParam());
  LIEQ_REQUIRE_PATH(dir);
  const Model m16 = load_hf_model(dir, LoadOptions{true});
  const Model m32 = load_hf_model(dir);
  const Golden g = read_golden(dir);
  const std::vector<float> prefill16 = run_logits(m16, g.ids, false);
  const std::vector<float> prefill32 = run_logits(m32, g.ids, false);
  const std::vector<float> decode16 = run_logits(m16, g.ids, true);
  ASSERT_EQ(prefill16.size(), g.logits.size());
  EXPECT_LE(rel_diff(prefill16, g.logits), 1e-3);
  EXPECT_LE(rel_diff(decode16, g.logits), 1e-3);
  EXPECT_LE(rel_diff(prefill16, prefill32), 1e-5);
  EXPECT_LE(rel_diff(decode16, prefill32), 1e-4);
  std::printf("%s: 16-bit vs golden %.3g; vs float32: prefill %.3g, decoding %.3g\n",
              GetParam().c_str(), rel_diff(prefill16, g.logits), rel_diff(prefill16, prefill32),
              rel_diff(decode16, prefill32));
}

INSTANTIATE_TEST_SUITE_P(SharedModels, Forward16, ::testing::Values("random-qwen3", "random-qwen2"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string s = p.param;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

// Float32 checkpoints load as float32 whatever the option says.
TEST(Forward16Load, Float32CheckpointStaysFloat32) {
  const auto dir = testing::shared_model("random-llama");
  LIEQ_REQUIRE_PATH(dir);
  const Model m = load_hf_model(dir, LoadOptions{true});
  EXPECT_FALSE(m.weights.embed.is_16bit());
  for (const LayerWeights& lw : m.weights.layers)
    for (const Tensor& t : lw.t) EXPECT_FALSE(t.is_16bit());
}

}  // namespace
}  // namespace lieq
