// Logits of the forward pass against golden logits of an independent float64
// implementation (shared/models/*/golden.safetensors). Tolerance: max abs
// difference <= 1e-3 x max |logit| (the brief); expected agreement is ~1e-4.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "io/safetensors.h"
#include "model/forward.h"
#include "model/tensor_f32.h"
#include "model/weights.h"
#include "test_support.h"

namespace lieq {
namespace {

class GoldenLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenLogits, PrefillMatchesReference) {
  const auto dir = testing::shared_model(GetParam());
  LIEQ_REQUIRE_PATH(dir);
  const Model m = load_hf_model(dir);
  SafetensorsFile golden(dir / "golden.safetensors");
  const std::vector<float> ids_f = tensor_to_f32(*golden.find("input_ids"));
  const std::vector<float> ref = tensor_to_f32(*golden.find("logits"));
  std::vector<int32_t> ids(ids_f.begin(), ids_f.end());
  const int64_t T = int64_t(ids.size()), V = m.config.vocab;
  ASSERT_EQ(int64_t(ref.size()), T * V);

  Forward fw(m.config);
  std::vector<float> x;
  fw.run(m.weights, ids.data(), 1, T, 0, nullptr, x);
  std::vector<float> logits(size_t(T * V));
  fw.logits(m.weights, x.data(), T, logits.data());
  float max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(ref[i]));
    max_diff = std::max(max_diff, std::fabs(ref[i] - logits[i]));
  }
  EXPECT_LE(max_diff, 1e-3f * max_ref) << "max |diff| " << max_diff << " max |logit| " << max_ref;
  RecordProperty("rel_err", std::to_string(max_diff / max_ref));
  std::printf("%s: max|diff| / max|logit| = %.3g\n", GetParam().c_str(), max_diff / max_ref);
}

TEST_P(GoldenLogits, IncrementalDecodingMatchesPrefill) {
  const auto dir = testing::shared_model(GetParam());
  LIEQ_REQUIRE_PATH(dir);
  const Model m = load_hf_model(dir);
  SafetensorsFile golden(dir / "golden.safetensors");
  const std::vector<float> ids_f = tensor_to_f32(*golden.find("input_ids"));
  const std::vector<float> ref = tensor_to_f32(*golden.find("logits"));
  std::vector<int32_t> ids(ids_f.begin(), ids_f.end());
  const int64_t T = int64_t(ids.size()), V = m.config.vocab;
  Forward fw(m.config);
  KVCache cache(m.config, T);
  // A prefix of 3 tokens at once, then one token at a time.
  std::vector<float> x, logits(static_cast<size_t>(V));
  float max_ref = 0, max_diff = 0;
  int64_t pos = 0;
  while (pos < T) {
    const int64_t n = pos == 0 ? std::min<int64_t>(3, T) : 1;
    fw.run(m.weights, ids.data() + pos, 1, n, pos, &cache, x);
    for (int64_t r = 0; r < n; ++r) {
      fw.logits(m.weights, x.data() + r * m.config.hidden, 1, logits.data());
      for (int64_t j = 0; j < V; ++j) {
        max_ref = std::max(max_ref, std::fabs(ref[size_t((pos + r) * V + j)]));
        max_diff = std::max(max_diff, std::fabs(ref[size_t((pos + r) * V + j)] - logits[size_t(j)]));
      }
    }
    pos += n;
  }
  EXPECT_EQ(cache.n_past, T);
  EXPECT_LE(max_diff, 1e-3f * max_ref);
}

INSTANTIATE_TEST_SUITE_P(SharedModels, GoldenLogits,
                         ::testing::Values("stories260K", "random-llama", "random-qwen2",
                                           "random-qwen3", "tinylm-llama-12m"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string s = p.param;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

}  // namespace
}  // namespace lieq
