// IQ2_XXS (2.06 bpw), IQ2_XS (2.31 bpw) and IQ2_S (2.56 bpw): super-blocks of
// 256 values, groups of 8 coded as one entry of an E8-like lattice code book
// (ggml_iq_grids.h: 256, 512, 1024 entries of 8 magnitudes 8, 25, 43) plus
// signs, one fp16 scale d and 4-bit sub-block scales s,
//   x = d * (0.5 + s) * 0.25 * grid[q][j] * sign_j.
// IQ2_XXS: sub-blocks of 32, per 32 four 8-bit indices + four 7-bit signs +
//   the 4-bit scale in two uint32; IQ2_XS: sub-blocks of 16, per 8 a 9-bit
//   index + 7 sign bits; both keep an even number of minus signs per 8 (the
//   8th sign is the parity of the 7 stored). IQ2_S: sub-blocks of 16, 10-bit
//   indices, 8 free sign bits per 8.
// As ggml's quantize_iq2_xxs / quantize_iq2_xs / quantize_iq2_s (llama.cpp
// de3ff815, the same since Feb 2025 except IQ2_XXS's eff_max <= 0 guard):
// each sub-block folds the signs into |x| (flipping the cheapest element to
// even parity), tries a range of inverse scales, rounds each group to the
// lattice 2l+1 (l = 0..2) and, off the code book, takes the best of the
// point's precomputed neighbours (ggml_iq_lattice.h), then refits the scale.
// IQ2_XXS and IQ2_XS need an imatrix (ggml asserts); IQ2_S does not.
#include <cmath>
#include <cstring>

#include "format/ggml_impl.h"
#include "format/ggml_iq_grids.h"
#include "format/ggml_iq_impl.h"
#include "format/ggml_iq_lattice.h"
#include "util/error.h"
#include "util/half.h"

namespace lieq::ggml_detail {

namespace {

constexpr int kN = ggml::kQK_K;
constexpr int kMaxQ = 3;           // ggml's kMaxQ: ranks 0..kMaxQ - 1
constexpr float kEpsIq2S = 1e-8f;  // ggml's GROUP_MAX_EPS_IQ2_S

inline float fmax_ggml(float a, float b) {
  return a > b ? a : b;
}  // ggml's MAX

// Lattice coordinate k (2l + 1) of a point of Iq2Lattice::points.
inline int point_coord(uint64_t p, int k) {
  return static_cast<int8_t>(p >> (8 * k));
}

// ggml's iq2_find_best_neighbour: among the neighbours of an off-grid point,
// the one nearest (weights waux) to xval at this scale; writes its ranks to L.
int best_neighbour(const Iq2Lattice& lat, int32_t map_entry, const float* xval, const float* waux,
                   float scale, int8_t* L) {
  const uint16_t* nb = lat.neighbours.data() + (-map_entry - 1);
  const int count = nb[0];
  check(count > 0, "ggml IQ2 lattice: empty neighbour list");
  float best_d2 = 3.402823466e+38f;  // FLT_MAX
  int grid_index = -1;
  for (int j = 1; j <= count; ++j) {
    const uint64_t p = lat.points[nb[j]];
    float d2 = 0.0f;
    for (int i = 0; i < 8; ++i) {
      const float q = static_cast<float>(point_coord(p, i));
      const float diff = scale * q - xval[i];
      d2 += waux[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      grid_index = nb[j];
    }
  }
  check(grid_index >= 0, "ggml IQ2 lattice: no neighbour found");
  const uint64_t p = lat.points[grid_index];
  for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>((point_coord(p, i) - 1) / 2);
  return grid_index;
}

// One group of 8 on the lattice at inverse scale id: ranks rounded and
// clamped into L; off the code book, the best neighbour at `scale` replaces
// them. Returns whether the rounded point was on the code book.
bool round_group(const Iq2Lattice& lat, const float* xval, const float* waux, float id, float scale,
                 int8_t* L) {
  int u = 0;
  for (int i = 0; i < 8; ++i) {
    int l = nearest_int(0.5f * (id * xval[i] - 1));
    l = l < 0 ? 0 : (l > kMaxQ - 1 ? kMaxQ - 1 : l);
    L[i] = static_cast<int8_t>(l);
    u |= l << (2 * i);
  }
  const int32_t m = lat.map[u];
  if (m >= 0) return true;
  best_neighbour(lat, m, xval, waux, scale, L);
  return false;
}

// Code book index of the ranks L (on the code book by construction).
int grid_index_of(const Iq2Lattice& lat, const int8_t* L, const char* type) {
  int u = 0;
  for (int i = 0; i < 8; ++i) u |= L[i] << (2 * i);
  const int32_t m = lat.map[u];
  check(m >= 0, "ggml ", type, ": point ", u, " not on the code book");  // ggml aborts
  return m;
}

// Weighted sums of the lattice values 2L + 1 against xval over n elements.
void lattice_sums(int n, const float* xval, const float* weight, const int8_t* L, float* sumqx,
                  float* sumq2) {
  *sumqx = 0.0f;
  *sumq2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float w = weight[i];
    const float q = static_cast<float>(2 * L[i] + 1);
    *sumqx += w * xval[i] * q;
    *sumq2 += w * q * q;
  }
}

// |x| of one group of 8 into xval and the sign bits (bit i: x[i] < 0). With
// `even`, an odd number of minus signs is made even by flipping the element
// of least weight * x^2 (its xval becomes negative); returns 7 bits then.
uint8_t fold_signs(const float* xb, const float* weight, float* xval, bool even) {
  int nflip = 0;
  uint8_t s = 0;
  for (int i = 0; i < 8; ++i) {
    if (xb[i] >= 0) {
      xval[i] = xb[i];
    } else {
      xval[i] = -xb[i];
      ++nflip;
      s = static_cast<uint8_t>(s | (1 << i));
    }
  }
  if (!even) return s;
  if (nflip % 2) {
    int imin = 0;
    float min = weight[0] * xb[0] * xb[0];
    for (int i = 1; i < 8; ++i) {
      const float ax = weight[i] * xb[i] * xb[i];
      if (ax < min) {
        min = ax;
        imin = i;
      }
    }
    xval[imin] = -xval[imin];
    s = static_cast<uint8_t>(s ^ (1 << imin));
  }
  return static_cast<uint8_t>(s & 127);
}

// Mean of x^2 over the super-block (ggml's sigma2 before IQ2_S's factor 2).
float block_sigma2(const float* xbl) {
  float sumx2 = 0.0f;
  for (int i = 0; i < kN; ++i) sumx2 += xbl[i] * xbl[i];
  return sumx2;
}

// The 4-bit sub-block scale code of scale under the super-block d (id = 1/d).
int sub_scale_code(float id, float scale) {
  int l = nearest_int(0.5f * (id * scale - 1));
  return l < 0 ? 0 : (l > 15 ? 15 : l);
}

// ---------------------------------------------------------------- IQ2_XXS

// The scale search of one sub-block of 32 (4 groups; xval folded, weights
// set): make_qp_quants' scale, 13 trial inverse scales, then all 4 groups
// re-rounded at the best scale; L: the groups' ranks. False for an all-zero
// sub-block (ggml's early exits: codes and scale stay 0).
bool xxs_sub_block(const Iq2Lattice& lat, const float* xval, const float* weight, const float* waux,
                   int8_t* L, float* scale_out) {
  float max = xval[0];
  for (int i = 1; i < 32; ++i) max = fmax_ggml(max, xval[i]);
  if (max < kGroupMaxEps) return false;
  uint8_t Lqp[32];
  float scale = search_positive(32, kMaxQ + 1, xval, Lqp, weight);
  // ggml 2026's make_qp_quants returns 0 when sum w l^2 = 0 (then also
  // sum w x l = 0); search_positive returns that 0/0 (the 2025 behaviour).
  if (!(scale == scale)) scale = 0.0f;
  const float eff_max = scale * kMaxQ;
  if (eff_max <= 0) return false;
  for (int i = 0; i < 32; ++i) L[i] = static_cast<int8_t>(Lqp[i]);
  int8_t Laux[32];
  float best = 0.0f;
  for (int is = -6; is <= 6; ++is) {
    const float id = (2 * kMaxQ - 1 + static_cast<float>(is) * 0.1f) / eff_max;
    const float this_scale = 1 / id;
    for (int k = 0; k < 4; ++k)
      round_group(lat, xval + 8 * k, waux + 8 * k, id, this_scale, Laux + 8 * k);
    float sumqx, sumq2;
    lattice_sums(32, xval, weight, Laux, &sumqx, &sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::memcpy(L, Laux, 32);
    }
  }
  if (scale > 0) {
    const float id = 1 / scale;
    for (int k = 0; k < 4; ++k) round_group(lat, xval + 8 * k, waux + 8 * k, id, scale, L + 8 * k);
    float sumqx, sumq2;
    lattice_sums(32, xval, weight, L, &sumqx, &sumq2);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  *scale_out = scale;
  return true;
}

void encode_block_iq2_xxs(const Iq2Lattice& lat, const float* xbl, const float* qwbl,
                          uint8_t* dst) {
  uint32_t q2[2 * (kN / 32)] = {};
  float scales[kN / 32];
  float max_scale = 0.0f;
  const float sigma2 = block_sigma2(xbl) / kN;
  for (int ib = 0; ib < kN / 32; ++ib) {
    const float* xb = xbl + 32 * ib;
    const float* qw = qwbl + 32 * ib;
    float weight[32], waux[32], xval[32], scale = 0.0f;
    int8_t L[32];
    uint8_t signs[4];
    for (int i = 0; i < 32; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
    for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
    for (int k = 0; k < 4; ++k)
      signs[k] = fold_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k, true);
    scales[ib] = 0.0f;
    if (!xxs_sub_block(lat, xval, weight, waux, L, &scale)) continue;
    if (scale < 0) {  // ggml: cannot happen; flip to keep the scale unsigned
      scale = -scale;
      for (int k = 0; k < 4; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & 127);
    }
    for (int k = 0; k < 4; ++k) {
      const int gi = grid_index_of(lat, L + 8 * k, "IQ2_XXS");
      q2[2 * ib + 0] |= static_cast<uint32_t>(gi) << (8 * k);
      q2[2 * ib + 1] |= static_cast<uint32_t>(signs[k]) << (7 * k);
    }
    scales[ib] = scale;
    max_scale = fmax_ggml(max_scale, scale);
  }
  ggml::BlockIQ2_XXS b{};  // all zero when every scale is 0 (ggml clears qs)
  if (max_scale != 0.0f) {
    const float d = max_scale / 31;
    b.d = f32_to_f16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < kN / 32; ++ib)
      q2[2 * ib + 1] |= static_cast<uint32_t>(sub_scale_code(id, scales[ib])) << 28;
    std::memcpy(b.qs, q2, sizeof(q2));
  }
  store(b, dst);
}

// ---------------------------------------------------------------- IQ2_XS, IQ2_S

// The scale search of one sub-block of 16 (2 groups), shared by IQ2_XS and
// IQ2_S: 19 trial inverse scales around max / 5, then the groups that were
// off the code book re-rounded at the best scale. False below eps (codes and
// scale stay 0).
bool pair_sub_block(const Iq2Lattice& lat, const float* xval, const float* weight,
                    const float* waux, float eps, int8_t* L, float* scale_out) {
  float max = xval[0];
  for (int i = 1; i < 16; ++i) max = fmax_ggml(max, xval[i]);
  std::memset(L, 0, 16);
  if (max < eps) return false;
  float best = 0.0f;
  float scale = max / (2 * kMaxQ - 1);
  bool on_grid[2] = {true, true};
  int8_t Laux[16];
  for (int is = -9; is <= 9; ++is) {
    const float id = (2 * kMaxQ - 1 + static_cast<float>(is) * 0.1f) / max;
    const float this_scale = 1 / id;
    bool on_grid_aux[2];
    for (int k = 0; k < 2; ++k)
      on_grid_aux[k] = round_group(lat, xval + 8 * k, waux + 8 * k, id, this_scale, Laux + 8 * k);
    float sumqx, sumq2;
    lattice_sums(16, xval, weight, Laux, &sumqx, &sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::memcpy(L, Laux, 16);
      on_grid[0] = on_grid_aux[0];
      on_grid[1] = on_grid_aux[1];
    }
  }
  if ((!on_grid[0] || !on_grid[1]) && scale > 0) {
    const float id = 1 / scale;
    for (int k = 0; k < 2; ++k)
      if (!on_grid[k]) round_group(lat, xval + 8 * k, waux + 8 * k, id, scale, L + 8 * k);
    float sumqx, sumq2;
    lattice_sums(16, xval, weight, L, &sumqx, &sumq2);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  *scale_out = scale;
  return true;
}

// Per sub-block of 16: the scale and the two groups' indices and signs.
struct PairCodes {
  float scale[kN / 16] = {};
  bool coded[kN / 16] = {};
  int index[kN / 8] = {};
  uint8_t signs[kN / 8] = {};
};

// IQ2_XS (iq2_s false: ggml's weights need importance, parity signs) or IQ2_S
// (importance optional, free signs, eps 1e-8). Returns the max scale.
float encode_pairs(const Iq2Lattice& lat, const float* xbl, const float* qwbl, bool iq2_s,
                   PairCodes* pc) {
  const char* type = iq2_s ? "IQ2_S" : "IQ2_XS";
  const float sumx2 = block_sigma2(xbl);
  const float sigma2 = iq2_s ? 2 * sumx2 / kN : sumx2 / kN;
  float max_scale = 0.0f;
  for (int ib = 0; ib < kN / 16; ++ib) {
    const float* xb = xbl + 16 * ib;
    float weight[16], waux[16], xval[16], scale = 0.0f;
    int8_t L[16];
    uint8_t signs[2];
    if (qwbl) {
      const float* qw = qwbl + 16 * ib;
      for (int i = 0; i < 16; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
    } else {
      for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
    }
    for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
    for (int k = 0; k < 2; ++k)
      signs[k] = fold_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k, !iq2_s);
    if (!pair_sub_block(lat, xval, weight, waux, iq2_s ? kEpsIq2S : kGroupMaxEps, L, &scale))
      continue;
    if (scale < 0) {  // ggml: cannot happen; flip to keep the scale unsigned
      scale = -scale;
      for (int k = 0; k < 2; ++k)
        signs[k] = static_cast<uint8_t>(iq2_s ? ~signs[k] : ~signs[k] & 127);
    }
    for (int k = 0; k < 2; ++k) {
      pc->index[2 * ib + k] = grid_index_of(lat, L + 8 * k, type);
      pc->signs[2 * ib + k] = signs[k];
    }
    pc->coded[ib] = true;
    pc->scale[ib] = scale;
    max_scale = fmax_ggml(max_scale, scale);
  }
  return max_scale;
}

void encode_block_iq2_xs(const Iq2Lattice& lat, const float* xbl, const float* qwbl, uint8_t* dst) {
  PairCodes pc;
  const float max_scale = encode_pairs(lat, xbl, qwbl, false, &pc);
  ggml::BlockIQ2_XS b{};  // all zero when every scale is 0 (ggml clears qs)
  if (max_scale != 0.0f) {
    const float d = max_scale / 31;
    b.d = f32_to_f16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < kN / 16; ++ib)
      b.scales[ib / 2] = static_cast<uint8_t>(b.scales[ib / 2] | sub_scale_code(id, pc.scale[ib])
                                                                     << (4 * (ib % 2)));
    for (int g = 0; g < kN / 8; ++g)
      b.qs[g] = static_cast<uint16_t>(pc.index[g] | pc.signs[g] << 9);
  }
  store(b, dst);
}

void encode_block_iq2_s(const Iq2Lattice& lat, const float* xbl, const float* qwbl, uint8_t* dst) {
  PairCodes pc;
  const float max_scale = encode_pairs(lat, xbl, qwbl, true, &pc);
  ggml::BlockIQ2_S b{};
  // ggml writes the codes of every coded sub-block, even when all scales
  // come out 0 (then d and the scales stay 0).
  for (int g = 0; g < kN / 8; ++g) {
    if (!pc.coded[g / 2]) continue;
    b.qs[g] = static_cast<uint8_t>(pc.index[g] & 255);
    b.qh[g / 4] = static_cast<uint8_t>(b.qh[g / 4] | (pc.index[g] >> 8) << (2 * (g % 4)));
    b.qs[kN / 8 + g] = pc.signs[g];
  }
  if (max_scale != 0.0f) {
    const float d = max_scale / 31;
    b.d = f32_to_f16(d * 0.9875f);
    const float id = 1 / d;
    for (int ib = 0; ib < kN / 16; ++ib)
      b.scales[ib / 2] = static_cast<uint8_t>(b.scales[ib / 2] | sub_scale_code(id, pc.scale[ib])
                                                                     << (4 * (ib % 2)));
  }
  store(b, dst);
}

// ---------------------------------------------------------------- decode

// Sign of element j of a group: ksigns_iq2xs[s7] (XXS, XS) or the byte (S).
inline float sign_of(uint8_t signs, int j) {
  return (signs >> j) & 1 ? -1.f : 1.f;
}

void decode_group(const uint64_t* book, int index, uint8_t signs, float db, float* y) {
  for (int j = 0; j < 8; ++j) y[j] = db * ggml::grid_byte(book[index], j) * sign_of(signs, j);
}

void decode_iq2_xxs(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockIQ2_XXS>(block);
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < kN / 32; ++ib) {
    uint32_t aux[2];
    std::memcpy(aux, b.qs + 4 * ib, 8);
    const float db = d * (0.5f + static_cast<float>(aux[1] >> 28)) * 0.25f;
    for (int l = 0; l < 4; ++l) {
      const int index = static_cast<int>((aux[0] >> (8 * l)) & 255);
      const uint8_t signs = ggml::iq2_signs(static_cast<int>((aux[1] >> (7 * l)) & 127));
      decode_group(ggml::kIq2xxsGrid, index, signs, db, y + 32 * ib + 8 * l);
    }
  }
}

void decode_iq2_xs(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockIQ2_XS>(block);
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < kN / 32; ++ib) {
    const float db[2] = {d * (0.5f + static_cast<float>(b.scales[ib] & 0xf)) * 0.25f,
                         d * (0.5f + static_cast<float>(b.scales[ib] >> 4)) * 0.25f};
    for (int l = 0; l < 4; ++l) {
      const uint16_t q = b.qs[4 * ib + l];
      decode_group(ggml::kIq2xsGrid, q & 511, ggml::iq2_signs(q >> 9), db[l / 2],
                   y + 32 * ib + 8 * l);
    }
  }
}

int iq2_s_index(const ggml::BlockIQ2_S& b, int g) {
  return b.qs[g] | ((b.qh[g / 4] >> (2 * (g % 4))) & 3) << 8;
}

void decode_iq2_s(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockIQ2_S>(block);
  const float d = f16_to_f32(b.d);
  for (int ib = 0; ib < kN / 32; ++ib) {
    const float db[2] = {d * (0.5f + static_cast<float>(b.scales[ib] & 0xf)) * 0.25f,
                         d * (0.5f + static_cast<float>(b.scales[ib] >> 4)) * 0.25f};
    for (int l = 0; l < 4; ++l) {
      const int g = 4 * ib + l;
      decode_group(ggml::kIq2sGrid, iq2_s_index(b, g), b.qs[kN / 8 + g], db[l / 2],
                   y + 32 * ib + 8 * l);
    }
  }
}

// ---------------------------------------------------------------- rows

void check_row(int64_t n, const char* type) {
  check(n >= 0 && n % kN == 0, "ggml ", type, ": row length ", n, " is not a multiple of ", kN);
}

// A row of blocks of `Block`, each encoded on the lattice of `grid` points;
// a null importance refused where ggml refuses it.
template <class Block, class EncodeBlock>
void encode_blocks(const char* type, int grid, bool needs_importance, EncodeBlock encode,
                   const float* x, uint8_t* dst, int64_t n, const float* importance) {
  check_row(n, type);
  check(importance != nullptr || !needs_importance, "ggml ", type,
        ": quantization needs an importance matrix (imatrix), as in llama.cpp");
  const Iq2Lattice& lat = iq2_lattice(grid);
  for (int64_t ibl = 0; ibl < n / kN; ++ibl)
    encode(lat, x + kN * ibl, importance ? importance + kN * ibl : nullptr,
           dst + ibl * static_cast<int64_t>(sizeof(Block)));
}

void encode_row_iq2_xxs(const float* x, uint8_t* dst, int64_t n, const float* importance) {
  encode_blocks<ggml::BlockIQ2_XXS>("IQ2_XXS", 256, true, encode_block_iq2_xxs, x, dst, n,
                                    importance);
}

void encode_row_iq2_xs(const float* x, uint8_t* dst, int64_t n, const float* importance) {
  encode_blocks<ggml::BlockIQ2_XS>("IQ2_XS", 512, true, encode_block_iq2_xs, x, dst, n,
                                   importance);
}

void encode_row_iq2_s(const float* x, uint8_t* dst, int64_t n, const float* importance) {
  encode_blocks<ggml::BlockIQ2_S>("IQ2_S", 1024, false, encode_block_iq2_s, x, dst, n, importance);
}

// ---------------------------------------------------------------- requantize_group
//
// One group of 8 under the block's stored scale db (decoded value db * grid
// byte * sign). Candidates: ggml's fixed-scale search (signs folded as the
// encoder does, ranks rounded at the lattice scale 8 db, i.e. grid bytes
// ~ 8 (2l + 1); off the code book that point's neighbour list), plus the entry
// stored now. Each candidate gets its best signs (IQ2_S: those of x; IQ2_XXS,
// IQ2_XS: those of x with, on odd parity, the cheapest element flipped), and
// the one with least sum w (x - decoded)^2 is written (ties: the first, the
// stored entry last). So requantizing a group's own values never increases
// its error. Null w: weights x^2 (the encoder's weights without importance,
// up to IQ2_S's block term 0.25 sigma2, which a group cannot see).

struct GroupChoice {
  int index = 0;
  uint8_t signs = 0;  // 8 bits; even parity for the 7-bit formats
  float err = 0.0f;
};

// The best signs of code book entry `entry` for x at scale db (db > 0) and
// the error they give.
GroupChoice score_entry(uint64_t entry, int index, const float* x, const float* w, float db,
                        bool even) {
  GroupChoice c;
  c.index = index;
  float dec[8];
  for (int j = 0; j < 8; ++j) {
    dec[j] = db * ggml::grid_byte(entry, j);
    if (x[j] < 0) c.signs = static_cast<uint8_t>(c.signs | (1 << j));
  }
  int flip = -1;
  if (even && __builtin_popcount(c.signs) % 2) {
    float least = 0.0f;
    for (int j = 0; j < 8; ++j) {
      const float ax = std::fabs(x[j]);
      const float cost = w[j] * ((ax + dec[j]) * (ax + dec[j]) - (ax - dec[j]) * (ax - dec[j]));
      if (flip < 0 || cost < least) {
        least = cost;
        flip = j;
      }
    }
    c.signs = static_cast<uint8_t>(c.signs ^ (1 << flip));
  }
  for (int j = 0; j < 8; ++j) {
    const float diff = x[j] - dec[j] * sign_of(c.signs, j);
    c.err += w[j] * diff * diff;
  }
  return c;
}

// The best entry for x (w set, db > 0) among ggml's candidates and `stored`.
GroupChoice search_group(int grid_size, const uint64_t* book, const float* x, const float* w,
                         float db, bool even, int stored) {
  const Iq2Lattice& lat = iq2_lattice(grid_size);
  float xval[8];
  fold_signs(x, w, xval, even);
  const float id = 1 / (8 * db);
  int u = 0;
  for (int j = 0; j < 8; ++j) {
    int l = nearest_int(0.5f * (id * xval[j] - 1));
    l = l < 0 ? 0 : (l > kMaxQ - 1 ? kMaxQ - 1 : l);
    u |= l << (2 * j);
  }
  GroupChoice best;
  bool have = false;
  auto consider = [&](int index) {
    const GroupChoice c = score_entry(book[index], index, x, w, db, even);
    if (!have || c.err < best.err) best = c;
    have = true;
  };
  const int32_t m = lat.map[u];
  if (m >= 0) {
    consider(m);
  } else {
    const uint16_t* nb = lat.neighbours.data() + (-m - 1);
    for (int j = 1; j <= nb[0]; ++j) consider(nb[j]);
  }
  consider(stored);
  return best;
}

void group_weights(const float* x, const float* w, float* wg) {
  for (int j = 0; j < 8; ++j) wg[j] = w ? w[j] : x[j] * x[j];
}

void check_group(int group, const char* type) {
  check(group >= 0 && group < kN / 8, "ggml ", type, ": group ", group, " out of range 0..31");
}

void requantize_group_iq2_xxs(uint8_t* block, int group, const float* x, const float* w) {
  check_group(group, "IQ2_XXS");
  auto b = load<ggml::BlockIQ2_XXS>(block);
  const int ib = group / 4, k = group % 4;
  uint32_t aux[2];
  std::memcpy(aux, b.qs + 4 * ib, 8);
  const float db = f16_to_f32(b.d) * (0.5f + static_cast<float>(aux[1] >> 28)) * 0.25f;
  if (!(db > 0)) return;  // every entry decodes to 0 (or ggml never writes this)
  float wg[8];
  group_weights(x, w, wg);
  const int stored = static_cast<int>((aux[0] >> (8 * k)) & 255);
  const GroupChoice c = search_group(256, ggml::kIq2xxsGrid, x, wg, db, true, stored);
  aux[0] = (aux[0] & ~(255u << (8 * k))) | static_cast<uint32_t>(c.index) << (8 * k);
  aux[1] = (aux[1] & ~(127u << (7 * k))) | static_cast<uint32_t>(c.signs & 127) << (7 * k);
  std::memcpy(b.qs + 4 * ib, aux, 8);
  store(b, block);
}

void requantize_group_iq2_xs(uint8_t* block, int group, const float* x, const float* w) {
  check_group(group, "IQ2_XS");
  auto b = load<ggml::BlockIQ2_XS>(block);
  const int s = (b.scales[group / 4] >> (4 * ((group / 2) % 2))) & 0xf;
  const float db = f16_to_f32(b.d) * (0.5f + static_cast<float>(s)) * 0.25f;
  if (!(db > 0)) return;
  float wg[8];
  group_weights(x, w, wg);
  const GroupChoice c = search_group(512, ggml::kIq2xsGrid, x, wg, db, true, b.qs[group] & 511);
  b.qs[group] = static_cast<uint16_t>(c.index | (c.signs & 127) << 9);
  store(b, block);
}

void requantize_group_iq2_s(uint8_t* block, int group, const float* x, const float* w) {
  check_group(group, "IQ2_S");
  auto b = load<ggml::BlockIQ2_S>(block);
  const int s = (b.scales[group / 4] >> (4 * ((group / 2) % 2))) & 0xf;
  const float db = f16_to_f32(b.d) * (0.5f + static_cast<float>(s)) * 0.25f;
  if (!(db > 0)) return;
  float wg[8];
  group_weights(x, w, wg);
  const GroupChoice c =
      search_group(1024, ggml::kIq2sGrid, x, wg, db, false, iq2_s_index(b, group));
  b.qs[group] = static_cast<uint8_t>(c.index & 255);
  const int sh = 2 * (group % 4);
  b.qh[group / 4] = static_cast<uint8_t>((b.qh[group / 4] & ~(3 << sh)) | (c.index >> 8) << sh);
  b.qs[kN / 8 + group] = c.signs;
  store(b, block);
}

}  // namespace

const LatticeImpl kIQ2_XXS{encode_row_iq2_xxs, decode_iq2_xxs, requantize_group_iq2_xxs};
const LatticeImpl kIQ2_XS{encode_row_iq2_xs, decode_iq2_xs, requantize_group_iq2_xs};
const LatticeImpl kIQ2_S{encode_row_iq2_s, decode_iq2_s, requantize_group_iq2_s};

}  // namespace lieq::ggml_detail
