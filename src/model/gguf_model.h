// A decoder model as llama.cpp keeps it in a GGUF file: hyperparameter keys,
// tensor names and the llama architecture's Q/K row order, in both directions
// (writing what llama.cpp's converter writes, reading it back into a Model).
//
// Keys written for arch A (llama, qwen2, qwen3), with the converter's types:
//   general.architecture = A, general.type = "model", general.name,
//   general.file_type (u32, llama_ftype), general.quantization_version = 2,
//   A.block_count, A.context_length, A.embedding_length, A.feed_forward_length,
//   A.attention.head_count, A.attention.head_count_kv, A.attention.key_length,
//   A.attention.value_length (u32), A.rope.freq_base,
//   A.attention.layer_norm_rms_epsilon (f32);
//   llama only: A.vocab_size, A.rope.dimension_count (u32), and for linear
//   RoPE scaling A.rope.scaling.type = "linear", A.rope.scaling.factor.
// llama3 RoPE scaling becomes the tensor rope_freqs.weight (f32 [head_dim / 2]
// divisors of the inverse frequencies), as the converter writes it.
//
// Tensor names: token_embd.weight, output_norm.weight, output.weight (absent
// when tied), blk.{i}.<RoleSpec::gguf_name>. Shapes are ggml's: a weight
// [rows, cols] is stored with ne = {cols, rows}.
//
// Q/K rows (llama architecture only): Hugging Face's RoPE rotates element j of
// a head with element j + head_dim / 2 (rotate_half); llama.cpp's llama rotates
// adjacent pairs (2i, 2i + 1). The converter therefore permutes the rows of
// q_proj (per query head) and k_proj (per key/value head):
//   gguf row h * hd + 2 * i + j  =  hf row h * hd + j * hd / 2 + i
// for head h, i in [0, hd / 2), j in {0, 1}. qwen2 and qwen3 use rotate_half
// in llama.cpp too (NEOX RoPE) and need none.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/config.h"
#include "model/weights.h"

namespace lieq {

// llama.cpp's llama_ftype for a file whose linear weights are mostly `type`
// (Q4_K -> MOSTLY_Q4_K_M, ...).
uint32_t gguf_file_type(GgmlType type);

// Writes the general.* and hyperparameter keys of config c.
void write_gguf_hparams(GgufWriter& w, const ModelConfig& c, const std::string& name,
                        GgmlType dominant_type);

// llama3 RoPE divisors [head_dim / 2] (what rope_freqs.weight holds); empty
// unless c uses llama3 scaling.
std::vector<float> gguf_rope_freq_factors(const ModelConfig& c);

// Config from a GGUF file's keys and tensor shapes. Throws Error naming the
// file: unknown architecture, missing or inconsistent keys, partial RoPE,
// unsupported RoPE scaling.
ModelConfig config_from_gguf(const GgufReader& r);

// Whether q/k rows are permuted in GGUF for this config (llama arch).
bool gguf_permutes_qk(const ModelConfig& c);
// Moves whole rows (row_bytes each) of a q or k weight with n_head heads of
// head_dim rows: to_gguf = Hugging Face order -> llama.cpp order, else back.
void permute_qk_rows(const uint8_t* src, uint8_t* dst, int64_t n_head, int64_t head_dim,
                     size_t row_bytes, bool to_gguf);

// Loads a GGUF model: config, every tensor dequantized to float32 (q/k rows
// back in Hugging Face order), each checked against the config's shapes.
// With opt.keep_16bit, BF16/F16 matrices keep their stored values instead.
Model load_gguf_model(const std::filesystem::path& path, const LoadOptions& opt = {});

// True when the file starts with the GGUF magic.
bool is_gguf_file(const std::filesystem::path& path);

}  // namespace lieq
