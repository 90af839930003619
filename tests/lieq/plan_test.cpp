// Plans: allocators through make_plan, exact accounting, the JSON a person
// edits, and validation against the model.
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

Diagnostics toy_diagnostics(int n_layers) {
  return testing::toy_diagnostics(n_layers, 7);  // n = 12: layer 5 scores highest
}

TEST(Plan, LieqPromotesHighestScoresAndHitsTheBudgetFromBelow) {
  const Diagnostics d = toy_diagnostics(12);
  // One layer at 4 bits: (11 * 2.25 + 4.25) / 12.
  const double target = (11 * 2.25 + 4.25) / 12;
  const Plan p = make_plan(d, AllocatorKind::kLieq, target, {2, 4}, grid_formats({2, 4}, 128, false));
  ASSERT_EQ(p.bits.size(), 12u);
  for (int l = 0; l < 12; ++l) EXPECT_EQ(p.bits[size_t(l)], (l * 7) % 12 == 11 ? 4 : 2) << l;
  EXPECT_DOUBLE_EQ(p.linear_bpw(), target);
  EXPECT_LE(p.linear_bpw(), target);
  const Plan u = make_plan(d, AllocatorKind::kUniform, 2.25, {2, 4}, grid_formats({2, 4}, 128, false));
  EXPECT_EQ(u.bits, std::vector<int>(12, 2));
  EXPECT_DOUBLE_EQ(u.linear_bpw(), 2.25);
  const Plan lim = make_plan(d, AllocatorKind::kLim, target, {2, 4}, grid_formats({2, 4}, 128, false));
  EXPECT_EQ(lim.bits[11], 4);  // largest LIM
  const Plan zd = make_plan(d, AllocatorKind::kZd, target, {2, 4}, grid_formats({2, 4}, 128, false));
  EXPECT_EQ(zd.bits[0], 4);  // largest ZD
  // Whole-file accounting includes the other tensors.
  EXPECT_DOUBLE_EQ(p.file_bpw(), double(p.linear_bits + 16000) / double(p.linear_params + 1000));
}

TEST(Plan, MeasuredUsesTheKnapsackOverMeasuredErrors) {
  const Diagnostics d = toy_diagnostics(4);
  Measurements m;
  m.levels = grid_formats({2, 3, 4}, 128, false);
  m.error = {{1.0, 0.2, 0.05}, {9.0, 1.0, 0.1}, {1.0, 0.3, 0.1}, {0.5, 0.1, 0.02}};
  const double target = (3 * 2.25 + 4.25) / 4;
  const Plan p = make_plan(d, AllocatorKind::kMeasured, target, {2, 4}, grid_formats({2, 4}, 128, false), &m);
  EXPECT_EQ(p.bits, (std::vector<int>{2, 4, 2, 2}));
  EXPECT_THROW(make_plan(d, AllocatorKind::kMeasured, target, {2, 5}, grid_formats({2, 5}, 128, false), &m), Error);
  EXPECT_THROW(make_plan(d, AllocatorKind::kMeasured, target, {2, 4}, grid_formats({2, 4}, 64, false), &m), Error);
}

TEST(Plan, FileRoundTripAndValidation) {
  testing::TempDir tmp;
  const Diagnostics d = toy_diagnostics(12);
  const Plan p = make_plan(d, AllocatorKind::kPositional, 3.0, {2, 3, 4}, grid_formats({2, 3, 4}, 128, false));
  testing::write_bytes(tmp / "plan.json", plan_to_json(p).dump(1));
  const Plan r = read_plan(tmp / "plan.json");
  EXPECT_EQ(r.bits, p.bits);
  EXPECT_EQ(r.formats, p.formats);
  EXPECT_EQ(r.layer_formats, p.layer_formats);
  EXPECT_EQ(r.layer_specs()[0].group_size, 128);
  EXPECT_EQ(r.layer_specs()[0].bits, p.bits[0]);

  auto err = [&](const std::string& text) {
    testing::write_bytes(tmp / "bad.json", text);
    try {
      read_plan(tmp / "bad.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  nlohmann::json j = plan_to_json(p);
  EXPECT_THAT(err("{"), HasSubstr("bad.json: malformed JSON"));
  j["layers"][3]["bits"] = 7;
  EXPECT_THAT(err(j.dump()), HasSubstr("bad.json: layer 3"));
  j = plan_to_json(p);
  j["layers"].erase(11);
  EXPECT_THAT(err(j.dump()), HasSubstr("11 layer entries but model.num_layers is 12"));
  j = plan_to_json(p);
  j["layers"][2]["layer"] = 5;
  EXPECT_THAT(err(j.dump()), HasSubstr("entries must be in order"));
  j = plan_to_json(p);
  j["format"] = "something";
  EXPECT_THAT(err(j.dump()), HasSubstr("not a lieq plan"));

  ModelConfig c;
  c.n_layers = 5;
  c.architecture = "LlamaForCausalLM";
  try {
    validate_plan_for_model(r, c, "plan.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("the plan has 12 layers but the model has 5"));
  }
}

}  // namespace
}  // namespace lieq

namespace lieq {
namespace {

TEST(Plan, GgufPlansCostTheBlockTypesRealBytes) {
  testing::TempDir tmp;
  const Diagnostics d = toy_diagnostics(12);
  const std::vector<GgmlType> types = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K};
  // Every row is 256 or 768 long: no fallback types.
  const int64_t per_layer = d.layer_shapes[0].params();
  // Two layers at Q4_K (4.5 bpw), the rest at Q2_K (2.625 bpw).
  const double target = (10 * 2.625 + 2 * 4.5) / 12;
  const Plan p = make_plan(d, AllocatorKind::kLieq, target, {2, 3, 4}, ggml_formats(types));
  EXPECT_LE(p.linear_bpw(), target);
  // Exact: Q2_K 84 bytes, Q3_K 110, Q4_K 144 per 256 weights.
  int64_t exact = 0;
  for (int b : p.bits) exact += per_layer / 256 * (b == 2 ? 84 : b == 3 ? 110 : 144) * 8;
  EXPECT_EQ(p.linear_bits, exact);
  EXPECT_GT(p.linear_bpw(), 0.97 * target);  // the budget is nearly used
  const std::vector<GgmlType> lt = p.layer_types();
  for (size_t l = 0; l < lt.size(); ++l) EXPECT_EQ(lt[l], types[size_t(p.bits[l] - 2)]) << l;
  // The JSON keeps the types; a bad type name is refused.
  testing::write_bytes(tmp / "plan.json", plan_to_json(p).dump(1));
  const Plan r = read_plan(tmp / "plan.json");
  EXPECT_EQ(r.formats, ggml_formats(types));
  EXPECT_EQ(r.layer_types(), lt);
  nlohmann::json j = plan_to_json(p);
  j["formats"][1] = "Q3_X";
  testing::write_bytes(tmp / "bad.json", j.dump());
  try {
    read_plan(tmp / "bad.json");
    ADD_FAILURE() << "accepted an unknown ggml type";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("bad.json: unknown storage format \"Q3_X\""));
  }
  // Integer-grid costs differ: the same bits cost less as int grids with g128.
  const Plan ip = make_plan(d, AllocatorKind::kLieq, target, {2, 3, 4}, grid_formats({2, 3, 4}, 128, false));
  EXPECT_NE(ip.bits, p.bits);
}

}  // namespace
}  // namespace lieq

namespace lieq {
namespace {

TEST(Plan, MeasurementsOfBothFamiliesAndOlderFiles) {
  testing::TempDir tmp;
  const Diagnostics d = toy_diagnostics(4);
  Measurements m;
  m.model_path = "toy";
  m.levels = ggml_formats({GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K});
  m.error = {{1.0, 0.2, 0.05}, {9.0, 1.0, 0.1}, {1.0, 0.3, 0.1}, {0.5, 0.1, 0.02}};
  // Q2_K everywhere but layer 1 at Q4_K.
  const int64_t per_layer = d.layer_shapes[0].params();
  const double target = double((3 * 84 + 144) * 8 * (per_layer / 256)) / double(4 * per_layer);
  const std::vector<StorageFormat> q24 = ggml_formats({GgmlType::Q2_K, GgmlType::Q4_K});
  const Plan p = make_plan(d, AllocatorKind::kMeasured, target, {2, 4}, q24, &m);
  EXPECT_EQ(p.bits, (std::vector<int>{2, 4, 2, 2}));
  EXPECT_EQ(p.layer_types(), (std::vector<GgmlType>{GgmlType::Q2_K, GgmlType::Q4_K, GgmlType::Q2_K,
                                                     GgmlType::Q2_K}));
  EXPECT_FALSE(p.other_known());  // a GGUF output chooses the embedding's type
  EXPECT_LIEQ_ERROR(make_plan(d, AllocatorKind::kMeasured, target, {2, 4}, grid_formats({2, 4}, 128, false), &m),
                    "int2 g128 asym was not measured", "Q2_K, Q3_K, Q4_K");
  // Round trip of a version 2 file.
  testing::write_bytes(tmp / "m.json", measurements_to_json(m).dump());
  const Measurements r = read_measurements(tmp / "m.json");
  EXPECT_EQ(r.levels, m.levels);
  EXPECT_EQ(r.error, m.error);
  // A version 1 file (bit widths of one grid) still reads.
  testing::write_bytes(tmp / "v1.json", R"({"format": "lieq-measurements", "version": 1, "model": "toy",
    "method": "gptq", "levels": [2, 4], "group_size": 64, "symmetric": true,
    "calibration": {"samples": 8, "seqlen": 128}, "error": [[1, 0.5]]})");
  const Measurements v1 = read_measurements(tmp / "v1.json");
  EXPECT_EQ(v1.levels, grid_formats({2, 4}, 64, true));
  EXPECT_EQ(v1.calib_samples, 8);
  testing::write_bytes(tmp / "v3.json", R"({"format": "lieq-measurements", "version": 3})");
  EXPECT_LIEQ_ERROR(read_measurements(tmp / "v3.json"), "v3.json", "version 3");
}

TEST(Plan, OlderPlanFilesWithoutFormatsStillRead) {
  testing::TempDir tmp;
  // As written before plans named their formats: an integer grid ...
  testing::write_bytes(tmp / "grid.json", R"({"format": "lieq-plan", "version": 1,
    "model": {"num_layers": 2}, "levels": [2, 4], "group_size": 64, "symmetric": false,
    "layers": [{"layer": 0, "bits": 2}, {"layer": 1, "bits": 3}]})");
  const Plan g = read_plan(tmp / "grid.json");
  EXPECT_EQ(g.layer_formats, grid_formats({2, 3}, 64, false));  // an edited width outside the levels
  // ... and a GGUF plan, whose layers must stay on its levels.
  testing::write_bytes(tmp / "gguf.json", R"({"format": "lieq-plan", "version": 1,
    "model": {"num_layers": 2}, "levels": [2, 4], "group_size": 128, "ggml_types": ["Q2_K", "Q4_K"],
    "layers": [{"layer": 0, "bits": 4}, {"layer": 1, "bits": 2}]})");
  const Plan q = read_plan(tmp / "gguf.json");
  EXPECT_EQ(q.layer_types(), (std::vector<GgmlType>{GgmlType::Q4_K, GgmlType::Q2_K}));
  EXPECT_LIEQ_ERROR(q.layer_specs(), "Q4_K is a ggml type");
  nlohmann::json j = nlohmann::json::parse(testing::read_bytes(tmp / "gguf.json"));
  j["layers"][1]["bits"] = 3;
  testing::write_bytes(tmp / "bad.json", j.dump());
  EXPECT_LIEQ_ERROR(read_plan(tmp / "bad.json"), "bad.json: layer 1", "3 bits is not one of the plan's levels");
  // A "formats" list must name one format per level.
  j = nlohmann::json::parse(testing::read_bytes(tmp / "gguf.json"));
  j["formats"] = {"Q2_K"};
  testing::write_bytes(tmp / "bad.json", j.dump());
  EXPECT_LIEQ_ERROR(read_plan(tmp / "bad.json"), "bad.json", "1 level formats for 2 levels");
  j["formats"] = {"Q2_K", "int4 g100 asym"};
  testing::write_bytes(tmp / "bad.json", j.dump());
  EXPECT_LIEQ_ERROR(read_plan(tmp / "bad.json"), "bad.json", "unknown storage format \"int4 g100 asym\"");
  // Levels out of order are refused where they are given.
  const Diagnostics d = toy_diagnostics(4);
  EXPECT_LIEQ_ERROR(make_plan(d, AllocatorKind::kLieq, 3.0, {4, 2}, grid_formats({4, 2}, 128, false)),
                    "strictly ascending");
}

}  // namespace
}  // namespace lieq
