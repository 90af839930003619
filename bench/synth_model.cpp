// Writes a random BF16 model in Hugging Face layout, shaped like Qwen3-4B by
// default, for scaling runs of `lieq quantize` (bench/quantize_scaling.sh):
//
//   build/synth_model --out DIR [--layers 36] [--hidden 2560] [--intermediate 9728]
//                     [--heads 32] [--kv-heads 8] [--head-dim 128] [--vocab 151936]
//                     [--tokenizer-from ../shared/models/random-qwen3] [--seed 1]
//                     [--arch qwen3|llama]
//
// DIR gets config.json (Qwen3ForCausalLM, tied embeddings as Qwen3-4B; with
// --arch llama the same shape as LlamaForCausalLM, without q/k norms, which
// the February 2025 llama.cpp runs: bench/llama_compare.sh at this size),
// model.safetensors (weights ~ N(0, 0.02^2), norms 1, all BF16) and the
// tokenizer files copied from --tokenizer-from. The safetensors file is
// streamed tensor by tensor, so memory stays at about one tensor (the
// embedding: vocab x hidden BF16, 778 MB at the default shape).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/arch.h"
#include "model/config.h"
#include "model/random_init.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace fs = std::filesystem;
using lieq::DType;

namespace {

struct Options {
  fs::path out;
  fs::path tokenizer_from = "../shared/models/random-qwen3";  // from the repository root
  int64_t layers = 36, hidden = 2560, intermediate = 9728, heads = 32, kv_heads = 8;
  int64_t head_dim = 128, vocab = 151936;
  uint64_t seed = 1;
  std::string arch = "qwen3";  // or "llama"
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "synth_model: %s\nusage: synth_model --out DIR [--layers N] [--hidden N] "
               "[--intermediate N] [--heads N] [--kv-heads N] [--head-dim N] [--vocab N] "
               "[--tokenizer-from DIR] [--seed S] [--arch qwen3|llama]\n",
               msg);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + a).c_str());
    const char* v = argv[++i];
    auto num = [&] {
      char* end = nullptr;
      const long long x = std::strtoll(v, &end, 10);
      if (*end != '\0' || x <= 0) usage((a + ": expected a positive integer").c_str());
      return int64_t(x);
    };
    if (a == "--out")
      o.out = v;
    else if (a == "--tokenizer-from")
      o.tokenizer_from = v;
    else if (a == "--layers")
      o.layers = num();
    else if (a == "--hidden")
      o.hidden = num();
    else if (a == "--intermediate")
      o.intermediate = num();
    else if (a == "--heads")
      o.heads = num();
    else if (a == "--kv-heads")
      o.kv_heads = num();
    else if (a == "--head-dim")
      o.head_dim = num();
    else if (a == "--vocab")
      o.vocab = num();
    else if (a == "--seed")
      o.seed = uint64_t(num());
    else if (a == "--arch" && (std::string(v) == "qwen3" || std::string(v) == "llama"))
      o.arch = v;
    else
      usage(("unknown option " + a).c_str());
  }
  if (o.out.empty()) usage("--out is required");
  return o;
}

// Random N(0, std^2) BF16 values, generated in parallel chunks with their own seeds.
void fill_bf16_normal(std::vector<uint16_t>& out, double std_dev, uint64_t seed) {
  constexpr int64_t kChunk = int64_t(1) << 20;
  const int64_t n = int64_t(out.size());
  lieq::ThreadPool::global().parallel_for(
      0, (n + kChunk - 1) / kChunk, 1, [&](int64_t b, int64_t e, int) {
        std::vector<float> tmp(static_cast<size_t>(kChunk));
        for (int64_t c = b; c < e; ++c) {
          const int64_t i0 = c * kChunk, m = std::min(kChunk, n - i0);
          lieq::fill_normal(tmp.data(), m, std_dev, seed * 1000003ULL + uint64_t(c));
          for (int64_t i = 0; i < m; ++i) out[size_t(i0 + i)] = lieq::f32_to_bf16(tmp[size_t(i)]);
        }
      });
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    fs::create_directories(o.out);
    // config.json: the tokenizer model's config (special token ids) with the new shape.
    nlohmann::json cfg;
    {
      std::ifstream in(o.tokenizer_from / "config.json");
      if (!in) usage(("cannot read " + (o.tokenizer_from / "config.json").string()).c_str());
      cfg = nlohmann::json::parse(in);
    }
    const bool llama = o.arch == "llama";
    cfg["architectures"] = {llama ? "LlamaForCausalLM" : "Qwen3ForCausalLM"};
    cfg["model_type"] = o.arch;
    cfg["hidden_size"] = o.hidden;
    cfg["intermediate_size"] = o.intermediate;
    cfg["num_hidden_layers"] = o.layers;
    cfg["num_attention_heads"] = o.heads;
    cfg["num_key_value_heads"] = o.kv_heads;
    cfg["head_dim"] = o.head_dim;
    cfg["vocab_size"] = o.vocab;
    cfg["max_position_embeddings"] = 40960;
    cfg["tie_word_embeddings"] = true;
    cfg["torch_dtype"] = "bfloat16";
    cfg["attention_bias"] = false;
    std::ofstream(o.out / "config.json") << cfg.dump(2) << "\n";
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(o.tokenizer_from / f, o.out / f, fs::copy_options::overwrite_existing);
    const lieq::ModelConfig c = lieq::load_config(o.out / "config.json");

    // Declarations in file order: embedding, layers, final norm.
    std::vector<lieq::SafetensorsStreamWriter::Decl> decls;
    decls.push_back({lieq::kHfEmbedding, DType::kBF16, {c.vocab, c.hidden}});
    for (int l = 0; l < int(c.n_layers); ++l)
      for (const auto& r : lieq::role_table())
        if (lieq::role_present(r.role, c))
          decls.push_back(
              {lieq::hf_layer_tensor_name(r.role, l), DType::kBF16, lieq::role_shape(r.role, c)});
    decls.push_back({lieq::kHfFinalNorm, DType::kBF16, {c.hidden}});
    int64_t n_params = 0;
    for (const auto& d : decls) {
      int64_t n = 1;
      for (int64_t s : d.shape) n *= s;
      n_params += n;
    }
    std::fprintf(stderr, "synth_model: %lld layers, %.3fB parameters (%.2f GB BF16) -> %s\n",
                 (long long)c.n_layers, double(n_params) / 1e9, double(n_params) * 2 / 1e9,
                 o.out.c_str());

    lieq::SafetensorsStreamWriter writer(o.out / "model.safetensors", decls, {{"format", "pt"}});
    std::vector<uint16_t> buf;
    uint64_t stream = o.seed;
    for (const auto& d : decls) {
      int64_t n = 1;
      for (int64_t s : d.shape) n *= s;
      buf.assign(size_t(n), lieq::f32_to_bf16(1.0f));
      if (d.shape.size() == 2) fill_bf16_normal(buf, c.initializer_range, ++stream);
      writer.write(d.name, buf.data(), buf.size() * sizeof(uint16_t));
    }
    writer.commit();
    std::printf("%s %lld\n", o.out.c_str(), (long long)n_params);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synth_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
