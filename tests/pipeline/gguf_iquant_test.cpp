// The i-quants (IQ1_S ... IQ3_S) and the ternary TQ1_0/TQ2_0 in GGUF files end
// to end: GPTQ into their code books below importance-weighted RTN (llama.cpp's
// quantizer; the ternary types ignore the importance, as there), files
// that load and decode to what the driver optimised, the planned file size
// equal to the written one, and llama.cpp's row fallback for them.
#include <gtest/gtest.h>

#include <cmath>

#include "../expect_error.h"
#include "eval/calibration.h"
#include "eval/perplexity.h"
#include "io/gguf.h"
#include "model/gguf_model.h"
#include "model/load.h"
#include "pipeline/gguf_export.h"
#include "test_support.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {
namespace fs = std::filesystem;

GgufExportOptions iq_options(const ModelConfig& c, GgmlType t, QuantMethod m) {
  GgufExportOptions o;
  o.base.method = m;
  o.base.progress = false;
  o.layer_types.assign(size_t(c.n_layers), t);
  o.embed_type = GgmlType::Q4_K;
  o.output_type = GgmlType::Q6_K;
  return o;
}

CalibSet calib_of(const fs::path& dir) {
  const Tokenizer tok = Tokenizer::load(dir);
  const auto text = read_text_file(testing::shared_data("tinystories/valid-excerpt.txt"));
  return make_calibration(tok, text, {8, 128, 0}, 4096, "tinystories");
}

double summed_error(const QuantizeReport& r) {
  double e = 0;
  for (const auto& l : r.layers) e += l.output_rel_error;
  return e;
}

class GgufIquant : public ::testing::TestWithParam<GgmlType> {};

// GPTQ's error compensation inside the code books: the summed layer output
// error is well below llama.cpp's importance-weighted quantizer of the same
// type; both files have the same size, equal to the planned size; the GPTQ
// file loads, its weights decode to the report's types, and it still models
// text.
TEST_P(GgufIquant, GptqBeatsImportanceWeightedRtnAndTheFileLoads) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  ModelReader reader(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  const CalibSet calib = calib_of(dir);
  const GgmlType type = GetParam();
  GgufExportOptions o = iq_options(reader.config(), type, QuantMethod::kRtn);
  const QuantizeReport rtn = export_gguf(reader, tok, &calib, o, tmp / "rtn.gguf");
  o.base.method = QuantMethod::kGptq;
  const QuantizeReport gptq = export_gguf(reader, tok, &calib, o, tmp / "gptq.gguf");
  EXPECT_EQ(rtn.file_bytes, gptq.file_bytes);
  const std::vector<StorageFormat> formats(size_t(reader.config().n_layers),
                                           StorageFormat::ggml(type));
  EXPECT_EQ(gguf_file_bytes(reader, tok, o, formats, gptq.method),
            uint64_t(fs::file_size(tmp / "gptq.gguf")));
  EXPECT_LT(summed_error(gptq), 0.9 * summed_error(rtn))
      << ggml_type_name(type) << ": GPTQ " << summed_error(gptq) << " RTN " << summed_error(rtn);
  const GgufReader r(tmp / "gptq.gguf");
  EXPECT_EQ(r.get_tensor("blk.2.attn_v.weight").type, type);
  EXPECT_EQ(r.get_tensor("blk.2.ffn_down.weight").type, type);
  const Model q = load_model(tmp / "gptq.gguf");
  const std::string text =
      read_text_file(testing::shared_data("gutenberg/adventures-of-sherlock-holmes.txt"))
          .substr(0, 12000);
  PplOptions po;
  po.ctx = 256;
  po.progress = false;
  const double p = perplexity(q, tok, text, po).ppl;
  EXPECT_TRUE(std::isfinite(p));
  EXPECT_LT(p, 2000.0) << ggml_type_name(type);
}

INSTANTIATE_TEST_SUITE_P(Types, GgufIquant,
                         ::testing::Values(GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S,
                                           GgmlType::IQ3_XXS, GgmlType::IQ3_S, GgmlType::IQ1_S,
                                           GgmlType::IQ1_M, GgmlType::TQ1_0, GgmlType::TQ2_0),
                         [](const auto& param_info) {
                           return std::string(ggml_type_name(param_info.param));
                         });

TEST(GgufIquantPolicy, RowsOffTheSuperBlockFallBackToIq4Nl) {
  for (GgmlType t : {GgmlType::IQ1_S, GgmlType::IQ1_M, GgmlType::IQ2_XXS, GgmlType::IQ2_XS,
                     GgmlType::IQ2_S, GgmlType::IQ3_XXS, GgmlType::IQ3_S}) {
    EXPECT_EQ(ggml_row_type(t, 512), t);
    EXPECT_EQ(ggml_row_type(t, 320), GgmlType::IQ4_NL) << ggml_type_name(t);
    EXPECT_EQ(ggml_row_type(t, 100), GgmlType::F16) << ggml_type_name(t);
  }
}

// The planned size counts exactly what the writer writes, for every model
// layout (tied and untied heads, biases, q/k norms, rows that fall back).
TEST(GgufFileBytes, EqualsTheWrittenFile) {
  for (const char* name : {"random-llama", "random-qwen2", "random-qwen3", "stories260K"}) {
    SCOPED_TRACE(name);
    const auto dir = testing::shared_model(name);
    LIEQ_REQUIRE_PATH(dir);
    testing::TempDir tmp;
    ModelReader reader(dir);
    const Tokenizer tok = Tokenizer::load(dir);
    GgufExportOptions o = iq_options(reader.config(), GgmlType::Q4_K, QuantMethod::kRtn);
    o.layer_types[0] = GgmlType::IQ2_S;  // rows of 128 or 64: the fallback
    const QuantizeReport rep = export_gguf(reader, tok, nullptr, o, tmp / "m.gguf");
    // Each fallen-back tensor is named in the report.
    bool named = false;
    for (const std::string& fb : rep.fallbacks)
      named = named || (fb.find("blk.0.") == 0 && fb.find(": IQ2_S -> ") != std::string::npos);
    EXPECT_TRUE(named) << rep.fallbacks.size() << " fallbacks";
    std::vector<StorageFormat> f;
    for (GgmlType t : o.layer_types) f.push_back(StorageFormat::ggml(t));
    EXPECT_EQ(gguf_file_bytes(reader, tok, o, f, rep.method),
              uint64_t(fs::file_size(tmp / "m.gguf")));
  }
}

}  // namespace
}  // namespace lieq
