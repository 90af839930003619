// The random reference model built piece by piece (random_layer,
// random_embedding_rows) equals random_weights value for value, so the
// diagnostics' random reference is the same whichever way it is generated.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "../expect_error.h"
#include "model/config.h"
#include "model/random_init.h"
#include "test_support.h"

namespace lieq {
namespace {

class RandomInit : public ::testing::TestWithParam<std::string> {};

TEST_P(RandomInit, LayersAndEmbeddingRowsEqualTheWholeModel) {
  const auto dir = testing::shared_model(GetParam());
  LIEQ_REQUIRE_PATH(dir);
  const ModelConfig c = load_config(dir / "config.json");
  const ModelWeights w = random_weights(c, 7);
  for (int l = 0; l < int(c.n_layers); ++l) {
    const LayerWeights lw = random_layer(c, 7, l);
    for (const RoleSpec& r : role_table()) {
      EXPECT_EQ(lw[r.role].shape, w.layers[size_t(l)][r.role].shape) << l << " " << r.hf_suffix;
      EXPECT_EQ(lw[r.role].data, w.layers[size_t(l)][r.role].data) << l << " " << r.hf_suffix;
    }
  }
  EXPECT_NE(random_layer(c, 8, 0)[Role::kWq].data, w.layers[0][Role::kWq].data);
  // Rows in any order, repeated, first and last.
  const std::vector<int32_t> ids = {3, 0, int32_t(c.vocab - 1), 3, 17};
  std::vector<float> rows(ids.size() * size_t(c.hidden));
  random_embedding_rows(c, 7, ids.data(), int64_t(ids.size()), rows.data());
  for (size_t i = 0; i < ids.size(); ++i)
    for (int64_t j = 0; j < c.hidden; ++j)
      ASSERT_EQ(rows[i * size_t(c.hidden) + size_t(j)],
                w.embed.data[size_t(ids[i]) * size_t(c.hidden) + size_t(j)])
          << i << " " << j;
  const int32_t bad = int32_t(c.vocab);
  EXPECT_LIEQ_ERROR(random_embedding_rows(c, 7, &bad, 1, rows.data()), "out of range");
}

// random-qwen2: tied, q/k/v bias; random-qwen3: untied, q/k norms.
INSTANTIATE_TEST_SUITE_P(SharedModels, RandomInit,
                         ::testing::Values("random-qwen2", "random-qwen3"));

// An odd row length: the embedding's normal pairs straddle rows.
TEST(RandomInitOdd, EmbeddingRowsWithOddHidden) {
  ModelConfig c;
  c.vocab = 9;
  c.hidden = 7;
  c.initializer_range = 0.02;
  std::vector<float> all(static_cast<size_t>(c.vocab * c.hidden));
  fill_normal(all.data(), int64_t(all.size()), c.initializer_range, 7 * 1000003ULL + 1);
  const std::vector<int32_t> ids = {8, 1, 4};
  std::vector<float> rows(ids.size() * 7);
  random_embedding_rows(c, 7, ids.data(), 3, rows.data());
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t j = 0; j < 7; ++j) ASSERT_EQ(rows[i * 7 + j], all[size_t(ids[i]) * 7 + j]);
}

}  // namespace
}  // namespace lieq
