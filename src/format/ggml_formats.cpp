// ggml formats: the traits table, row (de)quantization and GgmlBlockGrid. The
// per-format work is in ggml_legacy.cpp, ggml_kquants.cpp, ggml_iq4.cpp,
// ggml_ternary.cpp, the
// i-quants' ggml_iq1.cpp, ggml_iq2.cpp, ggml_iq3.cpp, and the scale searches
// in ggml_search.cpp.
#include "format/ggml_formats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "format/ggml_impl.h"
#include "format/ggml_iq_impl.h"
#include "util/error.h"
#include "util/half.h"

namespace lieq {

static_assert(std::endian::native == std::endian::little,
              "ggml block layouts are little-endian; big-endian hosts are not supported");

// ggml-common.h's sizes, and the offsets its field order implies.
namespace ggml {
static_assert(sizeof(BlockQ4_0) == 18 && offsetof(BlockQ4_0, qs) == 2);
static_assert(sizeof(BlockQ4_1) == 20 && offsetof(BlockQ4_1, m) == 2 && offsetof(BlockQ4_1, qs) == 4);
static_assert(sizeof(BlockQ5_0) == 22 && offsetof(BlockQ5_0, qh) == 2 && offsetof(BlockQ5_0, qs) == 6);
static_assert(sizeof(BlockQ5_1) == 24 && offsetof(BlockQ5_1, qh) == 4 && offsetof(BlockQ5_1, qs) == 8);
static_assert(sizeof(BlockQ8_0) == 34 && offsetof(BlockQ8_0, qs) == 2);
static_assert(sizeof(BlockQ2_K) == 84 && offsetof(BlockQ2_K, qs) == 16 &&
              offsetof(BlockQ2_K, d) == 80 && offsetof(BlockQ2_K, dmin) == 82);
static_assert(sizeof(BlockQ3_K) == 110 && offsetof(BlockQ3_K, qs) == 32 &&
              offsetof(BlockQ3_K, scales) == 96 && offsetof(BlockQ3_K, d) == 108);
static_assert(sizeof(BlockQ4_K) == 144 && offsetof(BlockQ4_K, scales) == 4 &&
              offsetof(BlockQ4_K, qs) == 16);
static_assert(sizeof(BlockQ5_K) == 176 && offsetof(BlockQ5_K, qh) == 16 &&
              offsetof(BlockQ5_K, qs) == 48);
static_assert(sizeof(BlockQ6_K) == 210 && offsetof(BlockQ6_K, qh) == 128 &&
              offsetof(BlockQ6_K, scales) == 192 && offsetof(BlockQ6_K, d) == 208);
static_assert(sizeof(BlockIQ4_NL) == 18 && offsetof(BlockIQ4_NL, qs) == 2);
static_assert(sizeof(BlockIQ4_XS) == 136 && offsetof(BlockIQ4_XS, scales_h) == 2 &&
              offsetof(BlockIQ4_XS, scales_l) == 4 && offsetof(BlockIQ4_XS, qs) == 8);
static_assert(sizeof(BlockIQ2_XXS) == 66 && offsetof(BlockIQ2_XXS, qs) == 2);
static_assert(sizeof(BlockIQ2_XS) == 74 && offsetof(BlockIQ2_XS, scales) == 66);
static_assert(sizeof(BlockIQ2_S) == 82 && offsetof(BlockIQ2_S, qh) == 66 &&
              offsetof(BlockIQ2_S, scales) == 74);
static_assert(sizeof(BlockIQ3_XXS) == 98 && offsetof(BlockIQ3_XXS, qs) == 2);
static_assert(sizeof(BlockIQ3_S) == 110 && offsetof(BlockIQ3_S, qh) == 66 &&
              offsetof(BlockIQ3_S, signs) == 74 && offsetof(BlockIQ3_S, scales) == 106);
static_assert(sizeof(BlockIQ1_S) == 50 && offsetof(BlockIQ1_S, qh) == 34);
static_assert(sizeof(BlockIQ1_M) == 56 && offsetof(BlockIQ1_M, qh) == 32 &&
              offsetof(BlockIQ1_M, scales) == 48);
static_assert(sizeof(BlockTQ1_0) == 54 && offsetof(BlockTQ1_0, qh) == 48 &&
              offsetof(BlockTQ1_0, d) == 52);
static_assert(sizeof(BlockTQ2_0) == 66 && offsetof(BlockTQ2_0, d) == 64);
}  // namespace ggml

namespace ggml_detail {

const FormatImpl* format_impl(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: return &kQ4_0;
    case GgmlType::Q4_1: return &kQ4_1;
    case GgmlType::Q5_0: return &kQ5_0;
    case GgmlType::Q5_1: return &kQ5_1;
    case GgmlType::Q8_0: return &kQ8_0;
    case GgmlType::Q2_K: return &kQ2_K;
    case GgmlType::Q3_K: return &kQ3_K;
    case GgmlType::Q4_K: return &kQ4_K;
    case GgmlType::Q5_K: return &kQ5_K;
    case GgmlType::Q6_K: return &kQ6_K;
    case GgmlType::IQ4_NL: return &kIQ4_NL;
    case GgmlType::IQ4_XS: return &kIQ4_XS;
    case GgmlType::TQ1_0: return &kTQ1_0;
    case GgmlType::TQ2_0: return &kTQ2_0;
    default: break;
  }
  return nullptr;
}

const LatticeImpl* lattice_impl(GgmlType type) {
  switch (type) {
    case GgmlType::IQ2_XXS: return &kIQ2_XXS;
    case GgmlType::IQ2_XS: return &kIQ2_XS;
    case GgmlType::IQ2_S: return &kIQ2_S;
    case GgmlType::IQ3_XXS: return &kIQ3_XXS;
    case GgmlType::IQ3_S: return &kIQ3_S;
    case GgmlType::IQ1_S: return &kIQ1_S;
    case GgmlType::IQ1_M: return &kIQ1_M;
    default: break;
  }
  return nullptr;
}

}  // namespace ggml_detail

namespace {

using ggml_detail::FitInput;
using ggml_detail::FormatImpl;
using ggml_detail::format_impl;

constexpr int kMaxBlock = ggml::kQK_K;
constexpr int kMaxSubs = 16;

// ggml's codes for the values x of a fitted block (fixed sub-blocks keep theirs).
void assign_codes(const FormatImpl& impl, int block_size, const GgmlSubGrid* subs,
                  const float* x, int32_t* codes) {
  for (int k = 0; k < block_size / impl.sub_size; ++k) {
    if (subs[k].fixed) continue;
    for (int i = k * impl.sub_size; i < (k + 1) * impl.sub_size; ++i)
      codes[i] = subs[k].code_for(x[i]);
  }
}

// Fits one block, assigns the codes of its values and packs them.
void encode_block(const FormatImpl& impl, size_t type_size, int block_size, const FitInput& in,
                  uint8_t* out) {
  GgmlSubGrid subs[kMaxSubs];
  int32_t codes[kMaxBlock];
  std::memset(out, 0, type_size);
  impl.fit(in, out, subs, codes);
  assign_codes(impl, block_size, subs, in.x, codes);
  impl.pack(codes, out);
}

float row_mean_square(const float* x, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += x[i] * x[i];
  return s / static_cast<float>(n);
}

template <GgmlType T>
void encode_row_blocks(const float* src, void* dst, int64_t n, const float* importance) {
  const FormatImpl& impl = *format_impl(T);
  const GgmlTypeTraits& t = ggml_traits(T);
  const int bs = static_cast<int>(t.block_size);
  const float ms = importance ? row_mean_square(src, n) : 0.0f;
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / bs; ++b) {
    const float* w = importance ? importance + b * bs : nullptr;
    if (ggml_detail::importance_is_void(w, bs)) w = nullptr;
    encode_block(impl, t.type_size, bs, FitInput{src + b * bs, w, ms},
                 out + static_cast<size_t>(b) * t.type_size);
  }
}

template <GgmlType T>
void decode_row_blocks(const void* src, float* dst, int64_t n) {
  const FormatImpl& impl = *format_impl(T);
  const GgmlTypeTraits& t = ggml_traits(T);
  const auto* in = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / t.block_size; ++b)
    impl.decode(in + static_cast<size_t>(b) * t.type_size, dst + b * t.block_size);
}

template <GgmlType T>
void encode_lattice_row(const float* src, void* dst, int64_t n, const float* importance) {
  ggml_detail::lattice_impl(T)->encode_row(src, static_cast<uint8_t*>(dst), n, importance);
}

template <GgmlType T>
void decode_lattice_row(const void* src, float* dst, int64_t n) {
  const ggml_detail::LatticeImpl& impl = *ggml_detail::lattice_impl(T);
  const size_t bytes = ggml_traits(T).type_size;
  const auto* in = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / ggml::kQK_K; ++b)
    impl.decode(in + static_cast<size_t>(b) * bytes, dst + b * ggml::kQK_K);
}

void encode_f32(const float* src, void* dst, int64_t n, const float*) {
  std::memcpy(dst, src, static_cast<size_t>(n) * 4);
}
void decode_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * 4);
}
// Through byte copies: rows inside a file buffer need not be 2-aligned.
template <uint16_t (*To)(float)>
void encode_half(const float* src, void* dst, int64_t n, const float*) {
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = To(src[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}
template <float (*From)(uint16_t)>
void decode_half(const void* src, float* dst, int64_t n) {
  const auto* in = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    dst[i] = From(h);
  }
}

#define LIEQ_GGML_QUANT(T, BLOCK, STRUCT)                                          \
  GgmlTypeTraits {                                                                 \
    GgmlType::T, #T, BLOCK, sizeof(ggml::STRUCT), decode_row_blocks<GgmlType::T>, \
        encode_row_blocks<GgmlType::T>                                             \
  }

#define LIEQ_GGML_LATTICE(T, STRUCT)                                                \
  GgmlTypeTraits {                                                                   \
    GgmlType::T, #T, ggml::kQK_K, sizeof(ggml::STRUCT), decode_lattice_row<GgmlType::T>, \
        encode_lattice_row<GgmlType::T>                                              \
  }

// In ggml id order.
const GgmlTypeTraits kTraits[] = {
    {GgmlType::F32, "F32", 1, 4, decode_f32, encode_f32},
    {GgmlType::F16, "F16", 1, 2, decode_half<f16_to_f32>, encode_half<f32_to_f16>},
    LIEQ_GGML_QUANT(Q4_0, ggml::kQK, BlockQ4_0),
    LIEQ_GGML_QUANT(Q4_1, ggml::kQK, BlockQ4_1),
    LIEQ_GGML_QUANT(Q5_0, ggml::kQK, BlockQ5_0),
    LIEQ_GGML_QUANT(Q5_1, ggml::kQK, BlockQ5_1),
    LIEQ_GGML_QUANT(Q8_0, ggml::kQK, BlockQ8_0),
    LIEQ_GGML_QUANT(Q2_K, ggml::kQK_K, BlockQ2_K),
    LIEQ_GGML_QUANT(Q3_K, ggml::kQK_K, BlockQ3_K),
    LIEQ_GGML_QUANT(Q4_K, ggml::kQK_K, BlockQ4_K),
    LIEQ_GGML_QUANT(Q5_K, ggml::kQK_K, BlockQ5_K),
    LIEQ_GGML_QUANT(Q6_K, ggml::kQK_K, BlockQ6_K),
    LIEQ_GGML_LATTICE(IQ2_XXS, BlockIQ2_XXS),
    LIEQ_GGML_LATTICE(IQ2_XS, BlockIQ2_XS),
    LIEQ_GGML_LATTICE(IQ3_XXS, BlockIQ3_XXS),
    LIEQ_GGML_LATTICE(IQ1_S, BlockIQ1_S),
    LIEQ_GGML_QUANT(IQ4_NL, ggml::kQK, BlockIQ4_NL),
    LIEQ_GGML_LATTICE(IQ3_S, BlockIQ3_S),
    LIEQ_GGML_LATTICE(IQ2_S, BlockIQ2_S),
    LIEQ_GGML_QUANT(IQ4_XS, ggml::kQK_K, BlockIQ4_XS),
    LIEQ_GGML_LATTICE(IQ1_M, BlockIQ1_M),
    {GgmlType::BF16, "BF16", 1, 2, decode_half<bf16_to_f32>, encode_half<f32_to_bf16>},
    LIEQ_GGML_QUANT(TQ1_0, ggml::kQK_K, BlockTQ1_0),
    LIEQ_GGML_QUANT(TQ2_0, ggml::kQK_K, BlockTQ2_0),
};

#undef LIEQ_GGML_QUANT
#undef LIEQ_GGML_LATTICE

// Float types in GgmlBlockGrid: the code is the stored bit pattern.
int32_t float_code(GgmlType t, float x) {
  if (t == GgmlType::F16) return f32_to_f16(x);
  if (t == GgmlType::BF16) return f32_to_bf16(x);
  return static_cast<int32_t>(f32_to_bits(x));
}
float float_value(GgmlType t, int32_t code) {
  if (t == GgmlType::F16) return f16_to_f32(static_cast<uint16_t>(code));
  if (t == GgmlType::BF16) return bf16_to_f32(static_cast<uint16_t>(code));
  return bits_to_f32(static_cast<uint32_t>(code));
}

void check_row(const GgmlTypeTraits& t, int64_t n, const char* what) {
  check(n >= 0 && n % t.block_size == 0, what, ": ", t.name, " row of ", n,
        " values is not a multiple of the block size ", t.block_size);
}

}  // namespace

// ----------------------------------------------------------------- GgmlSubGrid

int32_t GgmlSubGrid::code_for(float x) const {
  using ggml_detail::clamp_for_rounding;
  using ggml_detail::nearest_int;
  int q = 0;
  switch (rule) {
    case Rule::kTruncBias: {
      // ggml converts the float to an integer (truncation), then clamps.
      const float t = (x - s) * a + b;
      if (!(t > 0.0f)) return lo;
      if (t >= static_cast<float>(hi)) return hi;
      q = static_cast<int>(t);
      break;
    }
    case Rule::kRoundAway:
      q = static_cast<int>(std::round(clamp_for_rounding(x * a))) + off;
      break;
    // nearest_int is defined for every float (beyond 2^22 it returns what
    // ggml's does, which matters only for ggml's own degenerate cases).
    case Rule::kScaleRound:
      q = nearest_int(a * (x - s)) + off;
      break;
    case Rule::kDivRound:
      q = nearest_int((x + s) / a) + off;
      break;
    case Rule::kTable:
      return ggml_detail::iq4_index(a * x);
  }
  return std::clamp(q, static_cast<int>(lo), static_cast<int>(hi));
}

int32_t GgmlSubGrid::nearest_code(float x) const {
  // Start from ggml's code and walk while a neighbour is strictly nearer; the
  // levels are monotone in the code, so the distance is unimodal.
  int32_t c = code_for(x);
  float err = std::fabs(x - decode(c));
  for (const int32_t dir : {-1, 1}) {
    for (int32_t n = c + dir; n >= lo && n <= hi; n += dir) {
      const float e = std::fabs(x - decode(n));
      if (!(e < err)) break;
      c = n;
      err = e;
    }
  }
  return c;
}

float GgmlSubGrid::decode(int32_t code) const {
  const float level = table ? static_cast<float>(ggml::kIq4NlValues[code & 15])
                            : static_cast<float>(code - level_offset);
  return has_min ? D * level + M : D * level;
}

// ----------------------------------------------------------------- traits

std::span<const GgmlTypeTraits> ggml_supported_types() { return kTraits; }

const GgmlTypeTraits* find_ggml_traits(uint32_t type_id) {
  for (const GgmlTypeTraits& t : kTraits)
    if (static_cast<uint32_t>(t.type) == type_id) return &t;
  return nullptr;
}

const GgmlTypeTraits& ggml_traits(GgmlType type) {
  const GgmlTypeTraits* t = find_ggml_traits(static_cast<uint32_t>(type));
  if (!t) fail("ggml type id ", static_cast<uint32_t>(type), " is not supported");
  return *t;
}

const char* ggml_type_name(GgmlType type) { return ggml_traits(type).name; }

bool parse_ggml_type(std::string_view name, GgmlType* out) {
  for (const GgmlTypeTraits& t : kTraits) {
    const std::string_view tn = t.name;
    if (tn.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < tn.size() && same; ++i) {
      const char c = name[i];
      const char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
      same = u == tn[i];
    }
    if (same) {
      *out = t.type;
      return true;
    }
  }
  return false;
}

size_t ggml_row_size(GgmlType type, int64_t n) {
  const GgmlTypeTraits& t = ggml_traits(type);
  check_row(t, n, "ggml_row_size");
  return static_cast<size_t>(n / t.block_size) * t.type_size;
}

double ggml_bits_per_weight(GgmlType type) { return ggml_traits(type).bits_per_weight(); }

// ----------------------------------------------------------------- rows

void ggml_dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  const GgmlTypeTraits& t = ggml_traits(type);
  check_row(t, n, "ggml_dequantize_row");
  t.decode_row(src, dst, n);
}

void ggml_quantize_row(GgmlType type, const float* src, void* dst, int64_t n,
                       const float* importance) {
  const GgmlTypeTraits& t = ggml_traits(type);
  check_row(t, n, "ggml_quantize_row");
  if (importance) {
    for (int64_t i = 0; i < n; ++i)
      check(std::isfinite(importance[i]) && importance[i] >= 0.0f, "ggml_quantize_row: ", t.name,
            " importance[", i, "] = ", importance[i], " is not a finite non-negative number");
  }
  t.encode_row(src, dst, n, importance);
}

void ggml_quantize_rows(GgmlType type, const float* src, void* dst, int64_t rows,
                        int64_t n_per_row, const float* importance) {
  check(rows >= 0, "ggml_quantize_rows: negative row count ", rows);
  const size_t row_bytes = ggml_row_size(type, n_per_row);
  for (int64_t r = 0; r < rows; ++r)
    ggml_quantize_row(type, src + r * n_per_row,
                      static_cast<uint8_t*>(dst) + static_cast<size_t>(r) * row_bytes, n_per_row,
                      importance);
}

// ----------------------------------------------------------------- GgmlBlockGrid

GgmlBlockGrid::GgmlBlockGrid(GgmlType type)
    : traits_(&ggml_traits(type)),
      block_(traits_->type_size),
      codes_(static_cast<size_t>(traits_->block_size)) {
  lattice_ = ggml_detail::lattice_impl(type) != nullptr;
  if (lattice_) values_.assign(static_cast<size_t>(traits_->block_size), 0.0f);
}

int64_t GgmlBlockGrid::sub_block_size() const {
  switch (type()) {  // the i-quants' scale sub-blocks
    case GgmlType::IQ2_XS:
    case GgmlType::IQ2_S:
    case GgmlType::IQ1_M: return 16;
    case GgmlType::IQ2_XXS:
    case GgmlType::IQ3_XXS:
    case GgmlType::IQ3_S:
    case GgmlType::IQ1_S: return 32;
    default: break;
  }
  const FormatImpl* impl = format_impl(type());
  return impl ? impl->sub_size : 1;
}

void GgmlBlockGrid::fit(const float* x, const float* importance, int64_t n,
                        float row_mean_sq) {
  check(n == block_size(), "GgmlBlockGrid::fit: ", traits_->name, " block has ", block_size(),
        " values, got ", n);
  if (importance) {
    for (int64_t i = 0; i < n; ++i)
      check(std::isfinite(importance[i]) && importance[i] >= 0.0f, "GgmlBlockGrid::fit: ",
            traits_->name, " importance[", i, "] is not a finite non-negative number");
  }
  if (lattice_) {
    const ggml_detail::LatticeImpl& li = *ggml_detail::lattice_impl(type());
    li.encode_row(x, block_.data(), n, importance);
    li.decode(block_.data(), values_.data());
    fitted_ = true;
    return;
  }
  const FormatImpl* impl = format_impl(type());
  if (!impl) {
    codes_[0] = float_code(type(), x[0]);
    subs_.clear();
    fitted_ = true;
    return;
  }
  const int bs = static_cast<int>(n);
  const float* w = ggml_detail::importance_is_void(importance, bs) ? nullptr : importance;
  const float ms = row_mean_sq >= 0.0f ? row_mean_sq : row_mean_square(x, n);
  subs_.assign(static_cast<size_t>(bs / impl->sub_size), GgmlSubGrid{});
  std::fill(block_.begin(), block_.end(), uint8_t{0});
  impl->fit(FitInput{x, w, ms}, block_.data(), subs_.data(), codes_.data());
  assign_codes(*impl, bs, subs_.data(), x, codes_.data());
  fitted_ = true;
}

void GgmlBlockGrid::quantize_group(int64_t i0, const float* x, const float* importance) {
  check(fitted_, "GgmlBlockGrid: quantize_group before fit");
  check(lattice_, "GgmlBlockGrid: quantize_group on ", traits_->name,
        ", which has a code per element (use quantize_value)");
  check(i0 >= 0 && i0 < block_size() && i0 % 8 == 0, "GgmlBlockGrid: group start ", i0,
        " is not a multiple of 8 inside a block of ", block_size());
  const ggml_detail::LatticeImpl& li = *ggml_detail::lattice_impl(type());
  li.requantize_group(block_.data(), static_cast<int>(i0 / 8), x, importance);
  li.decode(block_.data(), values_.data());
}

const GgmlSubGrid& GgmlBlockGrid::sub_grid(int64_t k) const {
  check(fitted_, "GgmlBlockGrid: sub_grid before fit");
  check(!lattice_, "GgmlBlockGrid: ", traits_->name, " has no per-element sub-grids");
  check(k >= 0 && k < static_cast<int64_t>(subs_.size()), "GgmlBlockGrid: sub-block ", k,
        " out of range (", subs_.size(), " sub-blocks)");
  return subs_[static_cast<size_t>(k)];
}

float GgmlBlockGrid::quantize_value(int64_t i, float x) {
  check(fitted_, "GgmlBlockGrid: quantize_value before fit");
  check(i >= 0 && i < block_size(), "GgmlBlockGrid: index ", i, " out of block of ",
        block_size());
  if (lattice_) return values_[static_cast<size_t>(i)];
  if (subs_.empty()) {
    codes_[0] = float_code(type(), x);
    return float_value(type(), codes_[0]);
  }
  const GgmlSubGrid& g = subs_[static_cast<size_t>(i / sub_block_size())];
  if (!g.fixed) codes_[static_cast<size_t>(i)] = g.nearest_code(x);
  return g.decode(codes_[static_cast<size_t>(i)]);
}

float GgmlBlockGrid::value(int64_t i) const {
  check(fitted_, "GgmlBlockGrid: value before fit");
  check(i >= 0 && i < block_size(), "GgmlBlockGrid: index ", i, " out of block of ",
        block_size());
  if (lattice_) return values_[static_cast<size_t>(i)];
  if (subs_.empty()) return float_value(type(), codes_[0]);
  return subs_[static_cast<size_t>(i / sub_block_size())].decode(codes_[static_cast<size_t>(i)]);
}

int32_t GgmlBlockGrid::code(int64_t i) const {
  check(fitted_, "GgmlBlockGrid: code before fit");
  check(!lattice_, "GgmlBlockGrid: ", traits_->name, " has no code per element");
  check(i >= 0 && i < block_size(), "GgmlBlockGrid: index ", i, " out of block of ",
        block_size());
  return codes_[static_cast<size_t>(i)];
}

void GgmlBlockGrid::emit(void* dst) const {
  check(fitted_, "GgmlBlockGrid: emit before fit");
  if (lattice_) {
    std::memcpy(dst, block_.data(), block_.size());
    return;
  }
  const FormatImpl* impl = format_impl(type());
  if (!impl) {
    const int32_t c = codes_[0];
    if (type() == GgmlType::F32)
      std::memcpy(dst, &c, 4);
    else {
      const uint16_t h = static_cast<uint16_t>(c);
      std::memcpy(dst, &h, 2);
    }
    return;
  }
  auto* out = static_cast<uint8_t*>(dst);
  std::memcpy(out, block_.data(), block_.size());
  impl->pack(codes_.data(), out);
}

}  // namespace lieq
