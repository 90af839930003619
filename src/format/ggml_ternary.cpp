// The ternary formats TQ1_0 and TQ2_0 (ggml-quants.c: quantize_row_tq1_0_ref,
// quantize_row_tq2_0_ref; importance is ignored, as in ggml): one scale per
// 256, d = max |x|, t = lroundf(x / d) in {-1, 0, 1} stored as t + 1.
// Layouts: ggml_formats.h (BlockTQ1_0, BlockTQ2_0).
#include <cmath>
#include <cstring>

#include "format/ggml_impl.h"
#include "util/half.h"

namespace lieq::ggml_detail {

namespace {

using Rule = GgmlSubGrid::Rule;
constexpr int kQK_K = ggml::kQK_K;

// The block's scale into *d, its one grid into g (codes 0..2 = t + 1,
// chosen by ggml's lroundf(x * id) + 1, id from the unrounded scale).
void fit_ternary(const FitInput& in, uint16_t* d, GgmlSubGrid* g) {
  float amax = 0.0f;
  for (int j = 0; j < kQK_K; ++j) {
    const float a = std::fabs(in.x[j]);
    amax = amax > a ? amax : a;
  }
  *d = f32_to_f16(amax);
  g->rule = Rule::kRoundAway;
  g->a = amax != 0.0f ? 1.0f / amax : 0.0f;
  g->off = 1;
  g->lo = 0;
  g->hi = 2;
  g->level_offset = 1;
  g->D = f16_to_f32(*d);
}

// ------------------------------------------------------------------ TQ1_0

constexpr int kTq1Bytes32 = 32;  // qs[0..32): 5 trits each, elements m + 32n
constexpr int kTq1Bytes16 = 16;  // qs[32..48): elements 160 + m + 16n
constexpr int kTq1High = 4;      // qh[0..4): elements 240 + j + 4n, n < 4

// Trits (codes 0..2, most significant first) into ggml's byte:
// ceil(256 * value / 243), so that (uint8_t)(b * 3^n) * 3 >> 8 reads trit n.
uint8_t pack_trits(const int32_t* codes, int n_trits, int stride) {
  uint16_t q = 0;
  for (int n = 0; n < n_trits; ++n) q = static_cast<uint16_t>(q * 3 + codes[n * stride]);
  for (int n = n_trits; n < 5; ++n) q = static_cast<uint16_t>(q * 3);
  return static_cast<uint8_t>((q * 256 + 242) / 243);
}
int trit(uint8_t b, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto q = static_cast<uint8_t>(b * kPow3[n]);
  return (static_cast<uint16_t>(q) * 3) >> 8;
}

void fit_tq1_0(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t*) {
  ggml::BlockTQ1_0 b{};
  fit_ternary(in, &b.d, &subs[0]);
  store(b, block);
}
void pack_tq1_0(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockTQ1_0>(block);
  for (int m = 0; m < kTq1Bytes32; ++m) b.qs[m] = pack_trits(codes + m, 5, kTq1Bytes32);
  for (int m = 0; m < kTq1Bytes16; ++m)
    b.qs[kTq1Bytes32 + m] = pack_trits(codes + 160 + m, 5, kTq1Bytes16);
  for (int j = 0; j < kTq1High; ++j) b.qh[j] = pack_trits(codes + 240 + j, 4, kTq1High);
  store(b, block);
}
void decode_tq1_0(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockTQ1_0>(block);
  const float d = f16_to_f32(b.d);
  auto put = [&](int e, uint8_t byte, int n) { y[e] = static_cast<float>(trit(byte, n) - 1) * d; };
  for (int n = 0; n < 5; ++n)
    for (int m = 0; m < kTq1Bytes32; ++m) put(m + kTq1Bytes32 * n, b.qs[m], n);
  for (int n = 0; n < 5; ++n)
    for (int m = 0; m < kTq1Bytes16; ++m) put(160 + m + kTq1Bytes16 * n, b.qs[kTq1Bytes32 + m], n);
  for (int n = 0; n < 4; ++n)
    for (int j = 0; j < kTq1High; ++j) put(240 + j + kTq1High * n, b.qh[j], n);
}

// ------------------------------------------------------------------ TQ2_0

void fit_tq2_0(const FitInput& in, uint8_t* block, GgmlSubGrid* subs, int32_t*) {
  ggml::BlockTQ2_0 b{};
  fit_ternary(in, &b.d, &subs[0]);
  store(b, block);
}
void pack_tq2_0(const int32_t* codes, uint8_t* block) {
  auto b = load<ggml::BlockTQ2_0>(block);
  std::memset(b.qs, 0, sizeof(b.qs));
  for (int e = 0; e < kQK_K; ++e) {
    const int h = e / 128, n = (e % 128) / 32, m = e % 32;
    b.qs[32 * h + m] = static_cast<uint8_t>(b.qs[32 * h + m] | (codes[e] & 3) << (2 * n));
  }
  store(b, block);
}
void decode_tq2_0(const uint8_t* block, float* y) {
  const auto b = load<ggml::BlockTQ2_0>(block);
  const float d = f16_to_f32(b.d);
  for (int e = 0; e < kQK_K; ++e) {
    const int h = e / 128, n = (e % 128) / 32, m = e % 32;
    y[e] = static_cast<float>(((b.qs[32 * h + m] >> (2 * n)) & 3) - 1) * d;
  }
}

}  // namespace

const FormatImpl kTQ1_0{kQK_K, fit_tq1_0, pack_tq1_0, decode_tq1_0};
const FormatImpl kTQ2_0{kQK_K, fit_tq2_0, pack_tq2_0, decode_tq2_0};

}  // namespace lieq::ggml_detail
