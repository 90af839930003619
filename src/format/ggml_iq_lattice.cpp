// ggml's iq2xs_init_impl: the search tables of the IQ2 / IQ1 quantizers,
// rebuilt from the code books of ggml_iq_grids.h instead of ggml-quants.c's
// compact kgrid_* tables (the same points: each coordinate's rank among the
// code book's sorted magnitudes).
//
// Off-grid points p (8 ranks 0..3, coordinates 2l+1) get as neighbours every
// grid point within the nwant smallest distinct squared distances to p, in
// ggml's qsort order (distance, then grid index). ggml sorts all grid points
// per p; here the distances are small integers (at most 8 * 6^2), so a count
// of each distance finds the cut and the points are emitted distance by
// distance in index order, which is the same list.
//
// ggml's map has 43692 entries (the quantizers' ranks are at most 2, so the
// packed index is at most 43690); this one has all 65536 of the header. The
// neighbour lists of the entries below 43692 come first and equal ggml's
// kneighbors_q2xs entry for entry (same offsets); those of the points above
// (some rank 3 in the high coordinates) follow.
#include "format/ggml_iq_lattice.h"

#include <array>
#include <cstdint>
#include <vector>

#include "format/ggml_iq_grids.h"
#include "util/error.h"

namespace lieq::ggml_detail {

namespace {

constexpr int kMapSize = 65536;
constexpr int kMaxDist = 8 * 36;  // 8 coordinates, |(2l+1) - (2m+1)| <= 6

// The point's 8 ranks of a code book entry (IQ2: rank of the magnitude among
// the book's distinct magnitudes; IQ1: value + 1).
std::array<int, 8> entry_ranks(uint64_t entry, const std::array<int, 256>& rank_of) {
  std::array<int, 8> l{};
  for (int k = 0; k < 8; ++k) l[k] = rank_of[ggml::grid_byte(entry, k)];
  return l;
}

// rank_of[byte]: IQ2 books rank their distinct magnitudes in increasing
// order; IQ1's int8 entries -1, 0, 1 give v + 1.
std::array<int, 256> magnitude_ranks(const uint64_t* grid, int grid_size, bool signed_entries) {
  std::array<int, 256> rank_of{};
  rank_of.fill(-1);
  if (signed_entries) {
    rank_of[0xff] = 0;
    rank_of[0x00] = 1;
    rank_of[0x01] = 2;
  } else {
    std::array<bool, 256> seen{};
    for (int j = 0; j < grid_size; ++j)
      for (int k = 0; k < 8; ++k) seen[ggml::grid_byte(grid[j], k)] = true;
    int r = 0;
    for (int b = 0; b < 256; ++b)
      if (seen[b]) rank_of[b] = r++;
    check(r <= 4, "ggml i-quant lattice: code book with more than 4 magnitudes");
  }
  for (int j = 0; j < grid_size; ++j)
    for (int k = 0; k < 8; ++k)
      check(rank_of[ggml::grid_byte(grid[j], k)] >= 0, "ggml i-quant lattice: bad code book entry");
  return rank_of;
}

const uint64_t* code_book(int grid_size) {
  switch (grid_size) {
    case 256:
      return ggml::kIq2xxsGrid;
    case 512:
      return ggml::kIq2xsGrid;
    case 1024:
      return ggml::kIq2sGrid;
    case 2048:
      return ggml::kIq1sGrid;
    default:
      fail("ggml i-quant lattice: no code book of size ", grid_size);
  }
}

// ggml's nwant: how many distinct distances of neighbours to keep.
int wanted_distances(int grid_size) {
  if (grid_size == 2048) return 3;  // IQ1_S, IQ1_M
  if (grid_size == 1024) return 1;  // IQ2_S
  return 2;                         // IQ2_XXS, IQ2_XS
}

// Squared distances of all grid points to point i, as the sum of two halves:
// lo[i & 255][j] (coordinates 0..3) + hi[i >> 8][j] (coordinates 4..7).
struct HalfDistances {
  int grid_size;
  std::vector<uint16_t> lo, hi;  // [256][grid_size]
};

HalfDistances half_distances(const Iq2Lattice& lat) {
  HalfDistances h{lat.grid_size, {}, {}};
  const size_t gs = static_cast<size_t>(lat.grid_size);
  h.lo.assign(256 * gs, 0);
  h.hi.assign(256 * gs, 0);
  for (int b = 0; b < 256; ++b) {
    for (size_t j = 0; j < gs; ++j) {
      int dlo = 0, dhi = 0;
      for (int k = 0; k < 4; ++k) {
        const int p = 2 * ((b >> (2 * k)) & 3) + 1;
        const int glo = static_cast<int8_t>(lat.points[j] >> (8 * k));
        const int ghi = static_cast<int8_t>(lat.points[j] >> (8 * (k + 4)));
        dlo += (glo - p) * (glo - p);
        dhi += (ghi - p) * (ghi - p);
      }
      h.lo[b * gs + j] = static_cast<uint16_t>(dlo);
      h.hi[b * gs + j] = static_cast<uint16_t>(dhi);
    }
  }
  return h;
}

// Appends point i's neighbour list (count, then indices) to lat.neighbours.
void append_neighbours(Iq2Lattice& lat, const HalfDistances& h, int i, int nwant,
                       std::vector<uint16_t>& d2) {
  const size_t gs = static_cast<size_t>(lat.grid_size);
  const uint16_t* lo = &h.lo[static_cast<size_t>(i & 255) * gs];
  const uint16_t* hi = &h.hi[static_cast<size_t>(i >> 8) * gs];
  std::array<int, kMaxDist + 1> count{};
  for (size_t j = 0; j < gs; ++j) {
    d2[j] = static_cast<uint16_t>(lo[j] + hi[j]);
    ++count[d2[j]];
  }
  // The nwant smallest distinct distances (fewer when the grid has fewer).
  std::array<int, 3> keep{};
  int nkeep = 0;
  int total = 0;
  for (int d = 0; d <= kMaxDist && nkeep < nwant; ++d) {
    if (count[d] == 0) continue;
    keep[nkeep++] = d;
    total += count[d];
  }
  lat.map[i] = -1 - static_cast<int32_t>(lat.neighbours.size());
  lat.neighbours.push_back(static_cast<uint16_t>(total));
  for (int t = 0; t < nkeep; ++t)
    for (size_t j = 0; j < gs; ++j)
      if (d2[j] == keep[t]) lat.neighbours.push_back(static_cast<uint16_t>(j));
}

Iq2Lattice build_lattice(int grid_size) {
  const uint64_t* grid = code_book(grid_size);
  const std::array<int, 256> rank_of = magnitude_ranks(grid, grid_size, grid_size == 2048);
  Iq2Lattice lat;
  lat.grid_size = grid_size;
  lat.points.resize(static_cast<size_t>(grid_size));
  lat.map.assign(kMapSize, -1);
  for (int j = 0; j < grid_size; ++j) {
    const std::array<int, 8> l = entry_ranks(grid[j], rank_of);
    uint64_t p = 0;
    int index = 0;
    for (int k = 0; k < 8; ++k) {
      p |= static_cast<uint64_t>(2 * l[k] + 1) << (8 * k);
      index |= l[k] << (2 * k);
    }
    lat.points[j] = p;
    lat.map[index] = j;  // ggml: a later entry with the same ranks would win
  }
  const HalfDistances h = half_distances(lat);
  const int nwant = wanted_distances(grid_size);
  std::vector<uint16_t> d2(static_cast<size_t>(grid_size));
  lat.neighbours.reserve(static_cast<size_t>(kMapSize) * 8);
  for (int i = 0; i < kMapSize; ++i)
    if (lat.map[i] < 0) append_neighbours(lat, h, i, nwant, d2);
  lat.neighbours.shrink_to_fit();
  return lat;
}

}  // namespace

const Iq2Lattice& iq2_lattice(int grid_size) {
  // Function-local statics: built once, on first use, thread-safely.
  switch (grid_size) {
    case 256: {
      static const Iq2Lattice lat = build_lattice(256);
      return lat;
    }
    case 512: {
      static const Iq2Lattice lat = build_lattice(512);
      return lat;
    }
    case 1024: {
      static const Iq2Lattice lat = build_lattice(1024);
      return lat;
    }
    case 2048: {
      static const Iq2Lattice lat = build_lattice(2048);
      return lat;
    }
    default:
      break;
  }
  fail("ggml i-quant lattice: no IQ2/IQ1 grid of size ", grid_size);
}

}  // namespace lieq::ggml_detail
