// llama.cpp's importance matrix files (llama-imatrix's output), read so that
// a file made for llama-quantize weighs lieq's rounding the same way: per
// weight matrix, the mean of x^2 of each input column over the calibration.
//
//   GGUF (llama-imatrix's default since 2025): per matrix NAME two F32
//     tensors, NAME.in_sum2 [n_in, n_mat] (sums of x^2) and NAME.counts
//     [1, n_mat] (rows seen); metadata imatrix.datasets, imatrix.chunk_count,
//     imatrix.chunk_size. Importance = in_sum2 / round(counts), 1 where a
//     count is 0 (as llama-quantize loads it).
//   Legacy .dat: int32 n_entries; per entry int32 name length, name, int32
//     ncall, int32 n_values, float values[n_values] (= mean x^2 * ncall);
//     optionally int32 chunk count, int32 length, dataset name. Importance =
//     values / ncall (values as stored when ncall is 0).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace lieq {

struct Imatrix {
  // GGUF tensor name ("blk.0.attn_q.weight", "output.weight") -> importance
  // per input column (per expert one after the other for MoE matrices).
  std::map<std::string, std::vector<float>> importance;
  std::vector<std::string> datasets;
  int64_t chunk_count = 0, chunk_size = 0;
  bool legacy = false;
  std::string path;  // the file it was read from
  // The entry for a GGUF tensor name, or null.
  const std::vector<float>* find(const std::string& gguf_name) const;
};

// Reads either format (GGUF when the file starts with "GGUF"). Errors name
// the file and the problem: truncation, a name or count out of range, an
// in_sum2 without counts, non-F32 data, a count that does not divide the
// values, a non-finite or negative value.
Imatrix read_imatrix(const std::filesystem::path& path);

}  // namespace lieq
