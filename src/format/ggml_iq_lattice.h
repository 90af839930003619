// The search tables of ggml's IQ2/IQ1 quantizers (ggml-quants.c's iq2_data
// after iq2xs_init_impl), built here from the code books in ggml_iq_grids.h:
//   points:     [grid_size] each entry's 8 coordinates as int8 bytes 2l+1
//               (l = 0..3 the magnitude's rank in the code book; IQ1: l =
//               value + 1), ggml's kgrid_q2xs;
//   map:        [65536] indexed by the 8 ranks packed 2 bits each (rank k at
//               bits 2k): the grid index when that point is in the code book,
//               else -1 - offset into neighbours (ggml's kmap_q2xs);
//   neighbours: at offset: count n, then n grid indices, the points nearest
//               to the off-grid point (ggml's kneighbors_q2xs, same order).
// Built once per grid size, thread-safely, on first use.
#pragma once

#include <cstdint>
#include <vector>

namespace lieq::ggml_detail {

struct Iq2Lattice {
  int grid_size = 0;
  std::vector<uint64_t> points;
  std::vector<int32_t> map;
  std::vector<uint16_t> neighbours;
};

// grid_size: 256 (IQ2_XXS), 512 (IQ2_XS), 1024 (IQ2_S), 2048 (IQ1_S, IQ1_M).
const Iq2Lattice& iq2_lattice(int grid_size);

}  // namespace lieq::ggml_detail
