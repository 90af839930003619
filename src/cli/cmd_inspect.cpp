// lieq inspect MODEL [--json]: architecture, shapes, parameter counts, dtypes, tokenizer.
#include <iostream>
#include <map>
#include <memory>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "io/gguf.h"
#include "tokenizer/gguf_tokenizer.h"
#include "model/gguf_model.h"
#include "io/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "model/config.h"
#include "model/weights.h"

namespace lieq::cli {

namespace {
struct InspectArgs {
  std::string model;
  bool json = false;
};

const char* rope_scaling_name(RopeScalingType t) {
  switch (t) {
    case RopeScalingType::kNone: return "none";
    case RopeScalingType::kLinear: return "linear";
    case RopeScalingType::kLlama3: return "llama3";
    case RopeScalingType::kFactors: return "factors (rope_freqs)";
  }
  return "?";
}

int run_inspect(const InspectArgs& a) {
  const std::filesystem::path dir(a.model);
  // A Hugging Face (or lieq quantized) directory, or a GGUF file.
  const bool gguf = !std::filesystem::is_directory(dir) && is_gguf_file(dir);
  std::unique_ptr<GgufReader> g;
  std::unique_ptr<TensorStore> store;
  if (gguf) g = std::make_unique<GgufReader>(dir);
  else store = std::make_unique<TensorStore>(dir);
  const ModelConfig c = gguf ? config_from_gguf(*g) : load_config(dir / "config.json");
  std::map<std::string, int64_t> dtype_params;
  size_t n_tensors = 0, n_files = 1;
  int64_t stored_params = 0;
  if (gguf) {
    for (const GgufTensorInfo& t : g->tensors()) {
      dtype_params[ggml_type_name(t.type)] += t.numel();
      stored_params += t.numel();
    }
    n_tensors = g->tensors().size();
  } else {
    for (const auto& name : store->names()) {
      const TensorView& t = store->get(name);
      dtype_params[dtype_name(t.dtype)] += t.numel();
    }
    n_tensors = store->names().size();
    n_files = store->files().size();
  }
  const ParamCounts p = count_params(c);
  const Tokenizer tok = gguf ? tokenizer_from_gguf(*g) : Tokenizer::load(dir);

  nlohmann::json j;
  j["path"] = dir.string();
  j["architecture"] = c.architecture;
  j["gguf_architecture"] = c.arch->gguf_arch;
  j["hidden_size"] = c.hidden;
  j["intermediate_size"] = c.intermediate;
  j["num_layers"] = c.n_layers;
  j["num_heads"] = c.n_heads;
  j["num_kv_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = rope_scaling_name(c.rope_scaling.type);
  if (c.rope_scaling.type != RopeScalingType::kNone) j["rope_scaling_factor"] = c.rope_scaling.factor;
  j["sliding_window"] = c.sliding_window;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["qkv_bias"] = c.qkv_bias;
  j["qk_norm"] = c.qk_norm;
  j["parameters"] = {{"embedding", p.embedding}, {"output", p.output},
                     {"attention", p.attention}, {"mlp", p.mlp},
                     {"norms", p.norms},         {"biases", p.biases},
                     {"total", p.total()},       {"linear", p.attention + p.mlp}};
  j["stored_dtypes"] = dtype_params;
  j["num_tensors"] = n_tensors;
  j["num_files"] = n_files;
  if (gguf) {
    j["format"] = "gguf";
    j["file_bytes"] = g->file_size();
    j["file_bpw"] = 8.0 * double(g->file_size()) / double(stored_params);
  }
  j["tokenizer"] = {{"kind", tok.kind_name()},     {"vocab_size", tok.vocab_size()},
                    {"bos_id", tok.bos_id()},      {"eos_id", tok.eos_id()},
                    {"add_bos", tok.add_bos()},    {"pre_tokenizer", tok.pre_tokenizer_name()},
                    {"merges", tok.merges().size()}};
  if (a.json) {
    print_json(j);
    return 0;
  }
  std::printf("model          %s\n", dir.string().c_str());
  std::printf("architecture   %s (gguf: %s)\n", c.architecture.c_str(), c.arch->gguf_arch);
  std::printf("layers         %lld, hidden %lld, intermediate %lld\n", (long long)c.n_layers,
              (long long)c.hidden, (long long)c.intermediate);
  std::printf("attention      %lld heads, %lld kv heads, head_dim %lld%s%s\n",
              (long long)c.n_heads, (long long)c.n_kv_heads, (long long)c.head_dim,
              c.qkv_bias ? ", qkv bias" : "", c.qk_norm ? ", q/k norm" : "");
  std::printf("rope           theta %g, scaling %s", c.rope_theta, rope_scaling_name(c.rope_scaling.type));
  if (c.rope_scaling.type != RopeScalingType::kNone) std::printf(" x%g", c.rope_scaling.factor);
  std::printf(", max positions %lld\n", (long long)c.max_position_embeddings);
  std::printf("vocab          %lld, embeddings %s\n", (long long)c.vocab,
              c.tie_word_embeddings ? "tied" : "untied");
  std::printf("parameters     %s total: embedding %s, output %s, attention %s, mlp %s, norms %s, biases %s\n",
              human_count(p.total()).c_str(), human_count(p.embedding).c_str(),
              human_count(p.output).c_str(), human_count(p.attention).c_str(),
              human_count(p.mlp).c_str(), human_count(p.norms).c_str(), human_count(p.biases).c_str());
  std::printf("stored         %zu tensors in %zu file(s):", n_tensors, n_files);
  for (const auto& [dt, n] : dtype_params) std::printf(" %s %s", dt.c_str(), human_count(n).c_str());
  std::printf("\n");
  if (gguf)
    std::printf("gguf           v%u, %.2f MB, %.4f bits per weight (whole file)\n", g->version(),
                double(g->file_size()) / 1e6, 8.0 * double(g->file_size()) / double(stored_params));
  std::printf("tokenizer      %s, %d tokens, %zu merges, pre-tokenizer %s, bos %d, eos %d, add_bos %s\n",
              tok.kind_name().c_str(), tok.vocab_size(), tok.merges().size(),
              tok.pre_tokenizer_name().c_str(), tok.bos_id(), tok.eos_id(),
              tok.add_bos() ? "yes" : "no");
  return 0;
}
}  // namespace

void add_inspect(CLI::App& app, Action& action) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* sub = app.add_subcommand("inspect", "Show a model's architecture, shapes, parameters and tokenizer");
  sub->add_option("model", args->model, "Hugging Face model directory or GGUF file")->required();
  sub->add_flag("--json", args->json, "Print JSON");
  sub->callback([args, &action] { action = [args] { return run_inspect(*args); }; });
}

}  // namespace lieq::cli
