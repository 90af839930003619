// Small dependency-free SVG charts for reports: grouped bar charts (per-layer
// scores), line charts (e.g. perplexity against bits per weight, optionally on
// a log scale) and "bit plan" grids (bit width per allocator and layer).
//
// Every render_* function returns a complete standalone SVG document (XML
// declaration, xmlns, width/height/viewBox, a <title>), with all text escaped
// for XML. Invalid input (mismatched lengths, infinities, non-positive values
// on a log axis, ...) throws lieq::Error naming the chart and the series.
//
// Elements carry class attributes so that documents can be inspected and
// styled: "bar" (one <rect> per drawn bar), "series" (one <path> per line
// series), "marker" (one <circle> per drawn point), "cell" / "cell-label"
// (plan chart grid), "zero-line", "grid", "legend".
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lieq {

// Grouped bars: one group per category, one bar per series. NaN values are
// missing bars; negative values are drawn below the zero line.
struct BarChart {
  std::string title, x_label, y_label;
  std::vector<std::string> categories;  // e.g. "L0".."L35"
  struct Series {
    std::string name;
    std::vector<double> values;  // one per category
  };
  std::vector<Series> series;
  int width = 0;  // 0: from the number of categories and series
  int height = 360;
};
std::string render_bar_chart(const BarChart& chart);

// Lines with point markers, in the order the points are given. Points with a
// NaN coordinate are skipped and break the line. With log_y every other y
// must be > 0.
struct LineChart {
  std::string title, x_label, y_label;
  struct Series {
    std::string name;
    std::vector<double> x, y;  // same length
  };
  std::vector<Series> series;
  bool log_y = false;
  int width = 640, height = 400;
};
std::string render_line_chart(const LineChart& chart);

// A grid of rows (e.g. allocators) by layers, each cell coloured by its bit
// width (fixed palette, see bit_color) with the width written in it, layer
// indices on top and a legend of the widths present. All rows must have the
// same number of layers.
struct PlanChart {
  std::string title;
  std::vector<std::string> rows;
  std::vector<std::vector<int>> bits;  // [row][layer], each >= 0
  // The storage format of each width shown (legend "2: int2 g128 asym"); optional.
  std::map<int, std::string> formats;
};
std::string render_plan_chart(const PlanChart& chart);

// Building blocks, exposed for tests and for other report writers.

// "Nice" axis ticks: evenly spaced multiples of 1, 2, 2.5 or 5 x 10^k, with
// the first tick <= lo and the last >= hi, their number as close to
// target_count (>= 2) as the steps allow. lo == hi is widened around the
// value. Throws Error for non-finite bounds or lo > hi.
std::vector<double> nice_ticks(double lo, double hi, int target_count);

// Ticks for a log axis covering [lo, hi] (0 < lo <= hi): powers of 10 (every
// k-th power when the range spans many decades), plus 2x and 5x when it spans
// at most two decades. The first tick is <= lo and the last >= hi.
std::vector<double> log_ticks(double lo, double hi);

// Compact number text with at most `significant` significant digits: "0",
// "0.25", "1500", "12k", "2.5M", "1.5e-3" (|v| < 0.01), "NaN", "inf".
std::string format_number(double v, int significant = 6);

// Escapes & < > " ' for XML text and attribute values; drops control
// characters that XML 1.0 does not allow.
std::string xml_escape(std::string_view s);

// Series colours (Tableau 10: colour-blind tolerant, distinguishable); cycles
// after series_palette_size() colours.
const char* series_color(size_t i);
size_t series_palette_size();

// Fill colour of a bit width in plan charts: 2, 3, 4, 5, 6, 8 bits are six
// steps of viridis (dark = few bits), 16 light grey, anything else mid grey.
const char* bit_color(int bits);

}  // namespace lieq
