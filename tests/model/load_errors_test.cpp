// load_hf_model on damaged copies of shared/models/random-llama (F32, 4 layers,
// hidden 128, untied): every damage must end in a lieq::Error that names the
// offending file and the problem, never in a crash or a silently wrong model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "expect_error.h"
#include "io/safetensors.h"
#include "model/weights.h"
#include "test_support.h"
#include "util/half.h"
#include "util/json_file.h"

namespace lieq {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct EditableTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
// Changes a tensor in place; returns false to drop it.
using TensorEdit = std::function<bool(EditableTensor&)>;

class LoadErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = testing::shared_model("random-llama");
    LIEQ_REQUIRE_PATH(src_);
    dir_ = tmp_ / "model";
    testing::copy_dir(src_, dir_);
  }

  fs::path config_path() const { return dir_ / "config.json"; }
  fs::path weights_path() const { return dir_ / "model.safetensors"; }

  // Rewrites config.json as the original changed by f (edits do not accumulate).
  void edit_config(const std::function<void(json&)>& f) {
    json j = read_json_file(src_ / "config.json");
    f(j);
    fs::permissions(config_path(), fs::perms::owner_write, fs::perm_options::add);
    testing::write_bytes(config_path(), j.dump(2));
  }

  // Rewrites model.safetensors from the original, passing each tensor through
  // edit, then appending `extra`.
  void rewrite_weights(const TensorEdit& edit, const std::vector<EditableTensor>& extra = {}) {
    const SafetensorsFile orig(src_ / "model.safetensors");
    SafetensorsWriter w;
    for (const auto& [name, t] : orig.tensors()) {
      EditableTensor e{name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)};
      if (!edit(e)) continue;
      w.add(e.name, e.dtype, e.shape, e.bytes.data(), e.bytes.size());
    }
    for (const auto& e : extra) w.add(e.name, e.dtype, e.shape, e.bytes.data(), e.bytes.size());
    fs::remove(weights_path());
    w.write(weights_path());
  }

  void truncate_weights(size_t size) {
    const std::string bytes = testing::read_bytes(src_ / "model.safetensors");
    ASSERT_LT(size, bytes.size());
    fs::remove(weights_path());
    testing::write_bytes(weights_path(), bytes.substr(0, size));
  }

  uint64_t header_len() const {
    const std::string bytes = testing::read_bytes(src_ / "model.safetensors");
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    return n;
  }

  // load_hf_model must throw lieq::Error whose message holds every word.
  void expect_load_error(std::initializer_list<std::string> words) {
    const std::string msg = testing::error_message([&] { (void)load_hf_model(dir_); });
    for (const auto& w : words) EXPECT_THAT(msg, HasSubstr(w));
  }

  testing::TempDir tmp_;
  fs::path src_, dir_;
};

TEST_F(LoadErrors, UndamagedCopyLoads) {
  const Model m = load_hf_model(dir_);
  EXPECT_EQ(m.config.n_layers, 4);
  EXPECT_EQ(m.weights.layers.size(), 4u);
  EXPECT_EQ(m.weights.embed.shape, (std::vector<int64_t>{8192, 128}));
  EXPECT_FALSE(m.weights.lm_head.empty());
  EXPECT_EQ(m.weight_dtype, "F32");
  // A rewrite that changes nothing also loads, so the damage below is the only cause.
  rewrite_weights([](EditableTensor&) { return true; });
  const Model m2 = load_hf_model(dir_);
  EXPECT_EQ(m2.weights.layers[3][Role::kWdown].data, m.weights.layers[3][Role::kWdown].data);
}

TEST_F(LoadErrors, NotADirectory) {
  EXPECT_LIEQ_ERROR((void)load_hf_model(tmp_ / "absent"), (tmp_ / "absent").string(),
                    "no such model directory");
  testing::write_bytes(tmp_ / "file", "x");
  EXPECT_LIEQ_ERROR((void)load_hf_model(tmp_ / "file"), (tmp_ / "file").string(),
                    "not a directory");
}

// ----------------------------------------------------------------- config.json

TEST_F(LoadErrors, MissingConfig) {
  fs::remove(config_path());
  expect_load_error({config_path().string(), "no such file"});
}

TEST_F(LoadErrors, MalformedConfig) {
  fs::remove(config_path());
  testing::write_bytes(config_path(), "{\"architectures\": [\"LlamaForCausalLM\"], ");
  expect_load_error({config_path().string(), "malformed JSON"});
}

TEST_F(LoadErrors, UnknownArchitecture) {
  edit_config([](json& j) { j["architectures"] = {"GPT2LMHeadModel"}; });
  expect_load_error({config_path().string(), "unsupported architecture", "GPT2LMHeadModel"});
}

TEST_F(LoadErrors, MissingHiddenSize) {
  edit_config([](json& j) { j.erase("hidden_size"); });
  expect_load_error({config_path().string(), "missing", "hidden_size"});
}

TEST_F(LoadErrors, HeadsNotDividing) {
  edit_config([](json& j) { j["num_key_value_heads"] = 3; });
  expect_load_error({config_path().string(), "num_key_value_heads"});
  edit_config([](json& j) {
    j["num_key_value_heads"] = 3;
    j["num_attention_heads"] = 3;
    j.erase("head_dim");
  });
  expect_load_error({config_path().string(), "divisible"});
}

TEST_F(LoadErrors, UnknownRopeScaling) {
  edit_config([](json& j) { j["rope_scaling"] = {{"rope_type", "su"}, {"factor", 2.0}}; });
  expect_load_error({config_path().string(), "rope_scaling", "\"su\""});
}

// Config values that disagree with the checkpoint surface as tensor errors.
TEST_F(LoadErrors, ConfigDisagreesWithCheckpoint) {
  edit_config([](json& j) { j["vocab_size"] = 8000; });
  expect_load_error({weights_path().string(), "model.embed_tokens.weight", "[8192, 128]",
                     "[8000, 128]"});
  edit_config([](json& j) { j["num_hidden_layers"] = 5; });
  expect_load_error({weights_path().string(), "missing tensor", "model.layers.4."});
  edit_config([](json& j) { j["num_hidden_layers"] = 3; });
  expect_load_error({dir_.string(), "more decoder layers", "num_hidden_layers"});
  edit_config([](json& j) { j["architectures"] = {"Qwen2ForCausalLM"}; });
  expect_load_error({weights_path().string(), "missing tensor", "q_proj.bias"});
}

// ---------------------------------------------------------- model.safetensors

TEST_F(LoadErrors, MissingWeights) {
  fs::remove(weights_path());
  expect_load_error({dir_.string(), "no model.safetensors"});
}

TEST_F(LoadErrors, TruncatedInsideHeaderLength) {
  for (size_t cut : {size_t(0), size_t(1), size_t(4), size_t(7)}) {
    SCOPED_TRACE(cut);
    truncate_weights(cut);
    expect_load_error({weights_path().string(), "truncated"});
  }
}

TEST_F(LoadErrors, TruncatedInsideHeader) {
  const uint64_t n = header_len();
  for (uint64_t cut : {uint64_t(8), uint64_t(9), 8 + n / 2, 8 + n - 1}) {
    SCOPED_TRACE(cut);
    truncate_weights(size_t(cut));
    expect_load_error({weights_path().string(), "header length", "overruns"});
  }
}

TEST_F(LoadErrors, TruncatedInsideData) {
  const uint64_t n = header_len();
  const uint64_t size = fs::file_size(src_ / "model.safetensors");
  for (uint64_t cut : {8 + n, 8 + n + 1, 8 + n + (size - 8 - n) / 2, size - 1}) {
    SCOPED_TRACE(cut);
    truncate_weights(size_t(cut));
    expect_load_error({weights_path().string(), "out of range"});
  }
}

TEST_F(LoadErrors, GarbageHeader) {
  const std::string bytes = testing::read_bytes(src_ / "model.safetensors");
  std::string bad = bytes;
  bad[8 + 3] = '\x01';  // a control character inside the JSON
  fs::remove(weights_path());
  testing::write_bytes(weights_path(), bad);
  expect_load_error({weights_path().string(), "malformed"});
}

TEST_F(LoadErrors, TensorShapeDoesNotMatchConfig) {
  // Same bytes, transposed shape: only the shape check can catch it.
  rewrite_weights([](EditableTensor& t) {
    if (t.name == "model.layers.1.mlp.up_proj.weight") t.shape = {128, 320};
    return true;
  });
  expect_load_error({weights_path().string(), "model.layers.1.mlp.up_proj.weight",
                     "shape [128, 320] does not match [320, 128]"});
}

TEST_F(LoadErrors, NormWithWrongLength) {
  rewrite_weights([](EditableTensor& t) {
    if (t.name == "model.norm.weight") {
      t.shape = {64};
      t.bytes.resize(64 * 4);
    }
    return true;
  });
  expect_load_error({weights_path().string(), "model.norm.weight", "[64]", "[128]"});
}

TEST_F(LoadErrors, TensorOfWrongDtype) {
  // F16 where config.json says torch_dtype float32.
  rewrite_weights([](EditableTensor& t) {
    if (t.name != "model.layers.2.self_attn.v_proj.weight") return true;
    std::vector<float> f(t.bytes.size() / 4);
    std::memcpy(f.data(), t.bytes.data(), t.bytes.size());
    std::vector<uint16_t> h(f.size());
    for (size_t i = 0; i < f.size(); ++i) h[i] = f32_to_f16(f[i]);
    t.dtype = DType::kF16;
    t.bytes.assign(reinterpret_cast<const uint8_t*>(h.data()),
                   reinterpret_cast<const uint8_t*>(h.data()) + h.size() * 2);
    return true;
  });
  expect_load_error({weights_path().string(), "model.layers.2.self_attn.v_proj.weight", "F16",
                     "torch_dtype", "float32"});
}

TEST_F(LoadErrors, TensorOfIntegerDtype) {
  rewrite_weights([](EditableTensor& t) {
    if (t.name == "model.layers.0.input_layernorm.weight") t.dtype = DType::kI32;
    return true;
  });
  expect_load_error({weights_path().string(), "model.layers.0.input_layernorm.weight", "I32",
                     "not a supported weight type"});
}

TEST_F(LoadErrors, MissingLayerTensor) {
  rewrite_weights([](EditableTensor& t) { return t.name != "model.layers.3.self_attn.k_proj.weight"; });
  expect_load_error({weights_path().string(), "missing tensor",
                     "\"model.layers.3.self_attn.k_proj.weight\""});
}

TEST_F(LoadErrors, MissingLmHeadOfUntiedModel) {
  rewrite_weights([](EditableTensor& t) { return t.name != "lm_head.weight"; });
  expect_load_error({weights_path().string(), "missing tensor", "\"lm_head.weight\""});
}

TEST_F(LoadErrors, ExtraDecoderLayer) {
  const float one[128] = {1};
  EditableTensor extra{"model.layers.4.self_attn.q_proj.weight", DType::kF32, {1, 128},
                       std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(one),
                                            reinterpret_cast<const uint8_t*>(one) + sizeof one)};
  rewrite_weights([](EditableTensor&) { return true; }, {extra});
  expect_load_error({dir_.string(), "more decoder layers"});
}

TEST_F(LoadErrors, ShardedCopyLoadsLikeTheSingleFile) {
  // Split the tensors over two shards with an index; the weights must be the same.
  const Model ref = load_hf_model(dir_);
  const SafetensorsFile orig(src_ / "model.safetensors");
  SafetensorsWriter w1, w2;
  json weight_map = json::object();
  for (const auto& [name, t] : orig.tensors()) {
    const bool first = name.find("layers.2") == std::string::npos &&
                       name.find("layers.3") == std::string::npos && name != "lm_head.weight";
    (first ? w1 : w2).add(name, t.dtype, t.shape, t.data, t.nbytes);
    weight_map[name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  fs::remove(weights_path());
  w1.write(dir_ / "model-00001-of-00002.safetensors");
  w2.write(dir_ / "model-00002-of-00002.safetensors");
  testing::write_bytes(dir_ / "model.safetensors.index.json",
                       json{{"weight_map", weight_map}}.dump());
  const Model m = load_hf_model(dir_);
  EXPECT_EQ(m.weights.embed.data, ref.weights.embed.data);
  EXPECT_EQ(m.weights.lm_head.data, ref.weights.lm_head.data);
  for (size_t l = 0; l < 4; ++l)
    for (const RoleSpec& r : role_table())
      EXPECT_EQ(m.weights.layers[l][r.role].data, ref.weights.layers[l][r.role].data)
          << l << " " << r.hf_suffix;

  // Now damage the index: a tensor the second shard lacks.
  weight_map["model.layers.0.mlp.up_proj.weight"] = "model-00002-of-00002.safetensors";
  testing::write_bytes(dir_ / "model.safetensors.index.json",
                       json{{"weight_map", weight_map}}.dump());
  expect_load_error({(dir_ / "model.safetensors.index.json").string(), "is not in shard",
                     "model.layers.0.mlp.up_proj.weight"});
}

}  // namespace
}  // namespace lieq
