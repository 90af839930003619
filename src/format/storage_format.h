// One storage format of a quantized weight matrix: lieq's integer grid
// (format/qspec.h: bit-packed codes, fp16 scales and zeros per group) or a
// ggml block type (format/ggml_formats.h, after llama.cpp's fallback for rows
// whose length is not a multiple of the type's block; format/ggml_policy.h).
// Plans, allocation problems, measurements and reports hold these values, so
// every allocator and every report works for both output families and counts
// the format's real bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "format/ggml_formats.h"
#include "format/qspec.h"

namespace lieq {

class StorageFormat {
 public:
  enum class Kind : uint8_t { kGrid, kGgml };

  StorageFormat() = default;                         // int4 g128 asym
  static StorageFormat grid(const QuantSpec& spec);  // validated (Error when out of range)
  static StorageFormat ggml(GgmlType type);

  Kind kind() const { return kind_; }
  bool is_grid() const { return kind_ == Kind::kGrid; }
  bool is_ggml() const { return kind_ == Kind::kGgml; }
  // The integer grid / the ggml type; Error for the other kind.
  const QuantSpec& spec() const;
  GgmlType ggml_type() const;
  // The type a ggml format stores rows of `cols` values in (llama.cpp's fallback).
  GgmlType ggml_row_type(int64_t cols) const;

  // Exact bits of a [rows, cols] weight in this format (codes, scales, zeros;
  // ggml: the fallback type's row bytes).
  int64_t storage_bits(int64_t rows, int64_t cols) const;
  double bits_per_weight(int64_t rows, int64_t cols) const {
    return double(storage_bits(rows, cols)) / double(rows * cols);
  }
  // "int4 g128 asym", "int3 per-channel sym", "Q4_K".
  std::string name() const;
  // {"grid": {"bits": 4, "group_size": 128, "symmetric": false}} or {"ggml": "Q4_K"}.
  nlohmann::json to_json() const;

  friend bool operator==(const StorageFormat& a, const StorageFormat& b);

 private:
  Kind kind_ = Kind::kGrid;
  QuantSpec spec_;
  GgmlType type_ = GgmlType::Q4_K;
};

// Parses name() ("int2 g64 asym", "int4 per-channel sym", case-insensitive
// ggml names "q4_k"); false (out untouched) when it is neither.
bool parse_storage_format(std::string_view name, StorageFormat* out);
// One integer grid per bit width, all with the same group size and symmetry.
std::vector<StorageFormat> grid_formats(const std::vector<int>& bits, int group_size,
                                        bool symmetric);
// One ggml format per type.
std::vector<StorageFormat> ggml_formats(const std::vector<GgmlType>& types);
// "int2 g128 asym, int4 g128 asym".
std::string format_names(const std::vector<StorageFormat>& formats);
// The inverse of to_json; Error naming `where` for anything else.
StorageFormat storage_format_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace lieq
