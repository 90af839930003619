// config.json parsing: architectures, derived values (head_dim, qkv_bias,
// qk_norm), RoPE scaling (inverse frequencies checked against independent
// double-precision computations) and the errors for bad files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include "expect_error.h"
#include "model/arch.h"
#include "model/config.h"
#include "test_support.h"
#include "util/json_file.h"

namespace lieq {
namespace {
namespace fs = std::filesystem;

// The random-llama config, inlined so that these tests do not need ../shared.
json llama_config() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 128, "intermediate_size": 320, "num_hidden_layers": 4,
    "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": 32,
    "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-06,
    "rope_theta": 10000.0, "tie_word_embeddings": false, "vocab_size": 8192,
    "bos_token_id": 8191, "eos_token_id": 8191, "torch_dtype": "float32",
    "attention_bias": false, "mlp_bias": false})");
}

class ConfigTest : public ::testing::Test {
 protected:
  fs::path write(const json& j) {
    testing::write_bytes(path_, j.dump(2));
    return path_;
  }
  fs::path write_text(const std::string& s) {
    testing::write_bytes(path_, s);
    return path_;
  }
  ModelConfig load(const json& j) { return load_config(write(j)); }
  // Loads j; expects lieq::Error naming config.json and containing every word.
  void expect_error(const json& j, std::initializer_list<std::string> words) {
    write(j);
    const std::string msg = testing::error_message([&] { load_config(path_); });
    EXPECT_THAT(msg, ::testing::HasSubstr(path_.string()));
    for (const auto& w : words) EXPECT_THAT(msg, ::testing::HasSubstr(w)) << j.dump();
  }

  testing::TempDir tmp_;
  fs::path path_ = tmp_ / "config.json";
};

// ------------------------------------------------------------------ positive

TEST_F(ConfigTest, LlamaFields) {
  const ModelConfig c = load(llama_config());
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  ASSERT_NE(c.arch, nullptr);
  EXPECT_STREQ(c.arch->model_type, "llama");
  EXPECT_EQ(c.hidden, 128);
  EXPECT_EQ(c.intermediate, 320);
  EXPECT_EQ(c.n_layers, 4);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.vocab, 8192);
  EXPECT_EQ(c.max_position_embeddings, 256);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 8191);
  EXPECT_EQ(c.eos_token_id, 8191);
  EXPECT_EQ(c.torch_dtype, "float32");
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(c.sliding_window, 0);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kNone);
  EXPECT_EQ(c.q_dim(), 128);
  EXPECT_EQ(c.kv_dim(), 128);
}

TEST_F(ConfigTest, AcceptsTheModelDirectoryToo) {
  write(llama_config());
  EXPECT_EQ(load_config(tmp_.path()).hidden, 128);
  EXPECT_EQ(load_config(path_).hidden, 128);
  // An empty directory: the error names the config.json that is missing.
  testing::TempDir empty;
  EXPECT_LIEQ_ERROR(load_config(empty.path()), (empty / "config.json").string(), "no such file");
}

TEST_F(ConfigTest, HeadDimDefaultsToHiddenOverHeads) {
  json j = llama_config();
  j.erase("head_dim");
  j["num_attention_heads"] = 8;
  j["num_key_value_heads"] = 2;
  const ModelConfig c = load(j);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.q_dim(), 128);
  EXPECT_EQ(c.kv_dim(), 32);
  j["head_dim"] = nullptr;  // null means absent
  EXPECT_EQ(load(j).head_dim, 16);
}

TEST_F(ConfigTest, ExplicitHeadDimMayDifferFromHiddenOverHeads) {
  json j = llama_config();
  j["architectures"] = {"Qwen3ForCausalLM"};
  j["head_dim"] = 48;
  j["num_key_value_heads"] = 2;
  const ModelConfig c = load(j);
  EXPECT_EQ(c.head_dim, 48);
  EXPECT_EQ(c.q_dim(), 192);
  EXPECT_EQ(c.kv_dim(), 96);
}

TEST_F(ConfigTest, KvHeadsDefaultToHeads) {
  json j = llama_config();
  j.erase("num_key_value_heads");
  EXPECT_EQ(load(j).n_kv_heads, 4);
}

TEST_F(ConfigTest, DefaultsForOptionalFields) {
  json j = llama_config();
  for (const char* k : {"max_position_embeddings", "rms_norm_eps", "rope_theta",
                        "tie_word_embeddings", "bos_token_id", "eos_token_id", "torch_dtype",
                        "hidden_act", "attention_bias", "mlp_bias"})
    j.erase(k);
  const ModelConfig c = load(j);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, -1);
  EXPECT_EQ(c.eos_token_id, -1);
  EXPECT_EQ(c.torch_dtype, "");
}

TEST_F(ConfigTest, EosTokenIdListTakesTheFirst) {
  json j = llama_config();
  j["eos_token_id"] = {128001, 128008, 128009};
  EXPECT_EQ(load(j).eos_token_id, 128001);
}

TEST_F(ConfigTest, Qwen2SetsQkvBias) {
  json j = llama_config();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j.erase("attention_bias");  // Qwen2 configs do not say it; the architecture implies it
  const ModelConfig c = load(j);
  EXPECT_STREQ(c.arch->model_type, "qwen2");
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_TRUE(role_present(Role::kBq, c));
  EXPECT_FALSE(role_present(Role::kQNorm, c));
}

TEST_F(ConfigTest, Qwen3SetsQkNorm) {
  json j = llama_config();
  j["architectures"] = {"Qwen3ForCausalLM"};
  const ModelConfig c = load(j);
  EXPECT_STREQ(c.arch->model_type, "qwen3");
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_TRUE(role_present(Role::kKNorm, c));
  EXPECT_FALSE(role_present(Role::kBk, c));
  EXPECT_EQ(role_shape(Role::kQNorm, c), std::vector<int64_t>{32});
}

TEST_F(ConfigTest, LlamaAttentionBiasSetsQkvBias) {
  json j = llama_config();
  j["attention_bias"] = true;
  EXPECT_TRUE(load(j).qkv_bias);
}

TEST_F(ConfigTest, SlidingWindow) {
  json j = llama_config();
  j["sliding_window"] = 4096;
  EXPECT_EQ(load(j).sliding_window, 0);  // llama: only with use_sliding_window
  j["use_sliding_window"] = true;
  EXPECT_EQ(load(j).sliding_window, 4096);
  j = llama_config();
  j["architectures"] = {"MistralForCausalLM"};
  j["sliding_window"] = 4096;
  EXPECT_EQ(load(j).sliding_window, 4096);  // mistral: on by default
  j["sliding_window"] = nullptr;
  EXPECT_EQ(load(j).sliding_window, 0);
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["sliding_window"] = 4096;
  j["use_sliding_window"] = false;
  EXPECT_EQ(load(j).sliding_window, 0);
}

TEST_F(ConfigTest, RoleShapes) {
  json j = llama_config();
  j["num_key_value_heads"] = 2;
  const ModelConfig c = load(j);
  EXPECT_EQ(role_shape(Role::kWq, c), (std::vector<int64_t>{128, 128}));
  EXPECT_EQ(role_shape(Role::kWk, c), (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(role_shape(Role::kWo, c), (std::vector<int64_t>{128, 128}));
  EXPECT_EQ(role_shape(Role::kWgate, c), (std::vector<int64_t>{320, 128}));
  EXPECT_EQ(role_shape(Role::kWdown, c), (std::vector<int64_t>{128, 320}));
  EXPECT_EQ(role_shape(Role::kBv, c), (std::vector<int64_t>{64}));
  EXPECT_EQ(role_shape(Role::kAttnNorm, c), (std::vector<int64_t>{128}));
  EXPECT_EQ(hf_layer_tensor_name(Role::kWdown, 3), "model.layers.3.mlp.down_proj.weight");
  for (const RoleSpec& r : role_table()) EXPECT_EQ(&role_spec(r.role), &r);
}

TEST(Arch, FindAndList) {
  EXPECT_NE(find_arch("LlamaForCausalLM"), nullptr);
  EXPECT_NE(find_arch("MistralForCausalLM"), nullptr);
  EXPECT_NE(find_arch("Qwen2ForCausalLM"), nullptr);
  EXPECT_NE(find_arch("Qwen3ForCausalLM"), nullptr);
  EXPECT_EQ(find_arch("GPT2LMHeadModel"), nullptr);
  EXPECT_EQ(find_arch("llamaforcausallm"), nullptr);
  EXPECT_EQ(supported_arch_names(),
            "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM");
}

// -------------------------------------------------------------- RoPE scaling

TEST_F(ConfigTest, RopeNoScalingIsThetaPower) {
  const ModelConfig c = load(llama_config());
  const std::vector<double> f = rope_inv_freq(c);
  ASSERT_EQ(f.size(), 16u);
  for (size_t i = 0; i < f.size(); ++i)
    EXPECT_NEAR(f[i], std::exp(-std::log(10000.0) * double(2 * i) / 32.0), 1e-15) << i;
  EXPECT_DOUBLE_EQ(f[0], 1.0);
}

TEST_F(ConfigTest, RopeLinearScalingDividesByFactor) {
  json j = llama_config();
  const std::vector<double> base = rope_inv_freq(load(j));
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  const ModelConfig c = load(j);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 4.0);
  const std::vector<double> f = rope_inv_freq(c);
  ASSERT_EQ(f.size(), base.size());
  for (size_t i = 0; i < f.size(); ++i) EXPECT_DOUBLE_EQ(f[i], base[i] / 4.0) << i;
  // Older configs spell the key "type".
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  const std::vector<double> g = rope_inv_freq(load(j));
  for (size_t i = 0; i < g.size(); ++i) EXPECT_DOUBLE_EQ(g[i], base[i] / 2.0) << i;
}

TEST_F(ConfigTest, RopeScalingDefaultOrNullIsNone) {
  json j = llama_config();
  const std::vector<double> base = rope_inv_freq(load(j));
  j["rope_scaling"] = nullptr;
  EXPECT_EQ(load(j).rope_scaling.type, RopeScalingType::kNone);
  j["rope_scaling"] = {{"rope_type", "default"}};
  const ModelConfig c = load(j);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kNone);
  EXPECT_EQ(rope_inv_freq(c), base);
}

// Llama 3.1 (transformers _compute_llama3_parameters), written out in double
// independently of the library: frequencies whose wavelength is shorter than
// original/high_freq_factor stay, longer than original/low_freq_factor are
// divided by factor, and the band in between interpolates linearly in
// original/wavelength.
TEST_F(ConfigTest, RopeLlama3MatchesHandComputation) {
  json j = llama_config();
  j["hidden_size"] = 256;
  j["num_attention_heads"] = 4;
  j["num_key_value_heads"] = 4;
  j["head_dim"] = 64;
  j["rope_theta"] = 500000.0;
  j["max_position_embeddings"] = 131072;
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  const ModelConfig c = load(j);
  ASSERT_EQ(c.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  const std::vector<double> got = rope_inv_freq(c);
  ASSERT_EQ(got.size(), 32u);

  int n_kept = 0, n_scaled = 0, n_smoothed = 0;
  for (int i = 0; i < 32; ++i) {
    const double base = std::pow(500000.0, -double(2 * i) / 64.0);
    const double wavelength = 2.0 * std::numbers::pi / base;
    double want;
    if (wavelength < 8192.0 / 4.0) {
      want = base, ++n_kept;
    } else if (wavelength > 8192.0 / 1.0) {
      want = base / 8.0, ++n_scaled;
    } else {
      const double t = (8192.0 / wavelength - 1.0) / (4.0 - 1.0);  // 0 at low end, 1 at high end
      want = base / 8.0 + t * (base - base / 8.0), ++n_smoothed;
      EXPECT_GT(got[size_t(i)], base / 8.0);
      EXPECT_LT(got[size_t(i)], base);
    }
    EXPECT_NEAR(got[size_t(i)], want, 1e-12 * want) << "i=" << i;
  }
  // theta 500000 and head_dim 64 put frequencies in all three regimes
  // (i <= 14 kept, i = 15..17 smoothed, i >= 18 scaled).
  EXPECT_EQ(n_kept, 15);
  EXPECT_EQ(n_smoothed, 3);
  EXPECT_EQ(n_scaled, 14);
  // A few values written out: i = 0 keeps 1, i = 31 is 500000^(-62/64) / 8.
  EXPECT_DOUBLE_EQ(got[0], 1.0);
  EXPECT_NEAR(got[31], std::pow(500000.0, -62.0 / 64.0) / 8.0, 1e-18);
}

TEST_F(ConfigTest, RopeLlama3DefaultsForOptionalFactors) {
  json j = llama_config();
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 32.0}};
  const ModelConfig c = load(j);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
}

// ------------------------------------------------------------------ errors

TEST_F(ConfigTest, MissingFile) {
  EXPECT_LIEQ_ERROR(load_config(tmp_ / "config.json"), (tmp_ / "config.json").string(),
                    "no such file");
}

TEST_F(ConfigTest, MalformedJson) {
  write_text(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 128,)");
  EXPECT_LIEQ_ERROR(load_config(path_), path_.string(), "malformed JSON");
  write_text("");
  EXPECT_LIEQ_ERROR(load_config(path_), path_.string(), "malformed JSON");
}

TEST_F(ConfigTest, NotAnObject) {
  expect_error(json::array({1, 2}), {"expected a JSON object"});
}

TEST_F(ConfigTest, UnknownArchitecture) {
  json j = llama_config();
  j["architectures"] = {"GPT2LMHeadModel"};
  expect_error(j, {"unsupported architecture", "GPT2LMHeadModel", "LlamaForCausalLM"});
}

TEST_F(ConfigTest, MissingArchitectures) {
  json j = llama_config();
  j.erase("architectures");
  expect_error(j, {"architectures"});
  j["architectures"] = json::array();
  expect_error(j, {"architectures"});
  j["architectures"] = "LlamaForCausalLM";
  expect_error(j, {"architectures"});
}

TEST_F(ConfigTest, MissingRequiredSizes) {
  for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "vocab_size"}) {
    json j = llama_config();
    j.erase(key);
    expect_error(j, {"missing", key});
    j[key] = nullptr;
    expect_error(j, {"missing", key});
  }
}

TEST_F(ConfigTest, WrongTypes) {
  json j = llama_config();
  j["hidden_size"] = "128";
  expect_error(j, {"hidden_size", "wrong type"});
  j = llama_config();
  j["tie_word_embeddings"] = "yes";
  expect_error(j, {"tie_word_embeddings", "wrong type"});
  j = llama_config();
  j["rope_theta"] = json::array({1});
  expect_error(j, {"rope_theta", "wrong type"});
}

TEST_F(ConfigTest, NonPositiveSizes) {
  for (const char* key : {"hidden_size", "num_hidden_layers", "num_key_value_heads", "vocab_size"}) {
    json j = llama_config();
    j[key] = 0;
    expect_error(j, {"positive"});
    j[key] = -4;
    expect_error(j, {"positive"});
  }
}

TEST_F(ConfigTest, HeadsNotDividing) {
  json j = llama_config();
  j["num_key_value_heads"] = 3;  // 4 query heads cannot share 3 kv heads
  expect_error(j, {"num_attention_heads (4)", "num_key_value_heads (3)"});
  j = llama_config();
  j.erase("head_dim");
  j["num_attention_heads"] = 3;  // 128 / 3 is not a whole head
  j["num_key_value_heads"] = 3;
  expect_error(j, {"hidden_size (128)", "num_attention_heads (3)", "divisible"});
}

TEST_F(ConfigTest, OddHeadDim) {
  json j = llama_config();
  j["head_dim"] = 33;
  expect_error(j, {"head_dim"});
}

TEST_F(ConfigTest, RopeScalingErrors) {
  json j = llama_config();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  expect_error(j, {"unsupported rope_scaling", "yarn"});
  j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 4.0}};
  expect_error(j, {"unsupported rope_scaling", "dynamic"});
  j["rope_scaling"] = "linear";
  expect_error(j, {"rope_scaling"});
  j["rope_scaling"] = {{"rope_type", 3}, {"factor", 4.0}};
  expect_error(j, {"rope_type", "wrong type"});
  j["rope_scaling"] = {{"rope_type", "linear"}};
  expect_error(j, {"factor"});
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 0.0}};
  expect_error(j, {"factor"});
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", "8"}};
  expect_error(j, {"factor", "wrong type"});
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 4.0},
                       {"high_freq_factor", 4.0}};
  expect_error(j, {"low_freq_factor"});
}

TEST_F(ConfigTest, UnsupportedActivationAndMlpBias) {
  json j = llama_config();
  j["hidden_act"] = "gelu";
  expect_error(j, {"hidden_act", "gelu"});
  j = llama_config();
  j["mlp_bias"] = true;
  expect_error(j, {"mlp_bias"});
}

}  // namespace
}  // namespace lieq
