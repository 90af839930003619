// Measurements per tensor group: one row per (layer, group), errors falling
// with bits, and each group's error a share of its layer's (the groups'
// errors add up to about the layer's when all of them are quantized).
#include <gtest/gtest.h>

#include "eval/calibration.h"
#include "model/reader.h"
#include "pipeline/driver.h"
#include "pipeline/pipeline_fixtures.h"
#include "test_support.h"

namespace lieq {
namespace {

TEST(DriverGroups, GroupErrorsFallWithBitsAndAddUpToTheLayers) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(testing::shared_data("tinystories/valid-excerpt.txt"));
  ModelReader reader(dir);
  const int n_layers = int(reader.config().n_layers);
  const CalibSet calib = testing::small_calib(dir, 4, 64);
  for (QuantMethod m : {QuantMethod::kGptq, QuantMethod::kAwq}) {
    SCOPED_TRACE(method_name(m));
    const QuantizeOptions o = testing::uniform(reader, m, {2, 32, false});
    const Quantizer q = Quantizer::from(o);
    const DriverOptions d = DriverOptions::from(o);
    const std::vector<StorageFormat> levels = {StorageFormat::grid({2, 32, false}),
                                               StorageFormat::grid({4, 32, false})};
    const auto groups = measure_group_errors(reader, calib, q, levels, d);
    const auto layers = measure_layer_errors(reader, calib, q, levels, d);
    ASSERT_EQ(groups.size(), size_t(n_layers * kTensorGroups));
    for (int l = 0; l < n_layers; ++l)
      for (size_t k = 0; k < levels.size(); ++k) {
        double sum = 0;
        for (int g = 0; g < kTensorGroups; ++g) {
          const auto& row = groups[size_t(l * kTensorGroups + g)];
          ASSERT_EQ(row.size(), levels.size());
          EXPECT_GT(row[k], 0.0) << l << " " << g;
          EXPECT_LT(row[k], layers[size_t(l)][k]) << l << " " << g;  // a part of the layer
          if (k == 0) {
            EXPECT_GT(row[0], row[1]) << l << " " << g;  // int2 above int4
          }
          sum += row[k];
        }
        // Not exactly additive (the errors interact), but of the same size:
        // quantizing every group would show about 4x the layer's.
        EXPECT_GT(sum, 0.5 * layers[size_t(l)][k]) << l << " " << k;
        EXPECT_LT(sum, 2.0 * layers[size_t(l)][k]) << l << " " << k;
      }
  }
}

}  // namespace
}  // namespace lieq
