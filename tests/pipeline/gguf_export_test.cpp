// GGUF export end to end: hyperparameters and tensor names round trip, the
// llama Q/K row permutation, F32 files that reproduce the golden logits after
// export -> load, quantized files whose bytes decode to what the driver
// optimised, exact bits accounting, GPTQ below importance-weighted RTN, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "model/tensor_f32.h"
#include "../expect_error.h"
#include "eval/calibration.h"
#include "eval/perplexity.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/forward.h"
#include "model/gguf_model.h"
#include "model/load.h"
#include "pipeline/gguf_export.h"
#include "test_support.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace lieq {
namespace {
using ::testing::HasSubstr;
namespace fs = std::filesystem;

GgufExportOptions plain_options(const ModelConfig& c, GgmlType t) {
  GgufExportOptions o;
  o.base.method = QuantMethod::kRtn;
  o.base.progress = false;
  o.layer_types.assign(size_t(c.n_layers), t);
  o.embed_type = t;
  o.output_type = t;
  return o;
}

CalibSet small_calib(const fs::path& model_dir, int64_t n, int64_t len) {
  const Tokenizer tok = Tokenizer::load(model_dir);
  const auto text = read_text_file(testing::shared_data("tinystories/valid-excerpt.txt"));
  return make_calibration(tok, text, {n, len, 0}, 4096, "tinystories");
}

// Max |a - b| / max |b|.
float rel_max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0, d = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    m = std::max(m, std::fabs(b[i]));
    d = std::max(d, std::fabs(a[i] - b[i]));
  }
  return d / m;
}

std::vector<float> logits_of(const Model& m, const std::vector<int32_t>& ids) {
  Forward fw(m.config);
  std::vector<float> x;
  const int64_t T = int64_t(ids.size());
  fw.run(m.weights, ids.data(), 1, T, 0, nullptr, x);
  std::vector<float> logits(size_t(T * m.config.vocab));
  fw.logits(m.weights, x.data(), T, logits.data());
  return logits;
}

std::vector<int32_t> golden_ids(const fs::path& dir) {
  SafetensorsFile golden(dir / "golden.safetensors");
  const std::vector<float> f = tensor_to_f32(*golden.find("input_ids"));
  return {f.begin(), f.end()};
}

TEST(GgufModel, QkPermutationMatchesTheConvertersFormulaAndInverts) {
  // 2 heads of head_dim 4, one byte per row: HF row h*4 + j*2 + i goes to
  // GGUF row h*4 + 2i + j.
  const std::vector<uint8_t> hf = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<uint8_t> g(8), back(8);
  permute_qk_rows(hf.data(), g.data(), 2, 4, 1, true);
  EXPECT_EQ(g, (std::vector<uint8_t>{0, 2, 1, 3, 4, 6, 5, 7}));
  permute_qk_rows(g.data(), back.data(), 2, 4, 1, false);
  EXPECT_EQ(back, hf);
  // head_dim 8: reshape(2, 4).swapaxes -> rows 0,4,1,5,2,6,3,7 within the head.
  std::vector<uint8_t> hf8(8), g8(8);
  for (int i = 0; i < 8; ++i) hf8[size_t(i)] = uint8_t(i);
  permute_qk_rows(hf8.data(), g8.data(), 1, 8, 1, true);
  EXPECT_EQ(g8, (std::vector<uint8_t>{0, 4, 1, 5, 2, 6, 3, 7}));
}

TEST(GgufModel, HyperparametersRoundTripForEveryArchitecture) {
  for (const char* name :
       {"stories260K", "random-llama", "random-qwen2", "random-qwen3", "tinylm-llama-12m"}) {
    const auto dir = testing::shared_model(name);
    LIEQ_REQUIRE_PATH(dir);
    SCOPED_TRACE(name);
    ModelConfig c = load_config(dir / "config.json");
    testing::TempDir tmp;
    GgufWriter w;
    write_gguf_hparams(w, c, name, GgmlType::Q4_K);
    // config_from_gguf takes vocab and tying from the tensors.
    std::vector<uint16_t> zeros(size_t(c.vocab * c.hidden), 0);
    w.add_tensor(kGgufEmbedding, {c.hidden, c.vocab}, GgmlType::F16, zeros.data(),
                 zeros.size() * 2);
    if (!c.tie_word_embeddings)
      w.add_tensor(kGgufOutput, {c.hidden, c.vocab}, GgmlType::F16, zeros.data(), zeros.size() * 2);
    if (c.qkv_bias) {
      std::vector<float> b(size_t(c.q_dim()), 0.0f);
      w.add_tensor(gguf_layer_tensor_name(Role::kBq, 0), {c.q_dim()}, GgmlType::F32, b.data(),
                   b.size() * 4);
    }
    w.write(tmp / "m.gguf");
    const GgufReader r(tmp / "m.gguf");
    EXPECT_EQ(r.get("general.architecture").as_string(), c.arch->gguf_arch);
    EXPECT_EQ(r.get("general.file_type").as_u32(), 15u);
    EXPECT_EQ(r.get(std::string(c.arch->gguf_arch) + ".block_count").type(), GgufType::kUint32);
    const ModelConfig g = config_from_gguf(r);
    EXPECT_EQ(g.arch, find_arch_by_gguf(c.arch->gguf_arch));
    EXPECT_EQ(g.hidden, c.hidden);
    EXPECT_EQ(g.intermediate, c.intermediate);
    EXPECT_EQ(g.n_layers, c.n_layers);
    EXPECT_EQ(g.n_heads, c.n_heads);
    EXPECT_EQ(g.n_kv_heads, c.n_kv_heads);
    EXPECT_EQ(g.head_dim, c.head_dim);
    EXPECT_EQ(g.vocab, c.vocab);
    EXPECT_EQ(g.max_position_embeddings, c.max_position_embeddings);
    EXPECT_FLOAT_EQ(float(g.rms_norm_eps), float(c.rms_norm_eps));
    EXPECT_FLOAT_EQ(float(g.rope_theta), float(c.rope_theta));
    EXPECT_EQ(g.tie_word_embeddings, c.tie_word_embeddings);
    EXPECT_EQ(g.qkv_bias, c.qkv_bias);
    EXPECT_EQ(g.qk_norm, c.qk_norm);
  }
}

TEST(GgufModel, Llama3RopeScalingBecomesFactorsWithTheSameFrequencies) {
  ModelConfig c = load_config(testing::shared_model("random-llama") / "config.json");
  c.rope_scaling.type = RopeScalingType::kLlama3;
  c.rope_scaling.factor = 8;
  c.rope_scaling.original_max_position_embeddings = 64;
  const std::vector<float> f = gguf_rope_freq_factors(c);
  ASSERT_EQ(int64_t(f.size()), c.head_dim / 2);
  ModelConfig g = c;
  g.rope_scaling = RopeScaling{};
  g.rope_scaling.type = RopeScalingType::kFactors;
  g.rope_scaling.freq_factors.assign(f.begin(), f.end());
  const auto a = rope_inv_freq(c), b = rope_inv_freq(g);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i] / a[i], 1.0, 1e-6) << i;
  EXPECT_FLOAT_EQ(f.front(), 1.0f);  // the shortest wavelength is kept
  EXPECT_FLOAT_EQ(f.back(), 8.0f);   // the longest is slowed by the factor
}

TEST(GgufModel, BadHeadersAreClearErrors) {
  testing::TempDir tmp;
  const ModelConfig c = load_config(testing::shared_model("random-qwen2") / "config.json");
  auto write_with = [&](const std::function<void(GgufWriter&)>& edit) {
    GgufWriter w;
    write_gguf_hparams(w, c, "x", GgmlType::F32);
    std::vector<float> e(size_t(c.vocab * c.hidden), 0.0f);
    w.add_tensor(kGgufEmbedding, {c.hidden, c.vocab}, GgmlType::F32, e.data(), e.size() * 4);
    edit(w);
    w.write(tmp / "bad.gguf");
    return GgufReader(tmp / "bad.gguf");
  };
  EXPECT_LIEQ_ERROR(
      config_from_gguf(write_with([](GgufWriter& w) { w.set("general.architecture", "gpt2"); })),
      "unsupported general.architecture \"gpt2\"");
  EXPECT_LIEQ_ERROR(config_from_gguf(write_with(
                        [](GgufWriter& w) { w.set("qwen2.rope.dimension_count", uint32_t{16}); })),
                    "partial RoPE");
  EXPECT_LIEQ_ERROR(
      config_from_gguf(write_with([](GgufWriter& w) { w.set("qwen2.rope.scaling.type", "yarn"); })),
      "unsupported rope.scaling.type \"yarn\"");
  EXPECT_LIEQ_ERROR(config_from_gguf(write_with(
                        [](GgufWriter& w) { w.set("qwen2.attention.head_count", int32_t{0}); })),
                    "must be positive");
  // A missing hyperparameter names the key.
  GgufWriter w;
  w.set("general.architecture", "qwen2");
  w.write(tmp / "empty.gguf");
  EXPECT_LIEQ_ERROR(config_from_gguf(GgufReader(tmp / "empty.gguf")),
                    "missing metadata key 'qwen2.block_count'");
  // Not a model at all.
  testing::write_bytes(tmp / "junk.gguf", "GGUF\x03");
  EXPECT_LIEQ_ERROR(load_model(tmp / "junk.gguf"), "junk.gguf");
  testing::write_bytes(tmp / "text.txt", "hello");
  EXPECT_LIEQ_ERROR(load_model(tmp / "text.txt"), "neither a model directory nor a GGUF file");
}

// F32 export then load: the logits of every shared model equal the
// Hugging Face model's (the permutation, names, norms, biases and tying all
// have to be right for that).
class GgufF32RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufF32RoundTrip, LogitsEqualTheOriginalModel) {
  const auto dir = testing::shared_model(GetParam());
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  ModelReader reader(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  const QuantizeReport rep = export_gguf(
      reader, tok, nullptr, plain_options(reader.config(), GgmlType::F32), tmp / "m.gguf");
  const Model hf = load_hf_model(dir);
  const Model g = load_model(tmp / "m.gguf");
  EXPECT_EQ(g.format, ModelFormat::kGguf);
  EXPECT_EQ(g.weight_dtype, "F32");
  EXPECT_EQ(rep.linear_bpw(), 32.0);
  EXPECT_EQ(rep.file_bytes, int64_t(fs::file_size(tmp / "m.gguf")));
  const auto ids = golden_ids(dir);
  EXPECT_LE(rel_max_diff(logits_of(g, ids), logits_of(hf, ids)), 1e-6f);
  // Every weight is bit-identical after the round trip.
  for (size_t l = 0; l < hf.weights.layers.size(); ++l)
    for (const RoleSpec& s : role_table())
      EXPECT_EQ(g.weights.layers[l][s.role].data, hf.weights.layers[l][s.role].data)
          << "layer " << l << " " << s.hf_suffix;
  // The tokenizer travels in the file.
  const Tokenizer gt = load_tokenizer(g);
  const std::string text = "Once upon a time, there was a little dog named Max.";
  EXPECT_EQ(gt.encode(text), tok.encode(text));
}

INSTANTIATE_TEST_SUITE_P(SharedModels, GgufF32RoundTrip,
                         ::testing::Values("stories260K", "random-llama", "random-qwen2",
                                           "random-qwen3", "tinylm-llama-12m"));

// A BF16 (llama: permuted q/k rows) or F16 GGUF loaded for inference keeps
// its matrices 16-bit: the same values as the float32 load, the same logits.
TEST(GgufExport, SixteenBitFileLoadsSixteenBit) {
  for (const auto& [name, type] : {std::pair{"random-llama", GgmlType::BF16},
                                   std::pair{"random-qwen2", GgmlType::F16}}) {
    SCOPED_TRACE(name);
    const auto dir = testing::shared_model(name);
    LIEQ_REQUIRE_PATH(dir);
    testing::TempDir tmp;
    ModelReader reader(dir);
    const Tokenizer tok = Tokenizer::load(dir);
    export_gguf(reader, tok, nullptr, plain_options(reader.config(), type), tmp / "m.gguf");
    const Model f32 = load_model(tmp / "m.gguf");
    LoadOptions keep;
    keep.keep_16bit = true;
    const Model h = load_model(tmp / "m.gguf", keep);
    EXPECT_TRUE(h.weights.embed.is_16bit());
    for (size_t l = 0; l < h.weights.layers.size(); ++l)
      for (Role role : kLinearRoles) {
        const Tensor& t = h.weights.layers[l][role];
        ASSERT_TRUE(t.is_16bit()) << l;
        EXPECT_EQ(t.nbytes() * 2, f32.weights.layers[l][role].nbytes());
        std::vector<float> row(static_cast<size_t>(t.cols()));
        for (int64_t r = 0; r < t.rows(); r += 7) {  // q/k rows back in Hugging Face order
          tensor_row_to_f32(t, r, row.data());
          const float* want = f32.weights.layers[l][role].ptr() + r * t.cols();
          ASSERT_TRUE(std::equal(row.begin(), row.end(), want)) << l << " row " << r;
        }
      }
    EXPECT_FALSE(h.weights.layers[0][Role::kAttnNorm].is_16bit());
    const auto ids = golden_ids(dir);
    EXPECT_LE(rel_max_diff(logits_of(h, ids), logits_of(f32, ids)), 1e-6f);
  }
}

TEST(GgufExport, QuantizedFileDecodesToTheDriversWeightsAndCountsBits) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  ModelReader reader(dir);
  const ModelConfig& c = reader.config();
  const Tokenizer tok = Tokenizer::load(dir);
  const CalibSet calib = small_calib(dir, 8, 128);
  GgufExportOptions o = plain_options(c, GgmlType::Q4_K);
  o.base.method = QuantMethod::kGptq;
  o.layer_types[0] = GgmlType::Q6_K;
  o.layer_types[1] = GgmlType::Q2_K;
  o.output_type = GgmlType::Q6_K;
  const QuantizeReport rep = export_gguf(reader, tok, &calib, o, tmp / "q.gguf");
  const GgufReader r(tmp / "q.gguf");
  EXPECT_EQ(r.get_tensor("blk.0.ffn_down.weight").type, GgmlType::Q6_K);
  EXPECT_EQ(r.get_tensor("blk.1.attn_q.weight").type, GgmlType::Q2_K);
  EXPECT_EQ(r.get_tensor("blk.5.ffn_up.weight").type, GgmlType::Q4_K);
  EXPECT_EQ(r.get_tensor("blk.5.attn_norm.weight").type, GgmlType::F32);
  EXPECT_EQ(r.get_tensor(kGgufEmbedding).type, GgmlType::Q6_K);  // tied: the output type
  EXPECT_EQ(r.find_tensor(kGgufOutput), nullptr);
  // Bits: linear bits are the sum of the ggml rows' bytes.
  int64_t linear = 0;
  for (int l = 0; l < c.n_layers; ++l)
    for (Role role : kLinearRoles) {
      const auto shape = role_shape(role, c);
      linear +=
          shape[0] * shape[1] * int64_t(ggml_bits_per_weight(o.layer_types[size_t(l)]) * 16) / 16;
    }
  EXPECT_EQ(rep.linear_bits, linear);
  EXPECT_EQ(rep.file_bytes, int64_t(r.file_size()));
  EXPECT_GT(rep.file_bpw(), double(rep.total_bits) / double(rep.total_params));
  // Per-tensor reports carry the type and an output error; the 2-bit layer's is the largest.
  double err_q2 = 0, err_q6 = 0;
  for (const auto& t : rep.tensors) {
    if (t.name == "model.layers.1.mlp.up_proj.weight") {
      err_q2 = t.output_rel_error;
      EXPECT_EQ(t.type, "Q2_K");
    }
    if (t.name == "model.layers.0.mlp.up_proj.weight") err_q6 = t.output_rel_error;
  }
  EXPECT_GT(err_q2, 10 * err_q6);
  // The file loads, and q/k come back in Hugging Face order: its perplexity is
  // close to the original's on held-out text.
  const Model q = load_model(tmp / "q.gguf");
  const Model fp = load_hf_model(dir);
  const std::string text =
      read_text_file(testing::shared_data("gutenberg/adventures-of-sherlock-holmes.txt"))
          .substr(0, 30000);
  PplOptions po;
  po.ctx = 256;
  po.progress = false;
  const double p_fp = perplexity(fp, tok, text, po).ppl, p_q = perplexity(q, tok, text, po).ppl;
  EXPECT_GT(p_q, p_fp);
  EXPECT_LT(p_q, 1.25 * p_fp) << "fp " << p_fp << " gguf " << p_q;
}

TEST(GgufExport, GptqIntoBlocksBeatsImportanceWeightedRtn) {
  const auto dir = testing::shared_model("tinylm-llama-12m");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  ModelReader reader(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  const CalibSet calib = small_calib(dir, 8, 128);
  GgufExportOptions o = plain_options(reader.config(), GgmlType::Q3_K);
  o.output_type = GgmlType::Q8_0;
  const QuantizeReport rtn = export_gguf(reader, tok, &calib, o, tmp / "rtn.gguf");
  o.base.method = QuantMethod::kGptq;
  const QuantizeReport gptq = export_gguf(reader, tok, &calib, o, tmp / "gptq.gguf");
  EXPECT_EQ(rtn.file_bytes, gptq.file_bytes);
  double e_rtn = 0, e_gptq = 0;
  for (const auto& l : rtn.layers) e_rtn += l.output_rel_error;
  for (const auto& l : gptq.layers) e_gptq += l.output_rel_error;
  EXPECT_LT(e_gptq, 0.8 * e_rtn) << "summed layer output error, GPTQ " << e_gptq << " RTN "
                                 << e_rtn;
}

TEST(GgufExport, RowLengthsOffTheBlockSizeFallBackAsLlamaCppDoes) {
  EXPECT_EQ(ggml_row_type(GgmlType::Q4_K, 512), GgmlType::Q4_K);
  EXPECT_EQ(ggml_row_type(GgmlType::Q4_K, 128), GgmlType::Q5_0);
  EXPECT_EQ(ggml_row_type(GgmlType::Q2_K, 128), GgmlType::IQ4_NL);
  EXPECT_EQ(ggml_row_type(GgmlType::Q3_K, 320), GgmlType::IQ4_NL);
  EXPECT_EQ(ggml_row_type(GgmlType::Q5_K, 64), GgmlType::Q5_1);
  EXPECT_EQ(ggml_row_type(GgmlType::Q6_K, 96), GgmlType::Q8_0);
  EXPECT_EQ(ggml_row_type(GgmlType::Q4_0, 172), GgmlType::F16);
  EXPECT_EQ(ggml_row_type(GgmlType::Q8_0, 64), GgmlType::Q8_0);
  const GgmlTypeMap m = parse_ggml_type_map("2=IQ4_XS,5=q5_k");
  EXPECT_EQ(m.at(2), GgmlType::IQ4_XS);
  EXPECT_EQ(m.at(3), GgmlType::Q3_K);
  EXPECT_EQ(m.at(5), GgmlType::Q5_K);
  EXPECT_LIEQ_ERROR(parse_ggml_type_map("2=Q9_K"), "bad entry \"2=Q9_K\"");
  EXPECT_LIEQ_ERROR(parse_ggml_type_map("two=Q2_K"), "bad entry");
}

TEST(GgufExport, CliWritesAGgufThatPplAndGenerateRead) {
  const auto dir = testing::shared_model("stories260K");
  LIEQ_REQUIRE_PATH(dir);
  testing::TempDir tmp;
  const std::string out = (tmp / "s.gguf").string();
  auto q = testing::run_cli({"quantize", dir.string(), "--method", "rtn", "--bits", "8", "-o", out,
                             "--output-type", "Q8_0", "--json"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_THAT(q.out, HasSubstr("\"type\": \"Q8_0\""));
  // FFN width 172 is no multiple of 32: down_proj falls back to F16.
  EXPECT_THAT(q.out, HasSubstr("\"type\": \"F16\""));
  auto g = testing::run_cli({"generate", out, "--prompt", "Once upon a time", "-n", "20"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_THAT(g.out, HasSubstr("Once upon a time"));
  const auto data = testing::shared_data("tinystories/valid-excerpt.txt");
  auto p = testing::run_cli({"ppl", out, "-f", data.string(), "--max-windows", "2", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_THAT(p.out, HasSubstr("\"ppl\""));
  // A truncated file is refused with its name.
  const std::string bytes = testing::read_bytes(out);
  testing::write_bytes(tmp / "cut.gguf", bytes.substr(0, bytes.size() / 2));
  auto bad = testing::run_cli({"ppl", (tmp / "cut.gguf").string(), "-f", data.string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("cut.gguf"));
}

}  // namespace
}  // namespace lieq
