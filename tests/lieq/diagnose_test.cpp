// Diagnostics on constructed cases: a layer made an identity has zero
// Perplexity Drop (the lowest), no energy gain and no LIM; the JSON round trip.
#include <gtest/gtest.h>

#include <algorithm>

#include "lieq/diagnose.h"
#include "model/reader.h"
#include "test_support.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {

TEST(Diagnose, IdentityLayerScoresLowestOnPerplexityDrop) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(data);
  ModelReader reader(dir);
  ModelWeights w = reader.load_all();
  // Layer 5 adds nothing to the residual stream: zero output projections.
  const int id = 5;
  std::fill(w.layers[id][Role::kWo].data.begin(), w.layers[id][Role::kWo].data.end(), 0.0f);
  std::fill(w.layers[id][Role::kWdown].data.begin(), w.layers[id][Role::kWdown].data.end(), 0.0f);
  const Tokenizer tok = Tokenizer::load(dir);
  const CalibSet calib = make_calibration(tok, read_text_file(data), {4, 128, 0}, 256, "t");
  DiagnoseOptions opt;
  opt.progress = false;
  Diagnostics d;
  describe_model(reader, d);
  diagnose_weights(reader.config(), w, calib, opt, d);
  ASSERT_EQ(d.layers.size(), 12u);
  EXPECT_NEAR(d.layers[id].dppl, 0.0, 1e-9);
  EXPECT_NEAR(d.layers[id].ppl_bypassed, d.base_ppl, 1e-9 * d.base_ppl);
  for (const auto& l : d.layers)
    if (l.layer != id) {
      EXPECT_GT(l.dppl, d.layers[id].dppl) << l.layer;
    }
  EXPECT_NEAR(d.layers[id].lim, 0.0, 1e-6);
  EXPECT_NEAR(d.layers[id].teg, 0.0, 1e-6);
  EXPECT_GT(d.base_ppl, 1.0);
  EXPECT_LT(d.base_ppl, 50.0);  // a trained model on TinyStories
  // Every layer ranked once, the highest score first.
  std::vector<int> ranks;
  for (const auto& l : d.layers) ranks.push_back(l.rank);
  std::sort(ranks.begin(), ranks.end());
  for (int i = 0; i < 12; ++i) EXPECT_EQ(ranks[size_t(i)], i + 1);
  const auto top = std::max_element(d.layers.begin(), d.layers.end(),
                                    [](const auto& a, const auto& b) { return a.score < b.score; });
  EXPECT_EQ(top->rank, 1);

  // JSON round trip keeps every field the plan uses.
  const Diagnostics r = diagnostics_from_json(diagnostics_to_json(d), "mem");
  EXPECT_EQ(r.layer_shapes.size(), d.layer_shapes.size());
  EXPECT_EQ(r.other_bits, d.other_bits);
  for (size_t i = 0; i < d.layers.size(); ++i) {
    EXPECT_DOUBLE_EQ(r.layers[i].score, d.layers[i].score);
    EXPECT_DOUBLE_EQ(r.layers[i].dppl, d.layers[i].dppl);
    EXPECT_EQ(r.layers[i].rank, d.layers[i].rank);
  }
}

TEST(Diagnose, RandomReferenceIsSubtractedFromCompactness) {
  const auto dir = testing::shared_model("random-qwen3");
  LIEQ_REQUIRE_PATH(dir);
  ModelReader reader(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  std::string text;
  for (int i = 0; i < 40; ++i) text += "The quick brown fox jumps over the lazy dog. ";
  const CalibSet calib = make_calibration(tok, text, {2, 64, 0}, 256, "t");
  DiagnoseOptions opt;
  opt.progress = false;
  const Diagnostics d = diagnose(reader, calib, opt);
  for (const auto& l : d.layers) {
    EXPECT_NEAR(l.rc, l.rc_trained - l.rc_random, 1e-12);
    EXPECT_GT(l.rc_trained, 0.0);
    EXPECT_LE(l.rc_trained, 1.0);
  }
  opt.random_reference = false;
  const Diagnostics e = diagnose(reader, calib, opt);
  for (const auto& l : e.layers) EXPECT_DOUBLE_EQ(l.rc, l.rc_trained);
}

}  // namespace
}  // namespace lieq
