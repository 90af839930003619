// Plans per tensor group: the allocation items, LieQ's documented promotion
// order, the exact knapsack over measured group errors, the accounting, and
// the plan file (round trip and bad input naming the file).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "expect_error.h"
#include "lieq/plan.h"
#include "plan_fixtures.h"
#include "test_support.h"
#include "util/error.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;

// Shapes as kLinearRoles: q, k, v, o, gate, up, down (hidden 256, FFN 768);
// n = 4: layers 1, 2, 3, 0 by score.
Diagnostics group_toy(int n_layers) { return testing::toy_diagnostics(n_layers, 3); }

TEST(PlanGroups, ItemsSplitEachLayerIntoItsFourGroups) {
  const Diagnostics d = group_toy(2);
  const std::vector<LayerShapes> items = allocation_items(d.layer_shapes, Granularity::kGroup);
  ASSERT_EQ(items.size(), 8u);
  EXPECT_EQ(items[0].params(), 256 * 256 + 2 * 128 * 256);  // q, k, v
  EXPECT_EQ(items[1].params(), 256 * 256);                  // o
  EXPECT_EQ(items[2].params(), 2 * 768 * 256);              // gate, up
  EXPECT_EQ(items[3].params(), 256 * 768);                  // down
  EXPECT_EQ(items[4].params(), items[0].params());
  EXPECT_EQ(allocation_items(d.layer_shapes, Granularity::kLayer).size(), 2u);
  Diagnostics bad = d;
  bad.layer_shapes[1].linears.pop_back();
  EXPECT_LIEQ_ERROR(allocation_items(bad.layer_shapes, Granularity::kGroup), "layer 1 has 6");
}

TEST(PlanGroups, LieqPromotesByLayerScoreThenDownQkvOGateUp) {
  const Diagnostics d = group_toy(4);
  const std::vector<StorageFormat> f = grid_formats({2, 4}, 128, false);
  // int2 g128 asym: 2.25 bpw; int4: 4.25.
  const int64_t layer = d.layer_shapes[0].params();
  const int64_t down = 256 * 768, qkv = 256 * 256 + 2 * 128 * 256;
  // Budget: all at 2 bits, plus a layer's down and q/k/v at 4 bits, and a bit more.
  const double target = (2.25 * double(4 * layer) + 2.0 * double(down + qkv) + 1000.0) /
                        double(4 * layer);
  const Plan p = make_plan(d, AllocatorKind::kLieq, target, {2, 4}, f, nullptr, Granularity::kGroup);
  ASSERT_TRUE(p.per_group());
  ASSERT_EQ(p.group_bits.size(), 4u);
  // Scores (l * 3) % 4: layer 3 has score 1, layer 2 score 2, layer 1 score 3 (highest).
  for (size_t l = 0; l < 4; ++l) {
    const auto& g = p.group_bits[l];
    if (l == 1) {
      EXPECT_EQ(g, (std::array<int, 4>{4, 2, 2, 4})) << l;  // down, then q/k/v
    } else {
      EXPECT_EQ(g, (std::array<int, 4>{2, 2, 2, 2})) << l;
    }
    // The layer's label is its largest group's (gate/up).
    EXPECT_EQ(p.bits[l], g[2]);
  }
  EXPECT_EQ(p.format_of(1, Role::kWv), f[1]);
  EXPECT_EQ(p.format_of(1, Role::kWo), f[0]);
  EXPECT_EQ(p.format_of(1, Role::kWdown), f[1]);
  EXPECT_EQ(p.linear_bits, int64_t(2.25 * double(4 * layer)) + 2 * (down + qkv));
  EXPECT_LE(p.linear_bpw(), target);
  // The same budget per layer promotes nothing (a whole layer does not fit).
  const Plan per_layer = make_plan(d, AllocatorKind::kLieq, target, {2, 4}, f);
  EXPECT_EQ(per_layer.bits, std::vector<int>(4, 2));
  EXPECT_FALSE(per_layer.per_group());
}

TEST(PlanGroups, MeasuredSolvesTheGroupKnapsackExactly) {
  const Diagnostics d = group_toy(2);
  const std::vector<StorageFormat> f = grid_formats({2, 3, 4}, 128, false);
  Measurements m;
  m.granularity = Granularity::kGroup;
  m.levels = f;
  // Per (layer, group): errors falling with bits, group 3 of layer 0 and
  // group 0 of layer 1 by far the most sensitive.
  m.error = {{1.0, 0.5, 0.2}, {0.3, 0.2, 0.1}, {0.4, 0.3, 0.2}, {9.0, 1.0, 0.1},
             {8.0, 0.8, 0.1}, {0.31, 0.21, 0.11}, {0.41, 0.29, 0.19}, {0.5, 0.3, 0.1}};
  AllocProblem prob;
  prob.layers = allocation_items(d.layer_shapes, Granularity::kGroup);
  prob.levels = f;
  for (double target : {2.4, 2.8, 3.3, 4.0}) {
    prob.target_bpw = target;
    const Plan p = make_plan(d, AllocatorKind::kMeasured, target, {2, 3, 4}, f, &m, Granularity::kGroup);
    const Allocation best = allocate_brute_force(prob, m.error);
    for (size_t l = 0; l < 2; ++l)
      for (size_t g = 0; g < 4; ++g)
        EXPECT_EQ(p.group_bits[l][g], 2 + best.level[l * 4 + g]) << target << " " << l << " " << g;
    EXPECT_EQ(p.linear_bits, best.bits) << target;
  }
  // Measurements per layer do not serve a per-group plan (nor the reverse).
  Measurements per_layer = m;
  per_layer.granularity = Granularity::kLayer;
  EXPECT_LIEQ_ERROR(make_plan(d, AllocatorKind::kMeasured, 3.0, {2, 3, 4}, f, &per_layer,
                              Granularity::kGroup),
                    "measurements per layer for a plan per group");
  EXPECT_LIEQ_ERROR(make_plan(d, AllocatorKind::kMeasured, 3.0, {2, 3, 4}, f, &m), "per group");
}

TEST(PlanGroups, FileRoundTripAndBadGroups) {
  testing::TempDir tmp;
  const Diagnostics d = group_toy(4);
  const std::vector<StorageFormat> f = ggml_formats({GgmlType::IQ2_XS, GgmlType::Q3_K, GgmlType::Q4_K});
  const Plan p = make_plan(d, AllocatorKind::kLieq, 3.2, {1, 2, 3}, f, nullptr, Granularity::kGroup);
  testing::write_bytes(tmp / "plan.json", plan_to_json(p).dump(1));
  const Plan r = read_plan(tmp / "plan.json");
  EXPECT_EQ(r.granularity, Granularity::kGroup);
  EXPECT_EQ(r.group_bits, p.group_bits);
  EXPECT_EQ(r.group_formats, p.group_formats);
  EXPECT_EQ(r.bits, p.bits);
  auto bad = [&](const nlohmann::json& j) {
    testing::write_bytes(tmp / "bad.json", j.dump());
    return tmp / "bad.json";
  };
  nlohmann::json j = plan_to_json(p);
  j["layers"][2]["groups"].erase("down");
  EXPECT_LIEQ_ERROR(read_plan(bad(j)), "bad.json: layer 2: \"groups\" must give the 4 tensor groups");
  j = plan_to_json(p);
  j["layers"][1]["groups"].erase("o");
  j["layers"][1]["groups"]["out"] = 1;
  EXPECT_LIEQ_ERROR(read_plan(bad(j)), "bad.json: layer 1: \"groups\" has no \"o\"");
  j = plan_to_json(p);
  j["layers"][0]["groups"]["qkv"] = 9;
  EXPECT_LIEQ_ERROR(read_plan(bad(j)), "bad.json: layer 0 group qkv: 9 bits is not one of the plan's levels");
  j = plan_to_json(p);
  j["layers"][3].erase("groups");
  EXPECT_LIEQ_ERROR(read_plan(bad(j)), "bad.json");
  j = plan_to_json(p);
  j["granularity"] = "tensor";
  EXPECT_LIEQ_ERROR(read_plan(bad(j)), "bad.json: unknown granularity \"tensor\"");
  // A per-layer plan file (no granularity key, as older files) reads as per layer.
  j = plan_to_json(make_plan(d, AllocatorKind::kLieq, 3.2, {1, 2, 3}, f));
  j.erase("granularity");
  testing::write_bytes(tmp / "old.json", j.dump());
  EXPECT_FALSE(read_plan(tmp / "old.json").per_group());
}

}  // namespace
}  // namespace lieq
