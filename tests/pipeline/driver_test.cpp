// The one layer-sequential driver with its sinks: the null sink reports
// exactly the directory sink's errors (the sink only stores), measurements
// of layer 0 equal layer 0 of an output in the same format (both see the
// float embeddings), ggml levels measure too, and reports carry each
// tensor's storage format with bits from its real bytes (GGUF included).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "eval/calibration.h"
#include "io/gguf.h"
#include "model/gguf_model.h"
#include "model/reader.h"
#include "pipeline/driver.h"
#include "pipeline/gguf_export.h"
#include "pipeline/quantize.h"
#include "pipeline_fixtures.h"
#include "test_support.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {
namespace fs = std::filesystem;

using testing::small_calib;
using testing::uniform;

TEST(Driver, NullSinkReportsTheDirectorySinksErrors) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(testing::shared_data("tinystories/valid-excerpt.txt"));
  testing::TempDir tmp;
  ModelReader reader(dir);
  const CalibSet calib = small_calib(dir, 4, 64);
  for (QuantMethod m : {QuantMethod::kGptq, QuantMethod::kAwq}) {
    SCOPED_TRACE(method_name(m));
    const QuantizeOptions o = uniform(reader, m, {3, 32, false});
    const QuantizeReport d = quantize_model(reader, &calib, o, tmp / method_name(m));
    NullSink none;
    QuantizeReport n;
    const std::vector<StorageFormat> formats(o.layer_specs.size(),
                                             StorageFormat::grid(o.layer_specs[0]));
    quantize_layers(reader, &calib, Quantizer::from(o), formats, none, DriverOptions::from(o), n);
    ASSERT_EQ(n.layers.size(), d.layers.size());
    for (size_t l = 0; l < d.layers.size(); ++l) {
      EXPECT_EQ(n.layers[l].output_rel_error, d.layers[l].output_rel_error) << l;
      EXPECT_EQ(n.layers[l].bits, d.layers[l].bits) << l;
      EXPECT_GT(d.layers[l].output_rel_error, 0.0) << l;
    }
    ASSERT_EQ(n.tensors.size(), d.tensors.size());
    for (size_t i = 0; i < d.tensors.size(); ++i) {
      EXPECT_EQ(n.tensors[i].name, d.tensors[i].name);
      EXPECT_EQ(n.tensors[i].output_rel_error, d.tensors[i].output_rel_error) << d.tensors[i].name;
      EXPECT_EQ(n.tensors[i].awq_alpha, d.tensors[i].awq_alpha) << d.tensors[i].name;
    }
    // The null sink stores nothing, so counts no bits; the directory's
    // linear bits are its layers'.
    EXPECT_EQ(n.linear_bits, 0);
    int64_t bits = 0;
    for (const LayerReport& l : d.layers) bits += l.bits;
    EXPECT_EQ(bits, d.linear_bits);
  }
}

TEST(Driver, MeasurementsOfLayerZeroEqualAnOutputsAndGgmlLevelsMeasure) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(testing::shared_data("tinystories/valid-excerpt.txt"));
  ModelReader reader(dir);
  const int n_layers = int(reader.config().n_layers);
  const CalibSet calib = small_calib(dir, 4, 64);
  QuantizeOptions o = uniform(reader, QuantMethod::kGptq, {2, 32, false});
  const Quantizer q = Quantizer::from(o);
  const DriverOptions d = DriverOptions::from(o);
  const std::vector<StorageFormat> levels = {
      StorageFormat::grid({2, 32, false}), StorageFormat::grid({4, 32, false}),
      StorageFormat::ggml(GgmlType::Q4_0), StorageFormat::ggml(GgmlType::Q8_0)};
  const std::vector<std::vector<double>> err = measure_layer_errors(reader, calib, q, levels, d);
  ASSERT_EQ(int(err.size()), n_layers);
  for (size_t k = 0; k < levels.size(); ++k) {
    NullSink none;
    QuantizeReport rep;
    quantize_layers(reader, &calib, q, std::vector<StorageFormat>(size_t(n_layers), levels[k]),
                    none, d, rep);
    EXPECT_EQ(err[0][k], rep.layers[0].output_rel_error) << levels[k].name();
  }
  for (int l = 0; l < n_layers; ++l) {
    ASSERT_EQ(err[size_t(l)].size(), levels.size());
    EXPECT_GT(err[size_t(l)][0], err[size_t(l)][1]) << l;  // int2 above int4
    EXPECT_GT(err[size_t(l)][2], err[size_t(l)][3]) << l;  // Q4_0 above Q8_0
    EXPECT_GT(err[size_t(l)][3], 0.0) << l;
  }
}

TEST(Driver, ReportsCarryStorageFormatsAndTheirRealBits) {
  const auto dir = testing::shared_model("stories260K");  // hidden 64, FFN width 172
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  ModelReader reader(dir);
  const ModelConfig& c = reader.config();
  const Tokenizer tok = Tokenizer::load(dir);
  GgufExportOptions g;
  g.base.method = QuantMethod::kRtn;
  g.base.progress = false;
  g.layer_types.assign(size_t(c.n_layers), GgmlType::Q4_K);
  const QuantizeReport rep = export_gguf(reader, tok, nullptr, g, tmp / "m.gguf");
  const GgufReader file(tmp / "m.gguf");
  // Rows of 64 fall back from Q4_K to Q5_0, rows of 172 to F16: each
  // tensor reports the type it is stored in and that tensor's bytes.
  int64_t linear_bits = 0;
  size_t i = 0;  // the reports run layer by layer, in GPTQ's order
  for (int l = 0; l < c.n_layers; ++l)
    for (const ProjectionGroup& group : projection_groups())
      for (Role role : group.roles) {
        const TensorReport& t = rep.tensors.at(i++);
        ASSERT_EQ(t.name, hf_layer_tensor_name(role, l));
        const GgmlType stored = t.cols == c.intermediate ? GgmlType::F16 : GgmlType::Q5_0;
        EXPECT_EQ(t.format, StorageFormat::ggml(stored)) << t.name;
        EXPECT_EQ(t.type, ggml_type_name(stored));
        EXPECT_EQ(t.bits, int64_t(file.get_tensor(gguf_layer_tensor_name(role, l)).nbytes) * 8);
        EXPECT_EQ(t.bpw, double(t.bits) / double(t.rows * t.cols));
        linear_bits += t.bits;
      }
  EXPECT_EQ(linear_bits, rep.linear_bits);
  // Layers: their format as given, bits summed over their tensors.
  const nlohmann::json j = nlohmann::json::parse(report_json(rep));
  ASSERT_EQ(j["layers"].size(), size_t(c.n_layers));
  for (const auto& l : j["layers"]) {
    EXPECT_EQ(l["format"], nlohmann::json({{"ggml", "Q4_K"}}));
    EXPECT_EQ(l["type"], "Q4_K");
    EXPECT_FALSE(l.contains("spec"));  // no integer grid
    EXPECT_DOUBLE_EQ(l["bpw"].get<double>(),
                     double(rep.linear_bits) / double(rep.linear_params));  // every layer alike
  }
  // A directory's layers and tensors keep their grid "spec".
  QuantizeOptions o = uniform(reader, QuantMethod::kRtn, {4, 64, true});
  const QuantizeReport d = quantize_model(reader, nullptr, o, tmp / "q");
  const nlohmann::json dj =
      nlohmann::json::parse(read_text_file(tmp / "q" / "quantize_report.json"));
  EXPECT_EQ(dj["layers"][0]["spec"],
            nlohmann::json({{"bits", 4}, {"group_size", 64}, {"symmetric", true}}));
  EXPECT_EQ(dj["layers"][0]["format"], StorageFormat::grid({4, 64, true}).to_json());
  EXPECT_EQ(dj["tensors"][0]["type"], "int4 g64 sym");
  EXPECT_DOUBLE_EQ(dj["layers"][0]["bpw"].get<double>(), d.layers[0].bpw());
}

}  // namespace
}  // namespace lieq
