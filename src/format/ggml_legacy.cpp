// The 32-element formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (ggml-quants.c:
// quantize_row_q*_ref without importance, quantize_row_q*_impl with it).
#include <cfloat>
#include <cmath>
#include <cstring>

#include "format/ggml_impl.h"
#include "util/half.h"

namespace lieq::ggml_detail {

namespace {

using Rule = GgmlSubGrid::Rule;
constexpr int kQK = ggml::kQK;


// The signed element of largest magnitude (the first on ties), as ggml's
// Q4_0 / Q5_0 reference quantizers find it.
float signed_absmax(const float* x) {
  float amax = 0.0f, vmax = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      vmax = x[j];
    }
  }
  return vmax;
}

// Importance weights of the legacy formats: w * sqrt(mean x^2 of the row + x^2).
void legacy_weights(const FitInput& in, float* w) {
  for (int j = 0; j < kQK; ++j)
    w[j] = in.importance[j] * std::sqrt(in.row_mean_square + in.x[j] * in.x[j]);
}

// Symmetric formats (Q4_0: nmax 8, Q5_0: nmax 16), scale d at *d.
void fit_symmetric(const FitInput& in, int nmax, uint16_t* d, GgmlSubGrid* g, int32_t* codes) {
  g->lo = 0;
  g->hi = static_cast<int16_t>(2 * nmax - 1);
  g->level_offset = static_cast<int16_t>(nmax);
  if (!in.importance) {
    const float dd = signed_absmax(in.x) / static_cast<float>(-nmax);
    const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
    *d = f32_to_f16(dd);
    g->rule = Rule::kTruncBias;
    g->a = id;
    g->b = static_cast<float>(nmax) + 0.5f;
  } else {
    float w[kQK];
    int8_t L[kQK];
    legacy_weights(in, w);
    const SymFit r = search_symmetric(kQK, nmax, in.x, w, L);
    *d = f32_to_f16(r.scale);
    if (r.zero) {
      g->fixed = true;
      for (int j = 0; j < kQK; ++j) codes[j] = L[j];
    }
    g->rule = Rule::kScaleRound;
    g->a = r.iscale;
    g->off = static_cast<int16_t>(nmax);
  }
  g->D = f16_to_f32(*d);
}

// Formats with a min (Q4_1: nmax 15, Q5_1: nmax 31).
void fit_with_min(const FitInput& in, int nmax, uint16_t* d, uint16_t* m, GgmlSubGrid* g,
                  int32_t* codes) {
  g->lo = 0;
  g->hi = static_cast<int16_t>(nmax);
  g->has_min = true;
  if (!in.importance) {
    float vmin = FLT_MAX, vmax = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      if (in.x[j] < vmin) vmin = in.x[j];
      if (in.x[j] > vmax) vmax = in.x[j];
    }
    const float dd = (vmax - vmin) / static_cast<float>(nmax);
    const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
    *d = f32_to_f16(dd);
    *m = f32_to_f16(vmin);
    g->rule = Rule::kTruncBias;
    g->a = id;
    g->s = vmin;
    g->b = 0.5f;
  } else {
    float w[kQK];
    uint8_t L[kQK];
    legacy_weights(in, w);
    const AsymFit r = search_asymmetric(kQK, nmax, in.x, w, L, -0.9f, 0.05f, 36, false);
    *d = f32_to_f16(r.scale);
    *m = f32_to_f16(-r.neg_min);
    if (r.degenerate) {
      g->fixed = true;
      for (int j = 0; j < kQK; ++j) codes[j] = L[j];
    }
    g->rule = Rule::kScaleRound;
    g->a = r.iscale;
    g->s = r.offset;
  }
  g->D = f16_to_f32(*d);
  g->M = f16_to_f32(*m);
}

// Nibbles: element j low, element j + 16 high.
void pack_nibbles(const int32_t* codes, uint8_t* qs) {
  for (int j = 0; j < kQK / 2; ++j)
    qs[j] = static_cast<uint8_t>((codes[j] & 0xF) | ((codes[j + kQK / 2] & 0xF) << 4));
}
// The 5th bits: bit j of a little-endian uint32.
void pack_high_bits(const int32_t* codes, uint8_t* qh) {
  uint32_t h = 0;
  for (int j = 0; j < kQK; ++j) h |= uint32_t((codes[j] >> 4) & 1) << j;
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(h >> (8 * k));
}
uint32_t load_high_bits(const uint8_t* qh) {
  return uint32_t(qh[0]) | uint32_t(qh[1]) << 8 | uint32_t(qh[2]) << 16 | uint32_t(qh[3]) << 24;
}

// ------------------------------------------------------------------ Q4_0

void fit_q4_0(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t* codes) {
  ggml::BlockQ4_0 b{};
  fit_symmetric(in, 8, &b.d, &subs[0], codes);
  store(b, block);
}
void pack_q4_0(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockQ4_0>(block);
  pack_nibbles(codes, b.qs);
  store(b, block);
}
void decode_q4_0(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockQ4_0>(block);
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>((b.qs[j] & 0xF) - 8) * d;
    y[j + kQK / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
  }
}

// ------------------------------------------------------------------ Q4_1

void fit_q4_1(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t* codes) {
  ggml::BlockQ4_1 b{};
  fit_with_min(in, 15, &b.d, &b.m, &subs[0], codes);
  store(b, block);
}
void pack_q4_1(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockQ4_1>(block);
  pack_nibbles(codes, b.qs);
  store(b, block);
}
void decode_q4_1(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockQ4_1>(block);
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>(b.qs[j] & 0xF) * d + m;
    y[j + kQK / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
  }
}

// ------------------------------------------------------------------ Q5_0

void fit_q5_0(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t* codes) {
  ggml::BlockQ5_0 b{};
  fit_symmetric(in, 16, &b.d, &subs[0], codes);
  store(b, block);
}
void pack_q5_0(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockQ5_0>(block);
  pack_nibbles(codes, b.qs);
  pack_high_bits(codes, b.qh);
  store(b, block);
}
void decode_q5_0(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockQ5_0>(block);
  const float d = f16_to_f32(b.d);
  const uint32_t h = load_high_bits(b.qh);
  for (int j = 0; j < kQK / 2; ++j) {
    const int q0 = (b.qs[j] & 0xF) | int((h >> j) & 1) << 4;
    const int q1 = (b.qs[j] >> 4) | int((h >> (j + kQK / 2)) & 1) << 4;
    y[j] = static_cast<float>(q0 - 16) * d;
    y[j + kQK / 2] = static_cast<float>(q1 - 16) * d;
  }
}

// ------------------------------------------------------------------ Q5_1

void fit_q5_1(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t* codes) {
  ggml::BlockQ5_1 b{};
  fit_with_min(in, 31, &b.d, &b.m, &subs[0], codes);
  store(b, block);
}
void pack_q5_1(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockQ5_1>(block);
  pack_nibbles(codes, b.qs);
  pack_high_bits(codes, b.qh);
  store(b, block);
}
void decode_q5_1(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockQ5_1>(block);
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  const uint32_t h = load_high_bits(b.qh);
  for (int j = 0; j < kQK / 2; ++j) {
    const int q0 = (b.qs[j] & 0xF) | int((h >> j) & 1) << 4;
    const int q1 = (b.qs[j] >> 4) | int((h >> (j + kQK / 2)) & 1) << 4;
    y[j] = static_cast<float>(q0) * d + m;
    y[j + kQK / 2] = static_cast<float>(q1) * d + m;
  }
}

// ------------------------------------------------------------------ Q8_0
// Importance is ignored, as in ggml.

void fit_q8_0(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t*) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    const float a = std::fabs(in.x[j]);
    amax = amax > a ? amax : a;
  }
  const float d = amax / 127.0f;
  ggml::BlockQ8_0 b{};
  b.d = f32_to_f16(d);
  store(b, block);
  GgmlSubGrid& g = subs[0];
  g.rule = Rule::kRoundAway;
  g.a = d != 0.0f ? 1.0f / d : 0.0f;
  g.lo = -128;
  g.hi = 127;
  g.D = f16_to_f32(b.d);
}
void pack_q8_0(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockQ8_0>(block);
  for (int j = 0; j < kQK; ++j) b.qs[j] = static_cast<int8_t>(codes[j]);
  store(b, block);
}
void decode_q8_0(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockQ8_0>(block);
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
}

}  // namespace

const FormatImpl kQ4_0{kQK, fit_q4_0, pack_q4_0, decode_q4_0};
const FormatImpl kQ4_1{kQK, fit_q4_1, pack_q4_1, decode_q4_1};
const FormatImpl kQ5_0{kQK, fit_q5_0, pack_q5_0, decode_q5_0};
const FormatImpl kQ5_1{kQK, fit_q5_1, pack_q5_1, decode_q5_1};
const FormatImpl kQ8_0{kQK, fit_q8_0, pack_q8_0, decode_q8_0};

}  // namespace lieq::ggml_detail
