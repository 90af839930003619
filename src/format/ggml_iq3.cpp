// IQ3_XXS and IQ3_S: super-blocks of 256 in sub-blocks of 32, each sub-block
// 8 lattice entries of 4 magnitudes (kIq3xxsGrid: 256 entries, kIq3sGrid:
// 512) with one sign bit per element and a 4-bit sub-block scale. As ggml's
// quantize_iq3_xxs / quantize_iq3_s (with or without imatrix) and
// dequantize_row_iq3_xxs / _iq3_s.
//
// Bytes of a block (little-endian, read and written through memcpy):
//   IQ3_XXS (98):  d fp16 | qs[64] grid index of entry k of sub-block ib at
//                  8 ib + k | per sub-block a uint32: 4 x 7 sign bits (group
//                  of 8 number j at bits 7 j; the 8th sign makes the count of
//                  minus signs even, iq2_signs) and the scale s in bits 28..31;
//                  x = d * (0.5 + s) * 0.5 * grid * sign.
//   IQ3_S (110):   d fp16 | qs[64] low 8 index bits | qh[8] bit 8 of entry k
//                  of sub-block ib at qh[ib] bit k | signs[32] one byte per 8
//                  | scales[4] sub-block 2 i in the low nibble of scales[i],
//                  2 i + 1 in the high one; x = d * (1 + 2 s) * grid * sign.
//
// ggml searches on the lattice of the entries' magnitude ranks l = 0..7 (the
// rank among the code book's distinct magnitudes), at coordinates 2 l + 1:
// iq3xs_init_impl's kgrid_q3xs / kmap_q3xs / kneighbors_q3xs, rebuilt here
// from the code books.
#include <cmath>
#include <cstring>
#include <vector>

#include "format/ggml_impl.h"
#include "format/ggml_iq_grids.h"
#include "format/ggml_iq_impl.h"
#include "util/error.h"
#include "util/half.h"

namespace lieq::ggml_detail {

namespace {

constexpr int kQK = ggml::kQK_K;  // 256
constexpr int kSub = 32;          // elements per sub-block
constexpr int kNSub = kQK / kSub;
constexpr int kMaxQ = 8;           // ranks per coordinate
constexpr int kMapSize = 1 << 12;  // 4 ranks of 3 bits

// Byte offsets of the fields.
constexpr int kXxsBytes = 98, kXxsQs = 2, kXxsSigns = 66;
constexpr int kSBytes = 110, kSQs = 2, kSQh = 66, kSSigns = 74, kSScales = 106;

// ---------------------------------------------------------------- lattice

struct Iq3Lattice {
  const uint32_t* grid = nullptr;    // the code book (decoded magnitudes)
  std::vector<int8_t> pos;           // [4 grid_size] coordinates 2 l + 1 (kgrid_q3xs)
  std::vector<int32_t> map;          // [4096] by ranks (3 bits each): index, or -1 - offset
  std::vector<uint16_t> neighbours;  // at offset: count n, then n grid indices
};

// ggml's iq3xs_init_impl. For each rank point off the grid, the grid points
// at the nwant smallest distinct squared distances, ordered by (distance,
// index) as its qsort of (d2, j) pairs orders them.
Iq3Lattice build_lattice(const uint32_t* grid, int grid_size, int nwant) {
  Iq3Lattice lat;
  lat.grid = grid;
  bool present[256] = {};
  for (int k = 0; k < grid_size; ++k)
    for (int i = 0; i < 4; ++i) present[ggml::grid_byte(grid[k], i)] = true;
  int rank[256] = {}, nrank = 0;
  for (int v = 0; v < 256; ++v)
    if (present[v]) rank[v] = nrank++;
  check(nrank == kMaxQ, "IQ3 lattice: code book has ", nrank, " magnitudes, expected 8");
  lat.pos.resize(size_t(4 * grid_size));
  lat.map.assign(kMapSize, -1);
  for (int k = 0; k < grid_size; ++k) {
    int u = 0;
    for (int i = 0; i < 4; ++i) {
      const int l = rank[ggml::grid_byte(grid[k], i)];
      lat.pos[size_t(4 * k + i)] = static_cast<int8_t>(2 * l + 1);
      u |= l << (3 * i);
    }
    lat.map[size_t(u)] = k;
  }
  constexpr int kMaxD2 = 4 * 14 * 14;
  std::vector<int> d2(size_t(grid_size), 0);
  for (int u = 0; u < kMapSize; ++u) {
    if (lat.map[size_t(u)] >= 0) continue;
    bool seen[kMaxD2 + 1] = {};
    for (int j = 0; j < grid_size; ++j) {
      int s = 0;
      for (int k = 0; k < 4; ++k) {
        const int diff = lat.pos[size_t(4 * j + k)] - (2 * ((u >> (3 * k)) & 7) + 1);
        s += diff * diff;
      }
      d2[size_t(j)] = s;
      seen[s] = true;
    }
    const size_t start = lat.neighbours.size();
    lat.map[size_t(u)] = -1 - static_cast<int32_t>(start);
    lat.neighbours.push_back(0);
    int have = 0;
    for (int v = 0; v <= kMaxD2 && have < nwant; ++v) {
      if (!seen[v]) continue;
      ++have;
      for (int j = 0; j < grid_size; ++j)
        if (d2[size_t(j)] == v) lat.neighbours.push_back(static_cast<uint16_t>(j));
    }
    lat.neighbours[start] = static_cast<uint16_t>(lat.neighbours.size() - start - 1);
  }
  return lat;
}

// Built once per code book on first use (thread-safe static initialisation).
const Iq3Lattice& iq3_lattice(int grid_size) {
  if (grid_size == 256) {
    static const Iq3Lattice lat = build_lattice(ggml::kIq3xxsGrid, 256, 2);
    return lat;
  }
  static const Iq3Lattice lat = build_lattice(ggml::kIq3sGrid, 512, 3);
  return lat;
}

// ggml's iq3_find_best_neighbour: the neighbour minimising sum weight (scale
// q - xval)^2 (first on ties); writes its ranks into L.
int best_neighbour(const Iq3Lattice& lat, const uint16_t* nb, const float* xval,
                   const float* weight, float scale, int8_t* L) {
  float best_d2 = 3.402823466e+38f;  // FLT_MAX
  int grid_index = nb[1];
  for (int j = 1; j <= nb[0]; ++j) {
    const int8_t* pg = &lat.pos[size_t(4 * nb[j])];
    float d2 = 0.0f;
    for (int i = 0; i < 4; ++i) {
      const float q = pg[i];
      const float diff = scale * q - xval[i];
      d2 += weight[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      grid_index = nb[j];
    }
  }
  const int8_t* pg = &lat.pos[size_t(4 * grid_index)];
  for (int i = 0; i < 4; ++i) L[i] = static_cast<int8_t>((pg[i] - 1) / 2);
  return grid_index;
}

// The entry for 4 magnitudes at inverse scale id: the rounded rank point when
// it is on the grid, else its best neighbour at `scale` (weights nw). Writes
// the ranks into L; returns the grid index.
int choose_entry(const Iq3Lattice& lat, const float* xval, const float* nw, float id, float scale,
                 int8_t* L, bool* on_grid) {
  int u = 0;
  for (int i = 0; i < 4; ++i) {
    int l = nearest_int(0.5f * (id * xval[i] - 1));
    l = l < 0 ? 0 : (l > kMaxQ - 1 ? kMaxQ - 1 : l);
    L[i] = static_cast<int8_t>(l);
    u |= l << (3 * i);
  }
  const int32_t m = lat.map[size_t(u)];
  *on_grid = m >= 0;
  if (m >= 0) return m;
  return best_neighbour(lat, &lat.neighbours[size_t(-m - 1)], xval, nw, scale, L);
}

// ---------------------------------------------------------------- encoding

struct Variant {
  int grid_size;    // 256 (IQ3_XXS) or 512 (IQ3_S)
  bool even_signs;  // IQ3_XXS: 7 stored signs per 8, even count of minus signs
  int ntry;         // trial inverse scales (2 kMaxQ - 1 + 0.2 t) / max, |t| <= ntry
  bool refine_all;  // IQ3_S re-chooses all entries at the best scale, IQ3_XXS the off-grid ones
};
constexpr Variant kXxs{256, true, 15, false};
constexpr Variant kS{512, false, 9, true};

// One sub-block's search state (ggml's weight, waux, xval, L, block_signs).
struct SubFit {
  float weight[kSub], waux[kSub], xval[kSub];
  int8_t L[kSub];
  uint8_t signs[kSub / 8];
  int index[kSub / 4];  // grid index per entry
  float scale;
};

// Weights, magnitudes and signs of a sub-block. IQ3_XXS with an odd count of
// negative values in a group of 8 flips the element of least weight x^2 (its
// magnitude becomes negative) so that the count is even.
void prepare_sub(const Variant& v, const float* xb, const float* qw, float sigma2, SubFit* f) {
  if (qw) {
    for (int i = 0; i < kSub; ++i) f->weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
  } else {
    for (int i = 0; i < kSub; ++i) f->weight[i] = xb[i] * xb[i];
  }
  for (int i = 0; i < kSub; ++i) f->waux[i] = std::sqrt(f->weight[i]);
  for (int k = 0; k < kSub / 8; ++k) {
    int nflip = 0;
    uint8_t s = 0;
    for (int i = 8 * k; i < 8 * k + 8; ++i) {
      if (xb[i] >= 0) {
        f->xval[i] = xb[i];
      } else {
        f->xval[i] = -xb[i];
        ++nflip;
        s = static_cast<uint8_t>(s | (1 << (i - 8 * k)));
      }
    }
    if (v.even_signs && nflip % 2) {
      int imin = 8 * k;
      float min = f->weight[imin] * xb[imin] * xb[imin];
      for (int i = 8 * k + 1; i < 8 * k + 8; ++i) {
        const float ax = f->weight[i] * xb[i] * xb[i];
        if (ax < min) {
          min = ax;
          imin = i;
        }
      }
      f->xval[imin] = -f->xval[imin];
      s = static_cast<uint8_t>(s ^ (1 << (imin - 8 * k)));
    }
    f->signs[k] = v.even_signs ? static_cast<uint8_t>(s & 127) : s;
  }
}

// Weighted least-squares numerator and denominator of the ranks L.
void rank_sums(const SubFit& f, const int8_t* L, float* sumqx, float* sumq2) {
  *sumqx = 0.0f;
  *sumq2 = 0.0f;
  for (int i = 0; i < kSub; ++i) {
    const float w = f.weight[i];
    const float q = static_cast<float>(2 * L[i] + 1);
    *sumqx += w * f.xval[i] * q;
    *sumq2 += w * q * q;
  }
}

// The trial scales, then the re-choice of entries at the best scale and its
// least-squares update; f->scale, f->L, f->index. False for a sub-block
// ggml skips (max below its threshold: IQ3_XXS 1e-8, IQ3_S 0).
bool fit_sub(const Variant& v, const Iq3Lattice& lat, SubFit* f) {
  float max = f->xval[0];
  for (int i = 1; i < kSub; ++i) max = max > f->xval[i] ? max : f->xval[i];
  std::memset(f->L, 0, sizeof f->L);
  if (v.even_signs ? max < 1e-8f : !max) return false;
  float best = 0.0f;
  float scale = max / (2 * kMaxQ - 1);
  bool on_grid[kSub / 4], on_grid_aux[kSub / 4];
  // IQ3_XXS starts "on the grid" (L = 0 is), IQ3_S not.
  for (bool& b : on_grid) b = !v.refine_all;
  int8_t Laux[kSub];
  for (int is = -v.ntry; is <= v.ntry; ++is) {
    const float id = (2 * kMaxQ - 1 + static_cast<float>(is) * 0.2f) / max;
    const float this_scale = 1 / id;
    for (int k = 0; k < kSub / 4; ++k)
      choose_entry(lat, f->xval + 4 * k, f->waux + 4 * k, id, this_scale, Laux + 4 * k,
                   &on_grid_aux[k]);
    float sumqx, sumq2;
    rank_sums(*f, Laux, &sumqx, &sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::memcpy(f->L, Laux, sizeof Laux);
      std::memcpy(on_grid, on_grid_aux, sizeof on_grid);
    }
  }
  int n_not_on_grid = 0;
  for (bool b : on_grid) n_not_on_grid += b ? 0 : 1;
  if (n_not_on_grid > 0 && scale > 0) {
    const float id = 1 / scale;
    for (int k = 0; k < kSub / 4; ++k) {
      if (!v.refine_all && on_grid[k]) continue;
      bool on;  // L: the chosen entry's ranks, as ggml's (pg - 1) / 2
      choose_entry(lat, f->xval + 4 * k, f->waux + 4 * k, id, scale, f->L + 4 * k, &on);
    }
    float sumqx, sumq2;
    rank_sums(*f, f->L, &sumqx, &sumq2);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  if (scale < 0) {  // ggml: "should never happen"; flip the scale and the signs
    scale = -scale;
    for (uint8_t& s : f->signs)
      s = v.even_signs ? static_cast<uint8_t>(~s & 127) : static_cast<uint8_t>(~s);
  }
  for (int k = 0; k < kSub / 4; ++k) {
    int u = 0;
    for (int i = 0; i < 4; ++i) u |= f->L[4 * k + i] << (3 * i);
    f->index[k] = lat.map[size_t(u)];  // on the grid by construction
  }
  f->scale = scale;
  return true;
}

// Mean of 2 x^2 over the super-block, ggml's sigma2.
float iq3_sigma2(const float* x) {
  float sumx2 = 0.0f;
  for (int i = 0; i < kQK; ++i) sumx2 += x[i] * x[i];
  return 2 * sumx2 / kQK;
}

// The 4-bit scale code of a sub-block scale at super-block step id.
int scale_code(float id, float scale) {
  const int l = nearest_int(0.5f * (id * scale - 1));
  return l < 0 ? 0 : (l > 15 ? 15 : l);
}

void encode_block_xxs(const float* x, const float* qw, uint8_t* block) {
  const Iq3Lattice& lat = iq3_lattice(256);
  uint8_t qs[kQK / 4] = {};
  uint32_t words[kNSub] = {};
  float scales[kNSub];
  float max_scale = 0.0f;
  const float sigma2 = iq3_sigma2(x);
  SubFit f;
  for (int ib = 0; ib < kNSub; ++ib) {
    prepare_sub(kXxs, x + kSub * ib, qw ? qw + kSub * ib : nullptr, sigma2, &f);
    if (!fit_sub(kXxs, lat, &f)) {  // grid indices 0, signs and scale code 0
      scales[ib] = 0;
      continue;
    }
    for (int k = 0; k < kSub / 4; ++k) qs[8 * ib + k] = static_cast<uint8_t>(f.index[k]);
    words[ib] = f.signs[0] | (uint32_t(f.signs[1]) << 7) | (uint32_t(f.signs[2]) << 14) |
                (uint32_t(f.signs[3]) << 21);
    scales[ib] = f.scale;
    max_scale = max_scale > f.scale ? max_scale : f.scale;
  }
  std::memset(block, 0, kXxsBytes);
  if (!max_scale) return;  // d = 0 and all codes 0
  const float d = max_scale / 31;
  const uint16_t dh = f32_to_f16(d * 1.0125f);  // ggml's fudge factor
  const float id = 1 / d;
  for (int ib = 0; ib < kNSub; ++ib) words[ib] |= uint32_t(scale_code(id, scales[ib])) << 28;
  std::memcpy(block, &dh, 2);
  std::memcpy(block + kXxsQs, qs, sizeof qs);
  std::memcpy(block + kXxsSigns, words, sizeof words);
}

// As ggml, a skipped (all-zero) sub-block does not advance the qs and signs
// write positions: the following sub-blocks' indices and signs land one
// sub-block earlier (qh and scales stay in place). Kept for equal bytes.
void encode_block_s(const float* x, const float* qw, uint8_t* block) {
  const Iq3Lattice& lat = iq3_lattice(512);
  std::memset(block, 0, kSBytes);
  float scales[kNSub];
  float max_scale = 0.0f;
  const float sigma2 = iq3_sigma2(x);
  int qpos = 0, spos = 0;  // ggml's qs and signs pointers
  SubFit f;
  for (int ib = 0; ib < kNSub; ++ib) {
    prepare_sub(kS, x + kSub * ib, qw ? qw + kSub * ib : nullptr, sigma2, &f);
    if (!fit_sub(kS, lat, &f)) {
      scales[ib] = 0;
      continue;
    }
    for (int k = 0; k < kSub / 4; ++k) {
      block[kSQs + qpos + k] = static_cast<uint8_t>(f.index[k] & 255);
      block[kSQh + ib] = static_cast<uint8_t>(block[kSQh + ib] | ((f.index[k] >> 8) << k));
    }
    qpos += kSub / 4;
    for (int k = 0; k < kSub / 8; ++k) block[kSSigns + spos + k] = f.signs[k];
    spos += kSub / 8;
    scales[ib] = f.scale;
    max_scale = max_scale > f.scale ? max_scale : f.scale;
  }
  if (!max_scale) return;  // d = 0
  const float d = max_scale / 31;
  const uint16_t dh = f32_to_f16(d * 1.033f);  // ggml's fudge factor
  std::memcpy(block, &dh, 2);
  const float id = 1 / d;
  for (int ib = 0; ib < kNSub; ib += 2)
    block[kSScales + ib / 2] =
        static_cast<uint8_t>(scale_code(id, scales[ib]) | (scale_code(id, scales[ib + 1]) << 4));
}

template <void (*EncodeBlock)(const float*, const float*, uint8_t*), int Bytes>
void encode_row(const char* name, const float* x, uint8_t* dst, int64_t n,
                const float* importance) {
  check(n >= 0 && n % kQK == 0, name, ": row length ", n, " is not a multiple of ", kQK);
  for (int64_t b = 0; b < n / kQK; ++b)
    EncodeBlock(x + kQK * b, importance ? importance + kQK * b : nullptr, dst + Bytes * b);
}
void encode_row_xxs(const float* x, uint8_t* dst, int64_t n, const float* importance) {
  encode_row<encode_block_xxs, kXxsBytes>("IQ3_XXS", x, dst, n, importance);
}
void encode_row_s(const float* x, uint8_t* dst, int64_t n, const float* importance) {
  encode_row<encode_block_s, kSBytes>("IQ3_S", x, dst, n, importance);
}

// ---------------------------------------------------------------- decoding

inline float sign_of(uint8_t signs, int j) {
  return signs & (1 << j) ? -1.f : 1.f;
}

void decode_xxs(const uint8_t* block, float* y) {
  uint16_t dh;
  std::memcpy(&dh, block, 2);
  const float d = f16_to_f32(dh);
  for (int ib = 0; ib < kNSub; ++ib) {
    uint32_t aux;
    std::memcpy(&aux, block + kXxsSigns + 4 * ib, 4);
    const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
    for (int l = 0; l < 4; ++l) {
      const uint8_t signs = ggml::iq2_signs(int((aux >> (7 * l)) & 127));
      const uint32_t g1 = ggml::kIq3xxsGrid[block[kXxsQs + 8 * ib + 2 * l]];
      const uint32_t g2 = ggml::kIq3xxsGrid[block[kXxsQs + 8 * ib + 2 * l + 1]];
      float* yl = y + kSub * ib + 8 * l;
      for (int j = 0; j < 4; ++j) {
        yl[j] = db * ggml::grid_byte(g1, j) * sign_of(signs, j);
        yl[j + 4] = db * ggml::grid_byte(g2, j) * sign_of(signs, j + 4);
      }
    }
  }
}

// Grid index of entry e (0..63) of an IQ3_S block.
int s_index(const uint8_t* block, int e) {
  return block[kSQs + e] | (((block[kSQh + e / 8] >> (e % 8)) & 1) << 8);
}
float s_sub_scale(const uint8_t* block, float d, int ib) {
  return d * static_cast<float>(1 + 2 * ((block[kSScales + ib / 2] >> (4 * (ib % 2))) & 0xf));
}

void decode_s(const uint8_t* block, float* y) {
  uint16_t dh;
  std::memcpy(&dh, block, 2);
  const float d = f16_to_f32(dh);
  for (int ib = 0; ib < kNSub; ++ib) {
    const float db = s_sub_scale(block, d, ib);
    for (int l = 0; l < 4; ++l) {
      const uint8_t signs = block[kSSigns + 4 * ib + l];
      const uint32_t g1 = ggml::kIq3sGrid[s_index(block, 8 * ib + 2 * l)];
      const uint32_t g2 = ggml::kIq3sGrid[s_index(block, 8 * ib + 2 * l + 1)];
      float* yl = y + kSub * ib + 8 * l;
      for (int j = 0; j < 4; ++j) {
        yl[j] = db * ggml::grid_byte(g1, j) * sign_of(signs, j);
        yl[j + 4] = db * ggml::grid_byte(g2, j) * sign_of(signs, j + 4);
      }
    }
  }
}

// ---------------------------------------------------------------- requantize_group

// A group's code: two grid indices and 8 sign bits.
struct GroupCode {
  int index[2];
  uint8_t signs;
};

// sum w (x - db grid sign)^2 of a code, decoded as the decoders do.
double group_error(const uint32_t* grid, float db, const GroupCode& c, const float* x,
                   const float* w) {
  double e = 0.0;
  for (int i = 0; i < 8; ++i) {
    const float dec = db * ggml::grid_byte(grid[c.index[i / 4]], i % 4) * sign_of(c.signs, i);
    const double diff = double(x[i]) - double(dec);
    e += double(w[i]) * diff * diff;
  }
  return e;
}

// ggml's choice at a fixed scale (the re-choice step of fit_sub): signs from
// x (IQ3_XXS: flipping the element of least w x^2 to keep the count even),
// then per 4 the rounded rank point or its best neighbour. `scale` is the
// sub-block scale on the rank lattice (2 l + 1 coordinates). The weights w
// take the place of both ggml's weight and its neighbour weight sqrt(weight),
// so the neighbour choice minimises the group's own objective. Returns the
// lower-error code of that choice and `current` (current on ties), so the
// group's error never grows.
GroupCode requantize(const Variant& v, float db, float scale, const GroupCode& current,
                     const float* x, const float* w) {
  const Iq3Lattice& lat = iq3_lattice(v.grid_size);
  float xval[8];
  int nflip = 0;
  uint8_t s = 0;
  for (int i = 0; i < 8; ++i) {
    xval[i] = x[i] >= 0 ? x[i] : -x[i];
    if (x[i] < 0) {
      ++nflip;
      s = static_cast<uint8_t>(s | (1 << i));
    }
  }
  if (v.even_signs && nflip % 2) {
    int imin = 0;
    float min = w[0] * x[0] * x[0];
    for (int i = 1; i < 8; ++i) {
      const float ax = w[i] * x[i] * x[i];
      if (ax < min) {
        min = ax;
        imin = i;
      }
    }
    xval[imin] = -xval[imin];
    s = static_cast<uint8_t>(s ^ (1 << imin));
  }
  GroupCode c{{0, 0}, s};
  const float id = 1 / scale;
  for (int h = 0; h < 2; ++h) {
    int8_t L[4];
    bool on;
    c.index[h] = choose_entry(lat, xval + 4 * h, w + 4 * h, id, scale, L, &on);
  }
  return group_error(lat.grid, db, c, x, w) < group_error(lat.grid, db, current, x, w) ? c
                                                                                       : current;
}

// Weights for requantize_group: w, or x^2 when null (as encode_row without
// importance).
void group_weights(const float* x, const float* w, float* out) {
  for (int i = 0; i < 8; ++i) out[i] = w ? w[i] : x[i] * x[i];
}

void requantize_group_xxs(uint8_t* block, int group, const float* x, const float* w) {
  check(group >= 0 && group < kQK / 8, "IQ3_XXS: group ", group, " out of range 0..31");
  const int ib = group / 4, j = group % 4;
  uint16_t dh;
  std::memcpy(&dh, block, 2);
  uint32_t aux;
  std::memcpy(&aux, block + kXxsSigns + 4 * ib, 4);
  const float db = f16_to_f32(dh) * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
  if (!(db > 0.0f) || !std::isfinite(db)) return;  // every code decodes to 0 (or NaN)
  float wt[8];
  group_weights(x, w, wt);
  uint8_t* qs = block + kXxsQs + 2 * group;
  const GroupCode current{{qs[0], qs[1]}, ggml::iq2_signs(int((aux >> (7 * j)) & 127))};
  // kIq3xxsGrid magnitudes are ~4 (2 l + 1): the rank-lattice scale is 4 db.
  const GroupCode c = requantize(kXxs, db, 4.0f * db, current, x, wt);
  qs[0] = static_cast<uint8_t>(c.index[0]);
  qs[1] = static_cast<uint8_t>(c.index[1]);
  aux = (aux & ~(uint32_t(127) << (7 * j))) | (uint32_t(c.signs & 127) << (7 * j));
  std::memcpy(block + kXxsSigns + 4 * ib, &aux, 4);
}

void requantize_group_s(uint8_t* block, int group, const float* x, const float* w) {
  check(group >= 0 && group < kQK / 8, "IQ3_S: group ", group, " out of range 0..31");
  const int ib = group / 4;
  uint16_t dh;
  std::memcpy(&dh, block, 2);
  const float db = s_sub_scale(block, f16_to_f32(dh), ib);
  if (!(db > 0.0f) || !std::isfinite(db)) return;
  float wt[8];
  group_weights(x, w, wt);
  const GroupCode current{{s_index(block, 2 * group), s_index(block, 2 * group + 1)},
                          block[kSSigns + group]};
  // kIq3sGrid magnitudes are 2 l + 1: the rank-lattice scale is db.
  const GroupCode c = requantize(kS, db, db, current, x, wt);
  for (int h = 0; h < 2; ++h) {
    const int e = 2 * group + h;
    block[kSQs + e] = static_cast<uint8_t>(c.index[h] & 255);
    const uint8_t bit = static_cast<uint8_t>(1 << (e % 8));
    block[kSQh + e / 8] =
        static_cast<uint8_t>((block[kSQh + e / 8] & ~bit) | ((c.index[h] >> 8) ? bit : 0));
  }
  block[kSSigns + group] = c.signs;
}

}  // namespace

const LatticeImpl kIQ3_XXS{encode_row_xxs, decode_xxs, requantize_group_xxs};
const LatticeImpl kIQ3_S{encode_row_s, decode_s, requantize_group_s};

}  // namespace lieq::ggml_detail
