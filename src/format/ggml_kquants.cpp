// The K-quants Q2_K ... Q6_K: super-blocks of 256 in sub-blocks of 16 or 32
// whose scales (and mins) are themselves quantized against one fp16 super
// scale. Without importance ggml's quantize_row_q*_K_ref, with it
// quantize_row_q*_K_impl. Both end with the same pass, which the code rule
// reproduces: each code is nearest((x + min) / scale) for the stored scales,
// except in sub-blocks whose stored scale is 0, which keep the search's codes.
#include <cmath>
#include <cstring>

#include "format/ggml_impl.h"
#include "util/half.h"

namespace lieq::ggml_detail {

namespace {

using Rule = GgmlSubGrid::Rule;
constexpr int kQK_K = ggml::kQK_K;


float sum_squares(const float* x, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// Grid of an asymmetric sub-block: x = d * q - m, codes in [0, nmax].
void set_asym_grid(GgmlSubGrid* g, float d, float m, int nmax) {
  g->rule = Rule::kDivRound;
  g->a = d;
  g->s = m;
  g->lo = 0;
  g->hi = static_cast<int16_t>(nmax);
  g->has_min = true;
  g->D = d;
  g->M = -m;
  g->fixed = d == 0.0f;
}
// Grid of a symmetric sub-block: x = d * (q - off), codes in [0, 2 off - 1].
void set_sym_grid(GgmlSubGrid* g, float d, int off) {
  g->rule = Rule::kDivRound;
  g->a = d;
  g->off = static_cast<int16_t>(off);
  g->level_offset = static_cast<int16_t>(off);
  g->lo = 0;
  g->hi = static_cast<int16_t>(2 * off - 1);
  g->D = d;
  g->fixed = d == 0.0f;
}

template <typename Code>
void copy_codes(const Code* L, int n, int32_t* codes) {
  for (int i = 0; i < n; ++i) codes[i] = L[i];
}

// 2-bit fields of Q2_K / Q3_K: element 128h + 32k + l at qs[32h + l] bits 2k.
void pack_2bit(const int32_t* codes, uint8_t* qs) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int32_t* c = codes + 128 * h + l;
      qs[32 * h + l] = static_cast<uint8_t>((c[0] & 3) | (c[32] & 3) << 2 | (c[64] & 3) << 4 |
                                            (c[96] & 3) << 6);
    }
}
inline int get_2bit(const uint8_t* qs, int e) {
  return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

// Q4_K / Q5_K 6-bit scale and min of sub-block j, as ggml packs them (uint8
// arithmetic, so out-of-range values wrap as in ggml).
void set_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* q) {
  if (j < 4) {
    q[j] = ls;
    q[j + 4] = lm;
  } else {
    q[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    q[j - 4] = static_cast<uint8_t>(q[j - 4] | ((ls >> 4) << 6));
    q[j] = static_cast<uint8_t>(q[j] | ((lm >> 4) << 6));
  }
}

// Q3_K 6-bit scale of sub-block j (stored value, 0..63).
void set_scale_q3(int j, int l, uint8_t* q) {
  if (j < 8)
    q[j] = static_cast<uint8_t>(l & 0xF);
  else
    q[j - 8] = static_cast<uint8_t>(q[j - 8] | ((l & 0xF) << 4));
  q[8 + j % 4] = static_cast<uint8_t>(q[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
}
int get_scale_q3(int j, const uint8_t* q) {
  const int low = j < 8 ? (q[j] & 0xF) : (q[j - 8] >> 4);
  return (low | ((q[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
}

// ------------------------------------------------------------------ Q2_K

void q2_k_grids(const ggml::BlockQ2_K& b, GgmlSubGrid* subs, const uint8_t* L, int32_t* codes) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int j = 0; j < 16; ++j) {
    set_asym_grid(&subs[j], d * static_cast<float>(b.scales[j] & 0xF),
                  dmin * static_cast<float>(b.scales[j] >> 4), 3);
    if (subs[j].fixed) copy_codes(L + 16 * j, 16, codes + 16 * j);
  }
}

void fit_q2_k(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t* codes) {
  const float* x = in.x;
  uint8_t L[kQK_K];
  float scales[16], mins[16], w[16];
  ggml::BlockQ2_K b{};
  if (!in.importance) {
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
      const AsymFit r =
          search_asymmetric(16, 3, x + 16 * j, w, L + 16 * j, -0.5f, 0.1f, 15, true);
      scales[j] = r.scale;
      mins[j] = r.neg_min;
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0.0f) {
      const float iscale = 15.0f / max_scale;
      for (int j = 0; j < 16; ++j)
        b.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
      b.d = f32_to_f16(max_scale / 15.0f);
    } else {
      b.d = f32_to_f16(0.0f);
    }
    if (max_min > 0.0f) {
      const float iscale = 15.0f / max_min;
      for (int j = 0; j < 16; ++j)
        b.scales[j] = static_cast<uint8_t>(b.scales[j] | (nearest_int(iscale * mins[j]) << 4));
      b.dmin = f32_to_f16(max_min / 15.0f);
    } else {
      b.dmin = f32_to_f16(0.0f);
    }
  } else {
    const float sigma2 = sum_squares(x, kQK_K) / static_cast<float>(kQK_K);
    float sw[16];
    uint8_t Ls[16], Lm[16];
    for (int j = 0; j < 16; ++j) {
      const float* qw = in.importance + 16 * j;
      sw[j] = 0.0f;
      for (int l = 0; l < 16; ++l) {
        w[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        sw[j] += w[l];
      }
      const AsymFit r =
          search_asymmetric(16, 3, x + 16 * j, w, L + 16 * j, -0.9f, 0.05f, 36, false);
      scales[j] = r.scale;
      mins[j] = r.neg_min;
    }
    b.d = f32_to_f16(search_positive(16, 15, scales, Ls, sw));
    b.dmin = f32_to_f16(search_positive(16, 15, mins, Lm, sw));
    for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
  }
  store(b, block);
  q2_k_grids(b, subs, L, codes);
}

void pack_q2_k(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockQ2_K>(block);
  pack_2bit(codes, b.qs);
  store(b, block);
}

void decode_q2_k(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockQ2_K>(block);
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int j = 0; j < 16; ++j) {
    const float dl = d * static_cast<float>(b.scales[j] & 0xF);
    const float ml = dmin * static_cast<float>(b.scales[j] >> 4);
    for (int l = 0; l < 16; ++l) {
      const int e = 16 * j + l;
      y[e] = dl * static_cast<float>(get_2bit(b.qs, e)) - ml;
    }
  }
}

// ------------------------------------------------------------------ Q3_K

void fit_q3_k(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t* codes) {
  const float* x = in.x;
  int8_t L[kQK_K];
  float scales[16];
  ggml::BlockQ3_K b{};
  if (!in.importance) {
    float max_scale = 0.0f, amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = search_symmetric_refine(16, 4, x + 16 * j, L + 16 * j);
      const float a = std::fabs(scales[j]);
      if (a > amax) {
        amax = a;
        max_scale = scales[j];
      }
    }
    if (max_scale != 0.0f) {
      const float iscale = -32.0f / max_scale;
      for (int j = 0; j < 16; ++j) {
        int l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
        l = (l < -32 ? -32 : (l > 31 ? 31 : l)) + 32;
        set_scale_q3(j, l, b.scales);
      }
      b.d = f32_to_f16(1.0f / iscale);
    } else {
      b.d = f32_to_f16(0.0f);
    }
  } else {
    const float sigma2 = 2.0f * sum_squares(x, kQK_K) / static_cast<float>(kQK_K);
    float w[16], sw[16];
    int8_t Ls[16];
    for (int j = 0; j < 16; ++j) {
      const float* qw = in.importance + 16 * j;
      for (int l = 0; l < 16; ++l)
        w[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      float sumw = 0.0f;
      for (int l = 0; l < 16; ++l) sumw += w[l];
      sw[j] = sumw;
      scales[j] = search_symmetric(16, 4, x + 16 * j, w, L + 16 * j).scale;
    }
    const float d_block = search_symmetric(16, 32, scales, sw, Ls).scale;
    for (int j = 0; j < 16; ++j) set_scale_q3(j, Ls[j], b.scales);
    b.d = f32_to_f16(d_block);
  }
  store(b, block);
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    set_sym_grid(&subs[j], d * static_cast<float>(get_scale_q3(j, b.scales)), 4);
    if (subs[j].fixed) copy_codes(L + 16 * j, 16, codes + 16 * j);
  }
}

void pack_q3_k(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockQ3_K>(block);
  std::memset(b.hmask, 0, sizeof(b.hmask));
  int32_t low[kQK_K];
  for (int e = 0; e < kQK_K; ++e) {
    low[e] = codes[e] & 3;
    if (codes[e] & 4) b.hmask[e % 32] = static_cast<uint8_t>(b.hmask[e % 32] | (1 << (e / 32)));
  }
  pack_2bit(low, b.qs);
  store(b, block);
}

void decode_q3_k(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockQ3_K>(block);
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    const float dl = d * static_cast<float>(get_scale_q3(j, b.scales));
    for (int l = 0; l < 16; ++l) {
      const int e = 16 * j + l;
      const int high = (b.hmask[e % 32] >> (e / 32)) & 1;
      y[e] = dl * static_cast<float>(get_2bit(b.qs, e) - (high ? 0 : 4));
    }
  }
}

// ------------------------------------------------------------ Q4_K and Q5_K

// Scales and mins of the 8 sub-blocks of 32 (shared by Q4_K, nmax 15, and
// Q5_K, nmax 31); codes of the search in L.
template <typename Block>
void fit_q45_k(const FitInput& in, int nmax, Block* b, uint8_t* L) {
  const float* x = in.x;
  float scales[8], mins[8], w[32];
  if (!in.importance) {
    const float rmin = nmax == 15 ? -1.0f : -0.5f;
    const int nstep = nmax == 15 ? 20 : 15;
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
      const float* xs = x + 32 * j;
      const float av_x = std::sqrt(sum_squares(xs, 32) / 32.0f);
      for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(xs[l]);
      const AsymFit r = search_asymmetric(32, nmax, xs, w, L + 32 * j, rmin, 0.1f, nstep, false);
      scales[j] = r.scale;
      mins[j] = r.neg_min;
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; ++j) {
      uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
      uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
      if (ls > 63) ls = 63;
      if (lm > 63) lm = 63;
      set_scale_min_k4(j, ls, lm, b->scales);
    }
    b->d = f32_to_f16(max_scale / 63.0f);
    b->dmin = f32_to_f16(max_min / 63.0f);
  } else {
    const float sigma2 = 2.0f * sum_squares(x, kQK_K) / static_cast<float>(kQK_K);
    float sw[8];
    uint8_t Ls[8], Lm[8];
    for (int j = 0; j < 8; ++j) {
      const float* xs = x + 32 * j;
      const float* qw = in.importance + 32 * j;
      for (int l = 0; l < 32; ++l) w[l] = qw[l] * std::sqrt(sigma2 + xs[l] * xs[l]);
      float sumw = 0.0f;
      for (int l = 0; l < 32; ++l) sumw += w[l];
      sw[j] = sumw;
      const AsymFit r = search_asymmetric(32, nmax, xs, w, L + 32 * j, -0.9f, 0.05f, 36, false);
      scales[j] = r.scale;
      mins[j] = r.neg_min;
    }
    const float d_block = search_positive(8, 63, scales, Ls, sw);
    const float m_block = search_positive(8, 63, mins, Lm, sw);
    for (int j = 0; j < 8; ++j) {
      uint8_t ls = Ls[j], lm = Lm[j];
      if (nmax == 31) {  // only ggml's Q5_K clamps here
        if (ls > 63) ls = 63;
        if (lm > 63) lm = 63;
      }
      set_scale_min_k4(j, ls, lm, b->scales);
    }
    b->d = f32_to_f16(d_block);
    b->dmin = f32_to_f16(m_block);
  }
}

template <typename Block>
void q45_k_grids(const Block& b, int nmax, GgmlSubGrid* subs, const uint8_t* L, int32_t* codes) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, b.scales, &sc, &m);
    set_asym_grid(&subs[j], d * static_cast<float>(sc), dmin * static_cast<float>(m), nmax);
    if (subs[j].fixed) copy_codes(L + 32 * j, 32, codes + 32 * j);
  }
}

// 4-bit fields of Q4_K / Q5_K: element 64c + l at qs[32c + l] low nibble,
// 64c + 32 + l at its high nibble.
void pack_4bit_k(const int32_t* codes, uint8_t* qs) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      qs[32 * c + l] = static_cast<uint8_t>((codes[64 * c + l] & 0xF) |
                                            (codes[64 * c + 32 + l] & 0xF) << 4);
}
inline int get_4bit_k(const uint8_t* qs, int e) {
  const int c = e / 64, l = e % 32;
  return ((e % 64) < 32) ? (qs[32 * c + l] & 0xF) : (qs[32 * c + l] >> 4);
}

template <typename Block>
void decode_q45_k(const Block& b, const uint8_t* qh, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, b.scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      const int e = 32 * j + l;
      int q = get_4bit_k(b.qs, e);
      if (qh && ((qh[l] >> j) & 1)) q += 16;  // sub-block j's 5th bits are qh[l] bit j
      y[e] = d1 * static_cast<float>(q) - m1;
    }
  }
}

void fit_q4_k(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t* codes) {
  ggml::BlockQ4_K b{};
  uint8_t L[kQK_K];
  fit_q45_k(in, 15, &b, L);
  store(b, block);
  q45_k_grids(b, 15, subs, L, codes);
}
void pack_q4_k(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockQ4_K>(block);
  pack_4bit_k(codes, b.qs);
  store(b, block);
}
void decode_q4_k(const uint8_t* block, float* y) {
  decode_q45_k(load<ggml::BlockQ4_K>(block), nullptr, y);
}

void fit_q5_k(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t* codes) {
  ggml::BlockQ5_K b{};
  uint8_t L[kQK_K];
  fit_q45_k(in, 31, &b, L);
  store(b, block);
  q45_k_grids(b, 31, subs, L, codes);
}
void pack_q5_k(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockQ5_K>(block);
  pack_4bit_k(codes, b.qs);
  std::memset(b.qh, 0, sizeof(b.qh));
  for (int e = 0; e < kQK_K; ++e)
    if (codes[e] & 16) b.qh[e % 32] = static_cast<uint8_t>(b.qh[e % 32] | (1 << (e / 32)));
  store(b, block);
}
void decode_q5_k(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockQ5_K>(block);
  decode_q45_k(b, b.qh, y);
}

// ------------------------------------------------------------------ Q6_K

void fit_q6_k(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t* codes) {
  const float* x = in.x;
  int8_t L[kQK_K];
  float scales[16];
  float max_scale = 0.0f, max_abs_scale = 0.0f;
  for (int j = 0; j < 16; ++j) {
    const float* qw = in.importance ? in.importance + 16 * j : nullptr;
    scales[j] = search_symmetric(16, 32, x + 16 * j, qw, L + 16 * j).scale;
    const float a = std::fabs(scales[j]);
    if (a > max_abs_scale) {
      max_abs_scale = a;
      max_scale = scales[j];
    }
  }
  ggml::BlockQ6_K b{};
  if (max_abs_scale < kGroupMaxEps) {
    // ggml zeroes the whole block: scales 0, codes 0.
    std::memset(L, 0, sizeof(L));
    b.d = f32_to_f16(0.0f);
  } else {
    const float iscale = -128.0f / max_scale;
    b.d = f32_to_f16(1.0f / iscale);
    for (int j = 0; j < 16; ++j) {
      const int l = nearest_int(iscale * scales[j]);
      b.scales[j] = static_cast<int8_t>(l < 127 ? l : 127);
    }
  }
  store(b, block);
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    set_sym_grid(&subs[j], d * static_cast<float>(b.scales[j]), 32);
    if (subs[j].fixed) copy_codes(L + 16 * j, 16, codes + 16 * j);
  }
}

// Element 128h + 32k + l: low 4 bits in ql[64h + 32 (k & 1) + l] (k < 2 low
// nibble, else high), high 2 bits in qh[32h + l] bits 2k.
void pack_q6_k(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockQ6_K>(block);
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int32_t* c = codes + 128 * h + l;
      b.ql[64 * h + l] = static_cast<uint8_t>((c[0] & 0xF) | (c[64] & 0xF) << 4);
      b.ql[64 * h + 32 + l] = static_cast<uint8_t>((c[32] & 0xF) | (c[96] & 0xF) << 4);
      b.qh[32 * h + l] = static_cast<uint8_t>(((c[0] >> 4) & 3) | ((c[32] >> 4) & 3) << 2 |
                                              ((c[64] >> 4) & 3) << 4 | ((c[96] >> 4) & 3) << 6);
    }
  store(b, block);
}

void decode_q6_k(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockQ6_K>(block);
  const float d = f16_to_f32(b.d);
  for (int e = 0; e < kQK_K; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const uint8_t lowbyte = b.ql[64 * h + 32 * (k & 1) + l];
    const int low = k < 2 ? (lowbyte & 0xF) : (lowbyte >> 4);
    const int high = (b.qh[32 * h + l] >> (2 * k)) & 3;
    y[e] = d * static_cast<float>(b.scales[e / 16]) * static_cast<float>((low | high << 4) - 32);
  }
}

}  // namespace

const FormatImpl kQ2_K{16, fit_q2_k, pack_q2_k, decode_q2_k};
const FormatImpl kQ3_K{16, fit_q3_k, pack_q3_k, decode_q3_k};
const FormatImpl kQ4_K{32, fit_q4_k, pack_q4_k, decode_q4_k};
const FormatImpl kQ5_K{32, fit_q5_k, pack_q5_k, decode_q5_k};
const FormatImpl kQ6_K{16, fit_q6_k, pack_q6_k, decode_q6_k};

}  // namespace lieq::ggml_detail
