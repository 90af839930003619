// AWQ in the driver: folding the scales leaves the float model's logits
// unchanged (random-llama with an injected v bias so that o's fold into v_proj
// rows and bias runs, folded values rounded to BF16; tinylm with GQA, BF16);
// end to end on tinylm at int3 g128: AWQ's quantized directory (which stores
// the folded norms in BF16) and GGUF file load and beat RTN on held-out text;
// the CLI's --method awq.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "eval/calibration.h"
#include "eval/perplexity.h"
#include "io/safetensors.h"
#include "model/forward.h"
#include "model/load.h"
#include "model/reader.h"
#include "pipeline/awq_layer.h"
#include "pipeline/gguf_export.h"
#include "pipeline/quantize.h"
#include "test_support.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::vector<float> logits_of(const ModelConfig& c, const ModelWeights& w,
                             const std::vector<int32_t>& ids, int64_t n_seq, int64_t T) {
  Forward fw(c);
  std::vector<float> x;
  fw.run(w, ids.data(), n_seq, T, 0, nullptr, x);
  std::vector<float> logits(size_t(n_seq * T * c.vocab));
  fw.logits(w, x.data(), n_seq * T, logits.data());
  return logits;
}

// Max |a - b| / max |b|.
double rel_max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0, d = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    m = std::max(m, std::fabs(double(b[i])));
    d = std::max(d, std::fabs(double(a[i]) - b[i]));
  }
  return d / m;
}

CalibSet small_calib(const fs::path& model_dir, int64_t n, int64_t len) {
  const Tokenizer tok = Tokenizer::load(model_dir);
  const auto text = read_text_file(testing::shared_data("tinystories/valid-excerpt.txt"));
  return make_calibration(tok, text, {n, len, 0}, 4096, "tinystories");
}

void expect_fold_keeps_logits(const std::string& model, bool inject_v_bias, DType stored) {
  const auto dir = testing::shared_model(model);
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(testing::shared_data("tinystories/valid-excerpt.txt"));
  Model m = load_model(dir);
  const ModelConfig& c = m.config;
  if (inject_v_bias)
    for (int l = 0; l < c.n_layers; ++l)
      m.weights.layers[size_t(l)][Role::kBv] =
          Tensor{testing::random_vec(size_t(c.kv_dim()), uint32_t(40 + l), 0.5f), {c.kv_dim()}};
  const int64_t n_seq = 2, T = 64;
  const CalibSet calib = small_calib(dir, n_seq, T);
  const std::vector<int32_t>& ids = calib.tokens;
  const std::vector<float> ref = logits_of(c, m.weights, ids, n_seq, T);

  QuantizeOptions opt;
  opt.awq.search_rows = 64;
  for (Role r : {Role::kAttnNorm, Role::kFfnNorm, Role::kBv}) opt.stored_dtypes[r] = stored;
  const QuantSpec spec{3, 64, false};
  const FakeQuantizer rtn = [spec](const float* w, int64_t rows, int64_t cols, const float*) {
    return quantize_rtn(w, rows, cols, spec).dequantize();
  };
  Forward fw(c);
  std::vector<float> x(size_t(n_seq * T * c.hidden));
  fw.embed(m.weights, ids.data(), n_seq * T, x.data());
  ModelWeights scaled = m.weights;
  int n_scaled = 0, n_groups = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = m.weights.layers[size_t(l)];
    const AwqLayer a =
        awq_scale_layer(fw, lw, l, x.data(), n_seq, T, opt, [&](Role) { return rtn; });
    ASSERT_EQ(a.groups.size(), 4u);
    EXPECT_EQ(a.groups[1].scaled, c.n_kv_heads == c.n_heads);
    for (const AwqGroupReport& g : a.groups) {
      n_groups += g.scaled;
      n_scaled += g.scaled && g.alpha > 0;
      if (g.scaled) {
        EXPECT_LE(g.error, g.error_plain);
      }
    }
    // Folded norms and biases are values of the stored dtype.
    for (Role r : {Role::kAttnNorm, Role::kFfnNorm, Role::kBv})
      for (float v : a.scaled[r].data) ASSERT_EQ(round_to_dtype(stored, v), v);
    EXPECT_NE(a.scaled[Role::kFfnNorm].data, lw[Role::kFfnNorm].data);
    if (inject_v_bias && a.groups[1].alpha > 0) {
      EXPECT_NE(a.scaled[Role::kBv].data, lw[Role::kBv].data);
    }
    scaled.layers[size_t(l)] = a.scaled;
    run_layer_chunks(fw, lw, l, x.data(), n_seq, T, 4096);
  }
  EXPECT_GT(n_scaled, n_groups / 2) << "most groups should take alpha > 0";
  const std::vector<float> got = logits_of(c, scaled, ids, n_seq, T);
  EXPECT_LT(rel_max_diff(got, ref), 2e-5) << model;
}

TEST(AwqFold, ScaledFloatModelKeepsItsLogits) {
  expect_fold_keeps_logits("random-llama", /*inject_v_bias=*/true, DType::kBF16);
  expect_fold_keeps_logits("tinylm-llama-12m", false, DType::kBF16);
}

// tinylm at 3 bits, calibrated on 8 x 128 TinyStories tokens; perplexity on
// the first 10 windows of 256 tokens of the Sherlock Holmes book.
struct TinylmCase {
  fs::path dir;
  ModelReader reader;
  CalibSet calib;
  Tokenizer tok;
  std::string text;
  explicit TinylmCase(const fs::path& d)
      : dir(d),
        reader(d),
        calib(small_calib(d, 8, 128)),
        tok(Tokenizer::load(d)),
        text(read_text_file(testing::shared_data("gutenberg/adventures-of-sherlock-holmes.txt"))) {}
  double ppl(const fs::path& p) const {
    PplOptions po;
    po.ctx = 256;
    po.max_windows = 10;
    po.progress = false;
    return perplexity(load_model(p), tok, text, po).ppl;
  }
};

TEST(AwqDriver, TinylmInt3DirectoryBeatsRtn) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(testing::shared_data("gutenberg/adventures-of-sherlock-holmes.txt"));
  testing::TempDir tmp;
  TinylmCase t(dir);
  const ModelConfig& c = t.reader.config();
  QuantizeOptions o;
  o.layer_specs.assign(size_t(c.n_layers), QuantSpec{3, 128, false});
  o.progress = false;
  o.awq.search_rows = 128;
  o.method = QuantMethod::kRtn;
  quantize_model(t.reader, &t.calib, o, tmp / "rtn");
  o.method = QuantMethod::kAwq;
  const QuantizeReport rep = quantize_model(t.reader, &t.calib, o, tmp / "awq");
  EXPECT_EQ(rep.method, "awq");
  int with_alpha = 0;
  for (const TensorReport& tr : rep.tensors) with_alpha += tr.awq_alpha >= 0;
  EXPECT_EQ(with_alpha, 6 * c.n_layers);  // q/k/v, gate/up, down (o unscaled: GQA)
  // The directory stores the folded norms in the source's BF16.
  ModelReader qr(tmp / "awq");
  const std::string norm = hf_layer_tensor_name(Role::kFfnNorm, 3);
  EXPECT_EQ(qr.store().get(norm).dtype, DType::kBF16);
  EXPECT_NE(qr.load(norm, {c.hidden}).data, t.reader.load(norm, {c.hidden}).data);
  const double p_fp = t.ppl(dir), p_rtn = t.ppl(tmp / "rtn"), p_awq = t.ppl(tmp / "awq");
  EXPECT_LT(p_awq, p_rtn) << "fp " << p_fp << " rtn " << p_rtn << " awq " << p_awq;
  EXPECT_GT(p_awq, p_fp);
  std::printf("tinylm int3 g128: ppl fp %.3f rtn %.3f awq %.3f\n", p_fp, p_rtn, p_awq);
}

TEST(AwqDriver, TinylmQ3KGgufBeatsPlainRtn) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  LIEQ_REQUIRE_PATH(testing::shared_data("gutenberg/adventures-of-sherlock-holmes.txt"));
  testing::TempDir tmp;
  TinylmCase t(dir);
  const ModelConfig& c = t.reader.config();
  GgufExportOptions g;
  g.base.progress = false;
  g.base.awq.search_rows = 128;
  g.layer_types.assign(size_t(c.n_layers), GgmlType::Q3_K);
  g.output_type = GgmlType::Q8_0;
  g.importance = false;
  g.base.method = QuantMethod::kRtn;
  export_gguf(t.reader, t.tok, &t.calib, g, tmp / "rtn.gguf");
  g.base.method = QuantMethod::kAwq;
  const QuantizeReport rep = export_gguf(t.reader, t.tok, &t.calib, g, tmp / "awq.gguf");
  EXPECT_EQ(rep.method, "awq");
  int with_alpha = 0;
  for (const TensorReport& tr : rep.tensors) with_alpha += tr.awq_alpha >= 0;
  EXPECT_EQ(with_alpha, 6 * c.n_layers);
  const double g_rtn = t.ppl(tmp / "rtn.gguf"), g_awq = t.ppl(tmp / "awq.gguf");
  EXPECT_LT(g_awq, g_rtn) << "Q3_K rtn " << g_rtn << " awq " << g_awq;
  std::printf("tinylm Q3_K: ppl rtn %.3f awq %.3f\n", g_rtn, g_awq);
}

TEST(AwqDriver, CliMethodAwq) {
  const auto dir = testing::shared_model("stories260K");  // FFN width 172: a short last group
  LIEQ_REQUIRE_PATH(dir);
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  LIEQ_REQUIRE_PATH(data);
  testing::TempDir tmp;
  auto q = testing::run_cli({"quantize", dir.string(), "--method", "awq", "--bits", "4", "--calib",
                             data.string(), "--samples", "4", "--seqlen", "64", "-o",
                             (tmp / "q").string(), "--json"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_THAT(q.out, HasSubstr("\"method\": \"awq\""));
  EXPECT_THAT(q.out, HasSubstr("\"awq_alpha\""));
  auto p = testing::run_cli(
      {"ppl", (tmp / "q").string(), "-f", data.string(), "--max-windows", "2", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  auto bad = testing::run_cli(
      {"quantize", dir.string(), "--method", "awq", "--bits", "4", "-o", (tmp / "b").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("AWQ needs a calibration text file"));
}

}  // namespace
}  // namespace lieq
