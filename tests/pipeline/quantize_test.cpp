// The quantization driver end to end on tiny models: output directory format,
// loading it back, exact bits-per-weight accounting, GPTQ below RTN, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "eval/perplexity.h"
#include "io/quant_manifest.h"
#include "model/load.h"
#include "model/reader.h"
#include "pipeline/quantize.h"
#include "pipeline_fixtures.h"
#include "test_support.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
namespace fs = std::filesystem;

using testing::small_calib;
using testing::uniform;

TEST(QuantizeDriver, Stories260KGroupSizeNotDividingRowRoundTrips) {
  const auto dir = testing::shared_model("stories260K");  // FFN width 172
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(testing::shared_data("tinystories/valid-excerpt.txt"));
  testing::TempDir tmp;
  ModelReader reader(dir);
  const CalibSet calib = small_calib(dir, 8, 128);
  const QuantSpec spec{4, 128, false};
  const QuantizeReport rep =
      quantize_model(reader, &calib, uniform(reader, QuantMethod::kGptq, spec), tmp / "q");
  ASSERT_TRUE(is_quantized_dir(tmp / "q"));
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json",
                        "model.safetensors", "lieq_quant.json", "quantize_report.json"})
    EXPECT_TRUE(fs::exists(tmp / "q" / f)) << f;
  EXPECT_FALSE(fs::exists(tmp / ("q.partial." + std::to_string(::getpid()))));
  // Exact accounting: every linear at int4 g128 asym, shapes of stories260K.
  const ModelConfig& c = reader.config();
  int64_t bits = 0, params = 0;
  for (Role r : kLinearRoles) {
    const auto s = role_shape(r, c);
    const int64_t groups = (s[1] + 127) / 128;
    bits += c.n_layers * (s[0] * s[1] * 4 + s[0] * groups * 32);
    params += c.n_layers * s[0] * s[1];
  }
  EXPECT_EQ(rep.linear_bits, bits);
  EXPECT_EQ(rep.linear_params, params);
  // Loading the quantized directory gives the dequantized weights of the report.
  ModelReader qr(tmp / "q");
  ASSERT_TRUE(qr.quantized());
  EXPECT_EQ(qr.stored_type(hf_layer_tensor_name(Role::kWdown, 0)), spec.name());
  const LayerWeights ql = qr.load_layer(2), fl = reader.load_layer(2);
  double err = 0, norm = 0;
  for (size_t i = 0; i < fl[Role::kWup].data.size(); ++i) {
    const double d = fl[Role::kWup].data[i] - ql[Role::kWup].data[i];
    err += d * d;
    norm += double(fl[Role::kWup].data[i]) * fl[Role::kWup].data[i];
  }
  EXPECT_GT(err, 0.0);
  EXPECT_LT(err / norm, 0.05);  // int4 g128: a few percent of the weight energy
  // Norms are copied bit for bit.
  EXPECT_EQ(ql[Role::kAttnNorm].data, fl[Role::kAttnNorm].data);
  // The quantized model still writes TinyStories: perplexity within 30% of the original.
  const Model fm = load_model(dir), qm = load_model(tmp / "q");
  EXPECT_EQ(qm.format, ModelFormat::kLieqQuantized);
  const Tokenizer tok = load_tokenizer(qm);
  PplOptions po;
  po.ctx = 256;
  po.max_windows = 8;
  po.progress = false;
  const std::string text = read_text_file(testing::shared_data("tinystories/valid-excerpt.txt"));
  const double p_fp = perplexity(fm, tok, text, po).ppl, p_q = perplexity(qm, tok, text, po).ppl;
  EXPECT_LT(p_q, p_fp * 1.3) << p_fp << " -> " << p_q;
}

TEST(QuantizeDriver, GptqBeatsRtnOnLayerOutputsOfARealModel) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(testing::shared_data("tinystories/valid-excerpt.txt"));
  testing::TempDir tmp;
  ModelReader reader(dir);
  const CalibSet calib = small_calib(dir, 8, 128);
  for (int bits : {2, 3}) {
    const QuantSpec spec{bits, 32, false};
    const QuantizeReport g = quantize_model(reader, &calib, uniform(reader, QuantMethod::kGptq, spec),
                                            tmp / ("g" + std::to_string(bits)));
    const QuantizeReport r = quantize_model(reader, &calib, uniform(reader, QuantMethod::kRtn, spec),
                                            tmp / ("r" + std::to_string(bits)));
    ASSERT_EQ(g.layers.size(), r.layers.size());
    // Layer 0 sees the same input in both runs: GPTQ's output error must be lower.
    EXPECT_LT(g.layers[0].output_rel_error, r.layers[0].output_rel_error) << bits;
    double ge = 0, re = 0;
    for (size_t i = 0; i < g.tensors.size(); ++i) ge += g.tensors[i].output_rel_error, re += r.tensors[i].output_rel_error;
    EXPECT_LT(ge, re) << bits;
  }
}

TEST(QuantizeDriver, BadInputsAreClearErrors) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  ModelReader reader(dir);
  const auto err = [&](const QuantizeOptions& o, const fs::path& out, const CalibSet* cal) {
    try {
      quantize_model(reader, cal, o, out);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_THAT(err(uniform(reader, QuantMethod::kRtn, {7, 128, false}), tmp / "a", nullptr), HasSubstr("bits"));
  EXPECT_THAT(err(uniform(reader, QuantMethod::kRtn, {4, 48, false}), tmp / "b", nullptr), HasSubstr("group"));
  EXPECT_THAT(err(uniform(reader, QuantMethod::kGptq, {4, 128, false}), tmp / "c", nullptr),
              HasSubstr("calibration"));
  // An output directory holding something else is not overwritten.
  fs::create_directories(tmp / "busy");
  testing::write_bytes(tmp / "busy" / "notes.txt", "mine");
  EXPECT_THAT(err(uniform(reader, QuantMethod::kRtn, {4, 128, false}), tmp / "busy", nullptr),
              HasSubstr("is not a lieq quantized model"));
  EXPECT_EQ(testing::read_bytes(tmp / "busy" / "notes.txt"), "mine");
  // A quantized directory as input.
  quantize_model(reader, nullptr, uniform(reader, QuantMethod::kRtn, {4, 128, false}), tmp / "q");
  ModelReader qr(tmp / "q");
  try {
    quantize_model(qr, nullptr, uniform(qr, QuantMethod::kRtn, {4, 128, false}), tmp / "qq");
    FAIL() << "quantizing a quantized model must fail";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("already a lieq quantized model"));
  }
  EXPECT_FALSE(fs::exists(tmp / "qq"));
}

TEST(QuantizedDir, CorruptedManifestAndTensorsAreClearErrors) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  ModelReader reader(dir);
  quantize_model(reader, nullptr, uniform(reader, QuantMethod::kRtn, {3, 64, true}), tmp / "q");
  const std::string manifest = testing::read_bytes(tmp / "q" / kQuantManifestFile);
  auto load_err = [&](const std::string& m) {
    testing::write_bytes(tmp / "q" / kQuantManifestFile, m);
    try {
      ModelReader r(tmp / "q");
      r.load_all();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_THAT(load_err("{"), HasSubstr("lieq_quant.json: malformed JSON"));
  nlohmann::json j = nlohmann::json::parse(manifest);
  j["version"] = 99;
  EXPECT_THAT(load_err(j.dump()), HasSubstr("version 99 is not supported"));
  j = nlohmann::json::parse(manifest);
  j["tensors"]["model.layers.0.mlp.up_proj.weight"]["bits"] = 7;
  EXPECT_THAT(load_err(j.dump()), HasSubstr("bits"));
  j = nlohmann::json::parse(manifest);
  j["tensors"]["model.layers.0.mlp.up_proj.weight"]["bits"] = 4;  // parts stored at 3 bits
  EXPECT_THAT(load_err(j.dump()), HasSubstr("the manifest implies"));
  j = nlohmann::json::parse(manifest);
  j["tensors"]["model.layers.0.mlp.up_proj.weight"]["shape"] = {10, 10};
  EXPECT_THAT(load_err(j.dump()), HasSubstr("config.json implies"));
}

}  // namespace
}  // namespace lieq
