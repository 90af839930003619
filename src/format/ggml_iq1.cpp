// IQ1_S (50-byte blocks of 256, 1.5625 bits per weight) and IQ1_M (56 bytes,
// 1.75 bpw): groups of 8 values on the ternary code book kIq1sGrid (2048
// entries of -1/0/+1) plus a shift of +-1/8 (ggml's IQ1S_DELTA), times a
// 3-bit odd sub-block multiplier 2 s + 1 of one fp16 scale per block:
//   x = d * (2 s + 1) * (grid[q] + shift).
// IQ1_S: sub-blocks of 32 with one shift each; IQ1_M: sub-blocks of 16, one
// shift per group of 8.
//
// encode_row is ggml's quantize_iq1_s / quantize_iq1_m as in the September
// 2026 llama.cpp tree (quantize_row_iq1_{s,m}_impl): per sub-block the exact
// weighted least-squares split of the sorted values into the three levels,
// the split's ternary pattern looked up in the code book (off-book patterns:
// iq1_find_best_neighbour2 over the neighbour table of iq2_lattice(2048)),
// then the block scale. What the 2026 tree changed against the February 2025
// one (whose bytes differ):
//   - best_score starts at -FLT_MAX (2025: -FLT_MIN), so a split with
//     sumqx^2 / sumq2 below FLT_MIN is no longer lost;
//   - a sub-block where no split qualifies (e.g. all weights zero) becomes a
//     zero sub-block (2025: GGML_ASSERT), IQ1_S with shift +;
//   - IQ1_M's split search sums per half-block prefix sums
//     (T v2 - S(i1) - S(i2), see iq1m_split) instead of re-summing each split,
//     which rounds differently.
// ggml sorts each sub-block with qsort and a comparator that leaves equal
// values (and NaN) to qsort; glibc's qsort on these 8-byte (value, index)
// pairs is its top-down merge sort (msort.c), reproduced in glibc_msort, so
// ties (common in fp16-born weights) order exactly as in ggml.
#include <cfloat>
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
constexpr int kGridSize = 2048;             // ggml's NGRID_IQ1S
constexpr float kEpsS = 1e-12f;             // GROUP_MAX_EPS_IQ1_S
constexpr float kEpsM = 1e-7f;              // GROUP_MAX_EPS_IQ1_M
constexpr float kD = ggml::kIq1sDelta;
// The three levels for shift + (ggml's x_p) and shift - (x_m).
constexpr float kXp[3] = {-1 + kD, kD, 1 + kD};
constexpr float kXm[3] = {-1 - kD, -kD, 1 - kD};

inline float fmax_ggml(float a, float b) { return a > b ? a : b; }  // ggml's MAX

// Level l = 0..2 (value -1, 0, 1) of element j of code-book entry q.
inline int level(int q, int j) {
  return static_cast<int8_t>(ggml::grid_byte(ggml::kIq1sGrid[q], j)) + 1;
}

// ---------------------------------------------------------------- sorting

struct Pair {  // ggml's pairs[2j] (value) and idx[2j] (the int in pairs[2j+1])
  float x;
  int i;
};

// glibc's msort_with_tmp for iq1_sort_helper: split n/2 | n - n/2, sort both
// halves, merge taking the left element while cmp(left, right) <= 0, i.e.
// unless left > right.
void glibc_msort(Pair* b, int n, Pair* tmp) {
  if (n <= 1) return;
  int n1 = n / 2, n2 = n - n1;
  Pair* b1 = b;
  Pair* b2 = b + n1;
  glibc_msort(b1, n1, tmp);
  glibc_msort(b2, n2, tmp);
  Pair* t = tmp;
  while (n1 > 0 && n2 > 0) {
    if (!(b1->x > b2->x)) {
      *t++ = *b1++;
      --n1;
    } else {
      *t++ = *b2++;
      --n2;
    }
  }
  while (n1 > 0) {
    *t++ = *b1++;
    --n1;
  }
  std::memcpy(b, tmp, sizeof(Pair) * static_cast<size_t>(n - n2));
}

// Indices of xb[0..n) in ggml's sorted order.
void sort_indices(const float* xb, int n, int* order) {
  Pair pairs[32], tmp[32];
  for (int j = 0; j < n; ++j) pairs[j] = Pair{xb[j], j};
  glibc_msort(pairs, n, tmp);
  for (int j = 0; j < n; ++j) order[j] = pairs[j].i;
}

// ---------------------------------------------------------------- search

// Weighted squared error of code-book entry q for one group of 8 at scale
// `scale` on levels xx (iq1_find_best_neighbour2's d2).
float group_d2(int q, const float* x, const float* w, float scale, const float* xx) {
  float d2 = 0.0f;
  for (int i = 0; i < 8; ++i) {
    const float diff = scale * xx[level(q, i)] - x[i];
    d2 += w[i] * diff * diff;
  }
  return d2;
}

// ggml's step from the levels L[0..8) of one group to its grid index: the
// entry itself when the pattern is in the code book, else the neighbour of
// least d2 (iq1_find_best_neighbour2, first of equals). Writes the chosen
// levels into L. Sets *on_grid.
int group_index(int8_t* L, const float* x, const float* w, float scale, const float* xx,
                bool* on_grid, const char* type) {
  const Iq2Lattice& lat = iq2_lattice(kGridSize);
  uint32_t u = 0;
  for (int j = 0; j < 8; ++j) u |= static_cast<uint32_t>(L[j]) << (2 * j);
  int q = lat.map[u];
  *on_grid = q >= 0;
  if (q < 0) {
    const uint16_t* nb = lat.neighbours.data() + (-lat.map[u] - 1);
    float best = FLT_MAX;
    for (int j = 1; j <= nb[0]; ++j) {
      const float d2 = group_d2(nb[j], x, w, scale, xx);
      if (d2 < best) {
        best = d2;
        q = nb[j];
      }
    }
    // ggml then scans the whole grid with a stray xval[i] (i the grid index,
    // out of bounds) and asserts; that happens only for non-finite errors.
    check(q >= 0, type, ": no code-book point with a finite error (values too large or not finite)");
    for (int j = 0; j < 8; ++j) L[j] = static_cast<int8_t>(level(q, j));
  }
  return q;
}

// ggml's sub-block weights: importance * sqrt(sigma2 + x^2), or x^2.
void iq1_weights(const float* xb, const float* qw, float sigma2, int n, float* w) {
  if (qw) {
    for (int i = 0; i < n; ++i) w[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
  } else {
    for (int i = 0; i < n; ++i) w[i] = xb[i] * xb[i];
  }
}

float block_sigma2(const float* xbl) {
  float sumx2 = 0.0f;
  for (int i = 0; i < kN; ++i) sumx2 += xbl[i] * xbl[i];
  return 2 * sumx2 / kN;
}

float abs_max(const float* xb, int n) {
  float m = std::fabs(xb[0]);
  for (int i = 1; i < n; ++i) m = fmax_ggml(m, std::fabs(xb[i]));
  return m;
}

// Levels from the best split (i1, i2) of the sorted order, flipped (with the
// scale) when the scale came out negative. Returns whether it flipped.
bool split_levels(const int* order, int n, int i1, int i2, float* scale, int8_t* L) {
  for (int j = 0; j < i1; ++j) L[order[j]] = 0;
  for (int j = i1; j < i2; ++j) L[order[j]] = 1;
  for (int j = i2; j < n; ++j) L[order[j]] = 2;
  if (*scale >= 0) return false;
  for (int j = 0; j < n; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
  *scale = -*scale;
  return true;
}

// The least-squares scale of the chosen entries (ggml's re-fit after an
// off-grid group); unchanged unless both sums are positive.
float refit_scale(const float* xb, const float* w, const uint16_t* index, int groups,
                  const float* const* xx, float scale) {
  float sumqx = 0.0f, sumq2 = 0.0f;
  for (int k = 0; k < groups; ++k) {
    for (int j = 0; j < 8; ++j) {
      const float wj = w[8 * k + j];
      const float q = xx[k][level(index[k], j)];
      sumqx += wj * q * xb[8 * k + j];
      sumq2 += wj * q * q;
    }
  }
  return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
}

// ---------------------------------------------------------------- IQ1_S

constexpr int kSubS = 32;

// One sub-block of 32: its 4 grid indices, scale and shift (+1 / -1). False
// for a zero sub-block (scale 0, shift +1, indices 0; ggml's `continue`).
bool iq1s_sub(const float* xb, const float* w, uint16_t* index, float* scale_out,
              int* shift_out) {
  *scale_out = 0.0f;
  *shift_out = 1;
  for (int k = 0; k < kSubS / 8; ++k) index[k] = 0;
  const float max = abs_max(xb, kSubS);
  if (max < kEpsS) return false;
  int order[kSubS];
  sort_indices(xb, kSubS, order);
  float sumx[kSubS + 1], sumw[kSubS + 1];
  sumx[0] = sumw[0] = 0;
  for (int j = 0; j < kSubS; ++j) {
    const int i = order[j];
    sumx[j + 1] = sumx[j] + w[i] * xb[i];
    sumw[j + 1] = sumw[j] + w[i];
  }
  float best_score = -FLT_MAX, scale = max;
  int besti1 = -1, besti2 = -1, best_shift = 0;
  for (int i1 = 0; i1 <= kSubS; ++i1) {
    for (int i2 = i1; i2 <= kSubS; ++i2) {
      for (int s = 0; s < 2; ++s) {  // shift + then -
        const float* v = s == 0 ? kXp : kXm;
        const float sumqx = (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] +
                            (sumx[kSubS] - sumx[i2]) * v[2];
        const float sumq2 = (sumw[i1] - sumw[0]) * v[0] * v[0] +
                            (sumw[i2] - sumw[i1]) * v[1] * v[1] +
                            (sumw[kSubS] - sumw[i2]) * v[2] * v[2];
        if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
          scale = sumqx / sumq2;
          best_score = scale * sumqx;
          besti1 = i1;
          besti2 = i2;
          best_shift = s == 0 ? 1 : -1;
        }
      }
    }
  }
  if (besti1 < 0 || besti2 < 0 || best_shift == 0) return false;
  int8_t L[kSubS];
  if (split_levels(order, kSubS, besti1, besti2, &scale, L)) best_shift = -best_shift;
  const float* xx = best_shift == 1 ? kXp : kXm;
  bool all_on_grid = true;
  for (int k = 0; k < kSubS / 8; ++k) {
    bool on = true;
    index[k] = static_cast<uint16_t>(
        group_index(L + 8 * k, xb + 8 * k, w + 8 * k, scale, xx, &on, "IQ1_S"));
    all_on_grid = all_on_grid && on;
  }
  if (!all_on_grid) {
    const float* xxs[4] = {xx, xx, xx, xx};
    scale = refit_scale(xb, w, index, kSubS / 8, xxs, scale);
  }
  check(scale >= 0, "IQ1_S: negative sub-block scale");  // ggml: GGML_ASSERT
  *scale_out = scale;
  *shift_out = best_shift;
  return true;
}

// Block layout: d (fp16) | qs[32] low index bytes | qh[8] per sub-block: bits
// 3k..3k+2 the high index bits of group k, bits 12-14 s, bit 15 shift -.
constexpr size_t kQsS = 2, kQhS = 34, kBytesS = 50;

void encode_block_iq1_s(const float* xbl, const float* qwl, uint8_t* dst) {
  std::memset(dst, 0, kBytesS);
  uint16_t qh[kN / kSubS] = {};
  float scales[kN / kSubS];
  int shifts[kN / kSubS];
  float max_scale = 0;
  const float sigma2 = block_sigma2(xbl);
  for (int ib = 0; ib < kN / kSubS; ++ib) {
    const float* xb = xbl + kSubS * ib;
    float w[kSubS];
    iq1_weights(xb, qwl + kSubS * ib, sigma2, kSubS, w);
    uint16_t index[kSubS / 8];
    const bool nonzero = iq1s_sub(xb, w, index, &scales[ib], &shifts[ib]);
    for (int k = 0; k < kSubS / 8; ++k) {
      dst[kQsS + (kSubS / 8) * ib + k] = static_cast<uint8_t>(index[k] & 255);
      qh[ib] = static_cast<uint16_t>(qh[ib] | ((index[k] >> 8) << (3 * k)));
    }
    if (nonzero) max_scale = fmax_ggml(max_scale, scales[ib]);
  }
  std::memcpy(dst + kQhS, qh, sizeof qh);
  if (max_scale == 0.0f) return;  // ggml: if (!max_scale) continue; d stays 0
  const float d = max_scale / 15;
  const uint16_t dh = f32_to_f16(d * 1.125f);  // ggml's fudge factor
  std::memcpy(dst, &dh, 2);
  const float id = 1 / d;
  for (int ib = 0; ib < kN / kSubS; ++ib) {
    int l = nearest_int(0.5f * (id * scales[ib] - 1));
    l = l < 0 ? 0 : (l > 7 ? 7 : l);
    if (shifts[ib] == -1) l |= 8;
    qh[ib] = static_cast<uint16_t>(qh[ib] | (l << 12));
  }
  std::memcpy(dst + kQhS, qh, sizeof qh);
}

void encode_row_iq1_s(const float* x, uint8_t* dst, int64_t n, const float* importance) {
  check(importance != nullptr, "IQ1_S needs an importance matrix (imatrix); ggml refuses to "
        "quantize without one");
  check(n % kN == 0, "IQ1_S: row length ", n, " is not a multiple of ", kN);
  for (int64_t b = 0; b < n / kN; ++b)
    encode_block_iq1_s(x + kN * b, importance + kN * b, dst + kBytesS * static_cast<size_t>(b));
}

void decode_iq1_s(const uint8_t* block, float* y) {
  uint16_t dh, qh[kN / kSubS];
  std::memcpy(&dh, block, 2);
  std::memcpy(qh, block + kQhS, sizeof qh);
  const float d = f16_to_f32(dh);
  const uint8_t* qs = block + kQsS;
  for (int ib = 0; ib < kN / kSubS; ++ib) {
    const float dl = d * static_cast<float>(2 * ((qh[ib] >> 12) & 7) + 1);
    const float delta = qh[ib] & 0x8000 ? -kD : kD;
    for (int l = 0; l < 4; ++l) {
      const int q = qs[l] | (((qh[ib] >> (3 * l)) & 7) << 8);
      for (int j = 0; j < 8; ++j)
        y[j] = dl * (static_cast<int8_t>(ggml::grid_byte(ggml::kIq1sGrid[q], j)) + delta);
      y += 8;
    }
    qs += 4;
  }
}

// ---------------------------------------------------------------- requantize
// requantize_group at the block's stored scale dl = d (2 s + 1): each element
// gets its nearest level scale * xx[l]; that pattern's code-book entry, or
// when off the book ggml's neighbour search (group_index), is the candidate;
// it replaces the stored entry only when its error sum w (x - y)^2 (double)
// is strictly lower, so the block never gets worse and ties keep its bytes.
// w is used as given (w > 0); null weighs x^2, as encode_row without
// importance.

// The weighted error of entry q in double: the incumbent and the search's
// pick are compared exactly (the decoded values are scale * xx[l] exactly).
double group_err(int q, const float* x, const float* w, float scale, const float* xx) {
  double e = 0.0;
  for (int i = 0; i < 8; ++i) {
    const double diff = static_cast<double>(x[i]) - static_cast<double>(scale * xx[level(q, i)]);
    e += static_cast<double>(w[i]) * diff * diff;
  }
  return e;
}

// Nearest-level pattern of one group at a fixed scale, its code-book entry
// (or best neighbour, as group_index), compared with the incumbent.
struct GroupChoice {
  int q;
  double err;
};
void try_levels(const float* x, const float* w, float scale, const float* xx,
                GroupChoice* best, bool* improved, const char* type) {
  int8_t L[8];
  for (int i = 0; i < 8; ++i) {
    int bl = 0;
    float bd = std::fabs(scale * xx[0] - x[i]);
    for (int l = 1; l < 3; ++l) {
      const float dd = std::fabs(scale * xx[l] - x[i]);
      if (dd < bd) {
        bd = dd;
        bl = l;
      }
    }
    L[i] = static_cast<int8_t>(bl);
  }
  bool on = true;
  const int q = group_index(L, x, w, scale, xx, &on, type);
  const double err = group_err(q, x, w, scale, xx);
  *improved = err < best->err;
  if (*improved) *best = GroupChoice{q, err};
}

// w null: weights x^2 (what encode_row weighs by without importance).
void group_weights(const float* x, const float* w, float* out) {
  for (int i = 0; i < 8; ++i) out[i] = w ? w[i] : x[i] * x[i];
}

// IQ1_S: the shift belongs to the whole sub-block of 32 and stays as stored;
// only the group's 11 index bits change.
void requantize_group_iq1_s(uint8_t* block, int group, const float* x, const float* w) {
  check(group >= 0 && group < kN / 8, "IQ1_S: group ", group, " out of range");
  uint16_t dh, qh;
  const int ib = group / 4, k = group % 4;
  std::memcpy(&dh, block, 2);
  std::memcpy(&qh, block + kQhS + 2 * ib, 2);
  const float scale = f16_to_f32(dh) * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
  const float* xx = qh & 0x8000 ? kXm : kXp;
  float ww[8];
  group_weights(x, w, ww);
  const int cur = block[kQsS + group] | (((qh >> (3 * k)) & 7) << 8);
  GroupChoice best{cur, group_err(cur, x, ww, scale, xx)};
  bool improved = false;
  try_levels(x, ww, scale, xx, &best, &improved, "IQ1_S");
  if (!improved) return;
  block[kQsS + group] = static_cast<uint8_t>(best.q & 255);
  qh = static_cast<uint16_t>((qh & ~(7u << (3 * k))) | ((best.q >> 8) << (3 * k)));
  std::memcpy(block + kQhS + 2 * ib, &qh, 2);
}

// ---------------------------------------------------------------- IQ1_M

constexpr int kSubM = 16;
// Block layout: qs[32] low index bytes | qh[16]: per group g the nibble at
// qh[g / 2] >> 4 (g % 2): 3 high index bits, bit 3 shift - | scales[8] as 4
// uint16 words: sub-block b's 3-bit s at word b / 4 bits 3 (b % 4), the fp16
// block scale's 4 nibbles in bits 12-15 of words 0..3.
constexpr size_t kQhM = 32, kScM = 48, kBytesM = 56;
// Shift combination k of a sub-block's two groups: 0 ++, 1 +-, 2 -+, 3 --.
constexpr uint8_t kMasks[4] = {0x00, 0x80, 0x08, 0x88};
inline const float* m_levels(int k, int g) {
  return (g == 0 ? k < 2 : k % 2 == 0) ? kXp : kXm;
}

// The 2026 split search on per-half prefix sums; returns best_k (-1: none).
int iq1m_split(const float* xb, const float* w, const int* order, float* scale, int* bi1,
               int* bi2) {
  float px[2][kSubM + 1], pw[2][kSubM + 1];
  px[0][0] = px[1][0] = 0;
  pw[0][0] = pw[1][0] = 0;
  for (int j = 0; j < kSubM; ++j) {
    const int i = order[j];
    const int h = i < kSubM / 2 ? 0 : 1;
    px[h][j + 1] = px[h][j] + w[i] * xb[i];
    px[1 - h][j + 1] = px[1 - h][j];
    pw[h][j + 1] = pw[h][j] + w[i];
    pw[1 - h][j + 1] = pw[1 - h][j];
  }
  const float txs[2] = {px[0][kSubM], px[1][kSubM]};
  const float tws[2] = {pw[0][kSubM], pw[1][kSubM]};
  const float p2 = kXp[2], m2 = kXm[2];
  const float cp1 = kXp[0] * kXp[0] - kXp[1] * kXp[1];
  const float cp2 = kXp[1] * kXp[1] - kXp[2] * kXp[2];
  const float cm1 = kXm[0] * kXm[0] - kXm[1] * kXm[1];
  const float cm2 = kXm[1] * kXm[1] - kXm[2] * kXm[2];
  float best_score = -FLT_MAX;
  int best_k = -1;
  for (int i1 = 0; i1 <= kSubM; ++i1) {
    for (int i2 = i1; i2 <= kSubM; ++i2) {
      float qx_p[2], qx_m[2], q2_p[2], q2_m[2];
      for (int h = 0; h < 2; ++h) {
        const float sx = px[h][i1] + px[h][i2];
        qx_p[h] = txs[h] * p2 - sx;
        qx_m[h] = txs[h] * m2 - sx;
        q2_p[h] = tws[h] * p2 * p2 + pw[h][i1] * cp1 + pw[h][i2] * cp2;
        q2_m[h] = tws[h] * m2 * m2 + pw[h][i1] * cm1 + pw[h][i2] * cm2;
      }
      const float sumqx[4] = {qx_p[0] + qx_p[1], qx_p[0] + qx_m[1], qx_m[0] + qx_p[1],
                              qx_m[0] + qx_m[1]};
      const float sumq2[4] = {q2_p[0] + q2_p[1], q2_p[0] + q2_m[1], q2_m[0] + q2_p[1],
                              q2_m[0] + q2_m[1]};
      for (int k = 0; k < 4; ++k) {
        if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
          *scale = sumqx[k] / sumq2[k];
          best_score = *scale * sumqx[k];
          *bi1 = i1;
          *bi2 = i2;
          best_k = k;
        }
      }
    }
  }
  return best_k;
}

// One sub-block of 16: its 2 grid indices, scale and shift combination. False
// for a zero sub-block (scale 0, shifts ++ (0), indices 0; ggml's `continue`).
bool iq1m_sub(const float* xb, const float* w, uint16_t* index, float* scale_out,
              int* shift_out) {
  *scale_out = 0.0f;
  *shift_out = 0;
  index[0] = index[1] = 0;
  const float max = abs_max(xb, kSubM);
  if (max < kEpsM) return false;
  int order[kSubM];
  sort_indices(xb, kSubM, order);
  float scale = max;
  int besti1 = -1, besti2 = -1;
  int best_k = iq1m_split(xb, w, order, &scale, &besti1, &besti2);
  if (besti1 < 0 || besti2 < 0 || best_k < 0) return false;
  int8_t L[kSubM];
  if (split_levels(order, kSubM, besti1, besti2, &scale, L)) best_k = 3 - best_k;
  bool all_on_grid = true;
  const float* xxs[2] = {m_levels(best_k, 0), m_levels(best_k, 1)};
  for (int k = 0; k < 2; ++k) {
    bool on = true;
    index[k] = static_cast<uint16_t>(
        group_index(L + 8 * k, xb + 8 * k, w + 8 * k, scale, xxs[k], &on, "IQ1_M"));
    all_on_grid = all_on_grid && on;
  }
  if (!all_on_grid) scale = refit_scale(xb, w, index, 2, xxs, scale);
  check(scale >= 0, "IQ1_M: negative sub-block scale");  // ggml: GGML_ASSERT
  *scale_out = scale;
  *shift_out = best_k;
  return true;
}

// ggml's final block scale: the least-squares d over the chosen entries and
// rounded multipliers, times 1.1125, spread over the scale words' top nibbles.
void iq1m_block_scale(const float* xbl, const float* qwl, float sigma2, const float* scales,
                      float max_scale, uint8_t* dst, uint16_t* sc) {
  float d = max_scale / 15;
  const float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int ib = 0; ib < kN / kSubM; ++ib) {
    int l = nearest_int(0.5f * (id * scales[ib] - 1));
    l = l < 0 ? 0 : (l > 7 ? 7 : l);
    sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | (l << (3 * (ib % 4))));
    const float* xb = xbl + kSubM * ib;
    float w[kSubM];
    iq1_weights(xb, qwl ? qwl + kSubM * ib : nullptr, sigma2, kSubM, w);
    const int shifts = (dst[kQhM + ib] & 0x08 ? 2 : 0) + (dst[kQhM + ib] & 0x80 ? 1 : 0);
    for (int k = 0; k < 2; ++k) {
      const float* xx = m_levels(shifts, k);
      const int q = dst[2 * ib + k] + ((dst[kQhM + ib] << (8 - 4 * k)) & 0x700);
      for (int j = 0; j < 8; ++j) {
        const float wj = w[8 * k + j];
        const float v = xx[level(q, j)] * static_cast<float>(2 * l + 1);
        sumqx += wj * v * xb[8 * k + j];
        sumq2 += wj * v * v;
      }
    }
  }
  if (sumq2 > 0) d = sumqx / sumq2;
  const uint16_t s = f32_to_f16(d * 1.1125f);  // ggml's fudge factor
  sc[0] = static_cast<uint16_t>(sc[0] | ((s & 0x000f) << 12));
  sc[1] = static_cast<uint16_t>(sc[1] | ((s & 0x00f0) << 8));
  sc[2] = static_cast<uint16_t>(sc[2] | ((s & 0x0f00) << 4));
  sc[3] = static_cast<uint16_t>(sc[3] | (s & 0xf000));
}

void encode_block_iq1_m(const float* xbl, const float* qwl, uint8_t* dst) {
  std::memset(dst, 0, kBytesM);
  float scales[kN / kSubM];
  float max_scale = 0;
  const float sigma2 = block_sigma2(xbl);
  for (int ib = 0; ib < kN / kSubM; ++ib) {
    const float* xb = xbl + kSubM * ib;
    float w[kSubM];
    iq1_weights(xb, qwl ? qwl + kSubM * ib : nullptr, sigma2, kSubM, w);
    uint16_t index[2];
    int shift = 0;
    const bool nonzero = iq1m_sub(xb, w, index, &scales[ib], &shift);
    dst[2 * ib] = static_cast<uint8_t>(index[0] & 255);
    dst[2 * ib + 1] = static_cast<uint8_t>(index[1] & 255);
    // The shift bits go in with the scales (ggml ORs masks[shifts[ib]] there).
    dst[kQhM + ib] = static_cast<uint8_t>((index[0] >> 8) | ((index[1] >> 8) << 4) |
                                          kMasks[shift]);
    if (nonzero) max_scale = fmax_ggml(max_scale, scales[ib]);
  }
  if (max_scale == 0.0f) {  // ggml: if (!max_scale) continue; shifts not yet written
    for (int ib = 0; ib < kN / kSubM; ++ib) dst[kQhM + ib] &= 0x77;
    return;
  }
  uint16_t sc[4] = {};
  iq1m_block_scale(xbl, qwl, sigma2, scales, max_scale, dst, sc);
  std::memcpy(dst + kScM, sc, sizeof sc);
}

void encode_row_iq1_m(const float* x, uint8_t* dst, int64_t n, const float* importance) {
  check(n % kN == 0, "IQ1_M: row length ", n, " is not a multiple of ", kN);
  for (int64_t b = 0; b < n / kN; ++b)
    encode_block_iq1_m(x + kN * b, importance ? importance + kN * b : nullptr,
                       dst + kBytesM * static_cast<size_t>(b));
}

uint16_t iq1m_words(const uint8_t* block, uint16_t* sc) {
  std::memcpy(sc, block + kScM, 8);
  return static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) |
                               ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
}

void decode_iq1_m(const uint8_t* block, float* y) {
  uint16_t sc[4];
  const float d = f16_to_f32(iq1m_words(block, sc));
  const uint8_t* qs = block;
  const uint8_t* qh = block + kQhM;
  for (int ib = 0; ib < kN / 32; ++ib) {
    const float dl1 = d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 0x7) + 1);
    const float dl2 = d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 0x7) + 1);
    const int idx[4] = {qs[0] | ((qh[0] << 8) & 0x700), qs[1] | ((qh[0] << 4) & 0x700),
                        qs[2] | ((qh[1] << 8) & 0x700), qs[3] | ((qh[1] << 4) & 0x700)};
    const float delta[4] = {qh[0] & 0x08 ? -kD : kD, qh[0] & 0x80 ? -kD : kD,
                            qh[1] & 0x08 ? -kD : kD, qh[1] & 0x80 ? -kD : kD};
    for (int l = 0; l < 4; ++l) {
      const float dl = l < 2 ? dl1 : dl2;
      for (int j = 0; j < 8; ++j)
        y[j] = dl * (static_cast<int8_t>(ggml::grid_byte(ggml::kIq1sGrid[idx[l]], j)) +
                     delta[l]);
      y += 8;
    }
    qs += 4;
    qh += 2;
  }
}

// IQ1_M: the group's own shift may change too; the stored choice wins ties.
void requantize_group_iq1_m(uint8_t* block, int group, const float* x, const float* w) {
  check(group >= 0 && group < kN / 8, "IQ1_M: group ", group, " out of range");
  uint16_t sc[4];
  const float d = f16_to_f32(iq1m_words(block, sc));
  const int sub = group / 2, k = group % 2;  // sub-block of 16, group in it
  const float scale = d * static_cast<float>(2 * ((sc[sub / 4] >> (3 * (sub % 4))) & 7) + 1);
  uint8_t& qh = block[kQhM + sub];
  const int nib = (qh >> (4 * k)) & 0xF;
  const int cur = block[group] | ((nib & 7) << 8);
  const bool cur_minus = (nib & 8) != 0;
  float ww[8];
  group_weights(x, w, ww);
  const float* xx_cur = cur_minus ? kXm : kXp;
  GroupChoice best{cur, group_err(cur, x, ww, scale, xx_cur)};
  bool minus = cur_minus, improved = false, any = false;
  try_levels(x, ww, scale, xx_cur, &best, &improved, "IQ1_M");
  any = improved;
  try_levels(x, ww, scale, cur_minus ? kXp : kXm, &best, &improved, "IQ1_M");
  if (improved) minus = !cur_minus;
  if (!(any || improved)) return;
  block[group] = static_cast<uint8_t>(best.q & 255);
  const int new_nib = ((best.q >> 8) & 7) | (minus ? 8 : 0);
  qh = static_cast<uint8_t>((qh & ~(0xF << (4 * k))) | (new_nib << (4 * k)));
}

}  // namespace

const LatticeImpl kIQ1_S{encode_row_iq1_s, decode_iq1_s, requantize_group_iq1_s};
const LatticeImpl kIQ1_M{encode_row_iq1_m, decode_iq1_m, requantize_group_iq1_m};

}  // namespace lieq::ggml_detail
