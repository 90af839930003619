// IQ4_NL (blocks of 32, one fp16 scale) and IQ4_XS (super-blocks of 256,
// 6-bit sub-block scales): 4-bit codes into the non-linear code book
// kIq4NlValues. As ggml's quantize_iq4_nl / quantize_iq4_xs (what llama.cpp's
// quantize tool runs, with or without imatrix): each sub-block's scale is the
// weighted least-squares scale of the best of 16 trial inverse scales.
#include <cmath>
#include <cstring>

#include "format/ggml_impl.h"
#include "util/half.h"

namespace lieq::ggml_detail {

namespace {

using Rule = GgmlSubGrid::Rule;
constexpr int kSub = 32;
constexpr int kTries = 7;  // ggml's ntry


inline float kv(int i) { return static_cast<float>(ggml::kIq4NlValues[i]); }

// Mean of 2 x^2 over the (super-)block, ggml's sigma2.
float iq4_sigma2(const float* x, int n) {
  float s = 0.0f;
  for (int j = 0; j < n; ++j) s += x[j] * x[j];
  return s * (2.0f / static_cast<float>(n));
}

// Weights of one sub-block: importance * sqrt(sigma2 + x^2), or x^2 without
// importance (also for a sub-block whose importance is all zero, where ggml's
// scale would be 0/0).
void iq4_weights(const float* xb, const float* qw, float sigma2, float* w) {
  if (!importance_is_void(qw, kSub)) {
    for (int j = 0; j < kSub; ++j) w[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
  } else {
    for (int j = 0; j < kSub; ++j) w[j] = xb[j] * xb[j];
  }
}

// The sub-block scale (0 for an all-zero sub-block).
float iq4_scale(const float* xb, const float* w) {
  float amax = 0.0f, vmax = 0.0f;
  for (int j = 0; j < kSub; ++j) {
    const float ax = std::fabs(xb[j]);
    if (ax > amax) {
      amax = ax;
      vmax = xb[j];
    }
  }
  if (amax < kGroupMaxEps) return 0.0f;
  // Weighted sums of the codes for inverse scale id.
  auto sums = [&](float id, float* sumqx, float* sumq2) {
    *sumqx = 0.0f;
    *sumq2 = 0.0f;
    for (int j = 0; j < kSub; ++j) {
      const float q = kv(iq4_index(id * xb[j]));
      *sumqx += w[j] * q * xb[j];
      *sumq2 += w[j] * q * q;
    }
  };
  float sumqx, sumq2;
  sums(1.0f / (-vmax / kv(0)), &sumqx, &sumq2);
  float d = sumqx / sumq2;
  float best = d * sumqx;
  for (int t = -kTries; t <= kTries; ++t) {
    sums(static_cast<float>(t + ggml::kIq4NlValues[0]) / vmax, &sumqx, &sumq2);
    if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

void set_table_grid(GgmlSubGrid* g, float a, float D) {
  g->rule = Rule::kTable;
  g->table = true;
  g->a = a;
  g->lo = 0;
  g->hi = 15;
  g->D = D;
}

void pack_iq4_nibbles(const int32_t* codes, uint8_t* qs) {
  for (int j = 0; j < kSub / 2; ++j)
    qs[j] = static_cast<uint8_t>((codes[j] & 0xF) | (codes[j + kSub / 2] & 0xF) << 4);
}

// ---------------------------------------------------------------- IQ4_NL

void fit_iq4_nl(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t*) {
  float w[kSub];
  iq4_weights(in.x, in.importance, iq4_sigma2(in.x, kSub), w);
  const float d = iq4_scale(in.x, w);
  ggml::BlockIQ4_NL b{};
  b.d = f32_to_f16(d);
  store(b, block);
  set_table_grid(&subs[0], d != 0.0f ? 1.0f / d : 0.0f, f16_to_f32(b.d));
}
void pack_iq4_nl(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockIQ4_NL>(block);
  pack_iq4_nibbles(codes, b.qs);
  store(b, block);
}
void decode_iq4_nl(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockIQ4_NL>(block);
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < kSub / 2; ++j) {
    y[j] = d * kv(b.qs[j] & 0xF);
    y[j + kSub / 2] = d * kv(b.qs[j] >> 4);
  }
}

// ---------------------------------------------------------------- IQ4_XS

int iq4_xs_scale(const ggml::BlockIQ4_XS& b, int ib) {
  return ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
}

void fit_iq4_xs(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t*) {
  constexpr int kN = ggml::kQK_K, kNSub = kN / kSub;
  const float sigma2 = iq4_sigma2(in.x, kN);
  float scales[kNSub], w[kSub];
  float max_scale = 0.0f, amax_scale = 0.0f;
  for (int ib = 0; ib < kNSub; ++ib) {
    const float* xb = in.x + kSub * ib;
    iq4_weights(xb, in.importance ? in.importance + kSub * ib : nullptr, sigma2, w);
    scales[ib] = iq4_scale(xb, w);
    const float a = std::fabs(scales[ib]);
    if (a > amax_scale) {
      amax_scale = a;
      max_scale = scales[ib];
    }
  }
  ggml::BlockIQ4_XS b{};
  const float d = -max_scale / 32.0f;
  b.d = f32_to_f16(d);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  float idl[kNSub];
  for (int ib = 0; ib < kNSub; ++ib) {
    int l = nearest_int(id * scales[ib]);
    l = l < -32 ? -32 : (l > 31 ? 31 : l);
    const float dl = d * static_cast<float>(l);
    idl[ib] = dl != 0.0f ? 1.0f / dl : 0.0f;
    l += 32;
    b.scales_l[ib / 2] = static_cast<uint8_t>(b.scales_l[ib / 2] | ((l & 0xF) << (4 * (ib % 2))));
    b.scales_h = static_cast<uint16_t>(b.scales_h | ((l >> 4) << (2 * ib)));
  }
  store(b, block);
  const float dh = f16_to_f32(b.d);
  for (int ib = 0; ib < kNSub; ++ib)
    set_table_grid(&subs[ib], idl[ib], dh * static_cast<float>(iq4_xs_scale(b, ib) - 32));
}
void pack_iq4_xs(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockIQ4_XS>(block);
  for (int ib = 0; ib < ggml::kQK_K / kSub; ++ib)
    pack_iq4_nibbles(codes + kSub * ib, b.qs + (kSub / 2) * ib);
  store(b, block);
}
void decode_iq4_xs(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockIQ4_XS>(block);
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < ggml::kQK_K / kSub; ++ib) {
    const float dl = d * static_cast<float>(iq4_xs_scale(b, ib) - 32);
    const uint8_t* qs = b.qs + (kSub / 2) * ib;
    for (int j = 0; j < kSub / 2; ++j) {
      y[kSub * ib + j] = dl * kv(qs[j] & 0xF);
      y[kSub * ib + j + kSub / 2] = dl * kv(qs[j] >> 4);
    }
  }
}

}  // namespace

const FormatImpl kIQ4_NL{kSub, fit_iq4_nl, pack_iq4_nl, decode_iq4_nl};
const FormatImpl kIQ4_XS{kSub, fit_iq4_xs, pack_iq4_xs, decode_iq4_xs};

}  // namespace lieq::ggml_detail
