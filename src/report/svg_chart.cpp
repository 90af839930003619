// SVG charts: layout by hand in user units (pixels), text widths estimated
// from character counts (no font metrics), numbers written with std::to_chars
// so that output does not depend on the locale.
#include "report/svg_chart.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <set>
#include <utility>

#include "util/error.h"

namespace lieq {
namespace {

constexpr const char* kSeriesPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr size_t kSeriesPaletteSize = sizeof(kSeriesPalette) / sizeof(kSeriesPalette[0]);
// Line dash patterns for series beyond the first palette cycle.
constexpr const char* kDashes[] = {"", "6 3", "2 3", "8 3 2 3"};

constexpr double kFont = 12;       // body text
constexpr double kTickFont = 11;   // tick labels
constexpr double kTitleFont = 15;  // chart title
constexpr double kTitleBand = 40;  // room above the plot for the title

// Removes trailing zeros of a fraction, and the point when nothing is left.
void trim_fraction(std::string& s) {
  if (s.find('.') == std::string::npos) return;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
}

std::string to_chars_string(double v, std::chars_format fmt, int precision) {
  char buf[512];
  auto r = std::to_chars(buf, buf + sizeof buf, v, fmt, precision);
  check(r.ec == std::errc(), "svg chart: cannot format number ", v);
  return std::string(buf, r.ptr);
}

// A coordinate or length: at most 2 decimals, never "-0".
std::string c(double v) {
  if (std::fabs(v) < 0.005) return "0";
  std::string s = to_chars_string(v, std::chars_format::fixed, 2);
  trim_fraction(s);
  return s;
}

// Estimated rendered width of UTF-8 text (average glyph ~0.6 em).
double text_width(std::string_view s, double font) {
  size_t n = 0;
  for (unsigned char ch : s)
    if ((ch & 0xC0) != 0x80) ++n;
  return 0.6 * font * double(n);
}

double pow10i(int e) {
  return e >= 0 ? std::pow(10.0, double(e)) : 1.0 / std::pow(10.0, double(-e));
}

// m * 10^e computed as exactly as doubles allow (m a small integer multiple).
double scaled(double m, int e) { return e >= 0 ? m * std::pow(10.0, double(e)) : m / std::pow(10.0, double(-e)); }

// ---------------------------------------------------------------- document

void open_svg(std::string& o, int width, int height, std::string_view title) {
  o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
       std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
       "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"" + c(kFont) + "\">\n";
  o += "<title>" + xml_escape(title) + "</title>\n";
  o += "<rect class=\"background\" x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" +
       std::to_string(height) + "\" fill=\"#ffffff\"/>\n";
  if (!title.empty())
    o += "<text class=\"chart-title\" x=\"" + c(width / 2.0) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"" +
         c(kTitleFont) + "\" font-weight=\"bold\">" + xml_escape(title) + "</text>\n";
}

void text(std::string& o, double x, double y, std::string_view s, std::string_view attrs = {}) {
  o += "<text x=\"" + c(x) + "\" y=\"" + c(y) + "\"";
  if (!attrs.empty()) {
    o += ' ';
    o += attrs;
  }
  o += '>';
  o += xml_escape(s);
  o += "</text>\n";
}

void line(std::string& o, double x1, double y1, double x2, double y2, std::string_view attrs) {
  o += "<line x1=\"" + c(x1) + "\" y1=\"" + c(y1) + "\" x2=\"" + c(x2) + "\" y2=\"" + c(y2) + "\" ";
  o += attrs;
  o += "/>\n";
}

// Plot area and axis decorations shared by bar and line charts.
struct Frame {
  double left = 0, top = 0, width = 0, height = 0;
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

double max_label_width(const std::vector<std::string>& labels, double font) {
  double w = 0;
  for (const std::string& s : labels) w = std::max(w, text_width(s, font));
  return w;
}

// Tick labels; when some tick reaches 10k, thousands below it get the "k"
// suffix too (5k, 10k, 15k rather than 5000, 10k, 15k).
std::vector<std::string> tick_labels(const std::vector<double>& ticks) {
  double mx = 0;
  for (double t : ticks) mx = std::max(mx, std::fabs(t));
  std::vector<std::string> out;
  out.reserve(ticks.size());
  for (double t : ticks) {
    const double a = std::fabs(t);
    out.push_back(mx >= 1e4 && mx < 1e15 && a >= 1000 && a < 1e4 ? format_number(t / 1000) + "k" : format_number(t));
  }
  return out;
}

// Left margin for y tick labels (and the rotated y axis label).
double left_margin(const std::vector<std::string>& y_tick_labels, const std::string& y_label) {
  return 14 + (y_label.empty() ? 0 : 20) + max_label_width(y_tick_labels, kTickFont) + 8;
}

// Horizontal grid lines and labels at the y ticks; posy maps a value to y.
template <typename F>
void draw_y_axis(std::string& o, const Frame& f, const std::vector<double>& ticks,
                 const std::vector<std::string>& labels, F posy, const std::string& y_label) {
  o += "<g class=\"y-axis\" font-size=\"" + c(kTickFont) + "\">\n";
  for (size_t i = 0; i < ticks.size(); ++i) {
    double y = posy(ticks[i]);
    line(o, f.left, y, f.right(), y, "class=\"grid\" stroke=\"#e0e0e0\" stroke-width=\"1\"");
    text(o, f.left - 6, y, labels[i], "text-anchor=\"end\" dy=\"0.32em\" fill=\"#333333\"");
  }
  line(o, f.left, f.top, f.left, f.bottom(), "stroke=\"#333333\" stroke-width=\"1\"");
  o += "</g>\n";
  if (!y_label.empty()) {
    double x = 16, y = f.top + f.height / 2;
    text(o, x, y, y_label,
         "class=\"axis-label\" text-anchor=\"middle\" transform=\"rotate(-90 " + c(x) + " " + c(y) + ")\"");
  }
}

void draw_x_label(std::string& o, const Frame& f, double y, const std::string& x_label) {
  if (!x_label.empty()) text(o, f.left + f.width / 2, y, x_label, "class=\"axis-label\" text-anchor=\"middle\"");
}

// Legend entries at the right of the plot; kind 'b' draws a square swatch,
// 'l' a line with a marker. Returns nothing; the caller reserved the room.
void draw_legend(std::string& o, double x, double y, const std::vector<std::string>& names, char kind) {
  o += "<g class=\"legend\">\n";
  for (size_t i = 0; i < names.size(); ++i) {
    double yy = y + 18 * double(i);
    std::string col = series_color(i);
    if (kind == 'b') {
      o += "<rect class=\"legend-swatch\" x=\"" + c(x) + "\" y=\"" + c(yy - 6) +
           "\" width=\"12\" height=\"12\" fill=\"" + col + "\"/>\n";
    } else {
      std::string dash = kDashes[(i / kSeriesPaletteSize) % 4];
      line(o, x - 2, yy, x + 14, yy,
           "stroke=\"" + col + "\" stroke-width=\"2\"" +
               (dash.empty() ? std::string() : " stroke-dasharray=\"" + dash + "\""));
      o += "<circle cx=\"" + c(x + 6) + "\" cy=\"" + c(yy) + "\" r=\"3\" fill=\"" + col + "\"/>\n";
    }
    text(o, x + 20, yy, names[i], "dy=\"0.32em\"");
  }
  o += "</g>\n";
}

// Room at the right of the plot for the legend (a small margin when there is none).
double legend_width(const std::vector<std::string>& names) {
  if (names.empty()) return 16;
  return 16 + 20 + max_label_width(names, kFont) + 16;
}

// Legend names; none for a single unnamed series.
template <typename S>
std::vector<std::string> legend_names(const std::vector<S>& series) {
  if (series.size() == 1 && series[0].name.empty()) return {};
  std::vector<std::string> names;
  for (size_t i = 0; i < series.size(); ++i)
    names.push_back(series[i].name.empty() ? cat("series ", i + 1) : series[i].name);
  return names;
}

void check_size(const char* what, int width, int height) {
  check(width >= 100 && height >= 100, what, ": size ", width, "x", height, " is too small (100x100 at least)");
  check(width <= 100000 && height <= 100000, what, ": size ", width, "x", height, " is too large");
}

}  // namespace

// ---------------------------------------------------------------- helpers

const char* series_color(size_t i) { return kSeriesPalette[i % kSeriesPaletteSize]; }
size_t series_palette_size() { return kSeriesPaletteSize; }

const char* bit_color(int bits) {
  switch (bits) {
    case 2: return "#440154";
    case 3: return "#414487";
    case 4: return "#2a788e";
    case 5: return "#22a884";
    case 6: return "#7ad151";
    case 8: return "#fde725";
    case 16: return "#e6e6e6";
    default: return "#a0a0a0";
  }
}

namespace {
// Text colour readable on bit_color(bits).
const char* bit_text_color(int bits) { return (bits == 2 || bits == 3 || bits == 4) ? "#ffffff" : "#000000"; }
}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') break;
        out += ch;
    }
  }
  return out;
}

std::string format_number(double v, int significant) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return "0";
  significant = std::clamp(significant, 1, 17);
  const double a = std::fabs(v);
  if (a >= 1e4 && a < 1e15) {
    static constexpr std::pair<double, const char*> kUnits[] = {{1e3, "k"}, {1e6, "M"}, {1e9, "G"}, {1e12, "T"}};
    size_t u = 0;
    while (u + 1 < std::size(kUnits) && a >= kUnits[u + 1].first) ++u;
    for (;; ++u) {
      double m = v / kUnits[u].first;
      double am = std::fabs(m);
      int int_digits = am >= 100 ? 3 : am >= 10 ? 2 : 1;
      std::string s = to_chars_string(m, std::chars_format::fixed, std::max(0, significant - int_digits));
      trim_fraction(s);
      double back = std::fabs(std::strtod(s.c_str(), nullptr));
      if (back >= 1000 && u + 1 < std::size(kUnits)) continue;  // 999.99k rounds to 1M
      return s + kUnits[u].second;
    }
  }
  if (a < 0.01 || a >= 1e15) {
    std::string s = to_chars_string(v, std::chars_format::scientific, significant - 1);
    size_t e = s.find('e');
    std::string mant = s.substr(0, e);
    trim_fraction(mant);
    int exp = std::stoi(s.substr(e + 1));
    return mant + "e" + std::to_string(exp);
  }
  std::string s = to_chars_string(v, std::chars_format::general, significant);
  const double back = std::strtod(s.c_str(), nullptr);
  if (s.find('e') != std::string::npos || std::fabs(back) >= 1e4) {  // 9999.99 rounded up to 1e+04 or 10000
    return format_number(back, significant);
  }
  return s;
}

std::vector<double> nice_ticks(double lo, double hi, int target_count) {
  check(std::isfinite(lo) && std::isfinite(hi), "nice_ticks: range [", lo, ", ", hi, "] is not finite");
  check(lo <= hi, "nice_ticks: lo ", lo, " > hi ", hi);
  check(target_count >= 2 && target_count <= 1000, "nice_ticks: target count ", target_count, " not in [2, 1000]");
  check(std::isfinite(hi - lo), "nice_ticks: range [", lo, ", ", hi, "] is too wide");
  const double mag = std::max(std::fabs(lo), std::fabs(hi));
  if (hi - lo <= 1e-9 * mag || hi == lo) {  // degenerate: widen around the value
    if (mag == 0) {
      lo = 0;
      hi = 1;
    } else {
      lo -= 0.1 * mag;
      hi += 0.1 * mag;
    }
  }
  const double raw = (hi - lo) / double(target_count - 1);
  const int k0 = int(std::floor(std::log10(raw)));
  static constexpr double kMult10[] = {10, 20, 25, 50};  // 1, 2, 2.5, 5 in tenths
  struct Choice {
    double m10 = 0;
    int e = 0;  // step = m10 * 10^e
    double first = 0, last = 0;
    double score = 0, coverage = 0;
  } best;
  bool have = false;
  for (int k = k0 - 1; k <= k0 + 2; ++k) {
    for (double m10 : kMult10) {
      const int e = k - 1;
      const double step = scaled(m10, e);
      // Tolerate round-off when a bound lies on a tick.
      const double first = std::floor(lo / step + 1e-9);
      const double last = std::ceil(hi / step - 1e-9);
      const double n = last - first + 1;
      const double score = std::fabs(n - double(target_count));
      const double coverage = (hi - lo) / ((last - first) * step);
      if (!have || score < best.score || (score == best.score && coverage > best.coverage + 1e-12)) {
        best = {m10, e, first, last, score, coverage};
        have = true;
      }
    }
  }
  std::vector<double> ticks;
  for (double i = best.first; i <= best.last; i += 1) {
    double t = scaled(i * best.m10, best.e);
    ticks.push_back(t == 0 ? 0.0 : t);  // no -0
  }
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  check(std::isfinite(lo) && std::isfinite(hi) && lo > 0 && lo <= hi, "log_ticks: range [", lo, ", ", hi,
        "] is not a finite positive range");
  if (lo == hi) {
    lo /= 2;
    hi *= 2;
  }
  int e0 = int(std::floor(std::log10(lo)));
  while (pow10i(e0) > lo) --e0;
  while (pow10i(e0 + 1) <= lo) ++e0;
  int e1 = int(std::ceil(std::log10(hi)));
  while (pow10i(e1) < hi) ++e1;
  while (pow10i(e1 - 1) >= hi) --e1;
  std::vector<double> ticks;
  if (e1 - e0 <= 2) {
    std::vector<double> cand;
    for (int e = e0; e <= e1; ++e)
      for (double m : {1.0, 2.0, 5.0}) cand.push_back(scaled(m, e));
    // From the largest candidate <= lo to the smallest >= hi.
    size_t a = 0;
    while (a + 1 < cand.size() && cand[a + 1] <= lo) ++a;
    size_t b = cand.size() - 1;
    while (b > 0 && cand[b - 1] >= hi) --b;
    ticks.assign(cand.begin() + std::ptrdiff_t(a), cand.begin() + std::ptrdiff_t(b) + 1);
    return ticks;
  }
  const int step = (e1 - e0 + 5) / 6;  // at most ~7 labelled decades
  auto floor_div = [](int x, int d) { return x >= 0 ? x / d : -((-x + d - 1) / d); };
  const int s0 = floor_div(e0, step) * step;
  const int s1 = -floor_div(-e1, step) * step;
  for (int e = s0; e <= s1; e += step) ticks.push_back(pow10i(e));
  return ticks;
}

// ---------------------------------------------------------------- bar chart

std::string render_bar_chart(const BarChart& chart) {
  const size_t n_cat = chart.categories.size();
  const size_t n_ser = chart.series.size();
  check(n_cat > 0, "bar chart '", chart.title, "': no categories");
  check(n_ser > 0, "bar chart '", chart.title, "': no series");
  double vmin = 0, vmax = 0;
  for (const BarChart::Series& s : chart.series) {
    check(s.values.size() == n_cat, "bar chart '", chart.title, "': series '", s.name, "' has ", s.values.size(),
          " values for ", n_cat, " categories");
    for (size_t i = 0; i < n_cat; ++i) {
      double v = s.values[i];
      if (std::isnan(v)) continue;
      check(std::isfinite(v), "bar chart '", chart.title, "': series '", s.name, "' value for category '",
            chart.categories[i], "' is infinite");
      vmin = std::min(vmin, v);
      vmax = std::max(vmax, v);
    }
  }
  if (vmin == 0 && vmax == 0) vmax = 1;
  const std::vector<double> ticks = nice_ticks(vmin, vmax, 5);
  const std::vector<std::string> ylabels = tick_labels(ticks);
  const std::vector<std::string> names = legend_names(chart.series);

  Frame f;
  f.top = kTitleBand;
  f.left = left_margin(ylabels, chart.y_label);
  const double right = legend_width(names);
  double group_w = 0;
  check_size("bar chart", chart.width == 0 ? 100 : chart.width, chart.height);
  if (chart.width == 0) {
    const double bar_w = n_ser <= 2 ? 14 : n_ser <= 4 ? 10 : 7;
    group_w = std::max(20.0, double(n_ser) * bar_w + 8);
    f.width = group_w * double(n_cat);
  } else {
    f.width = double(chart.width) - f.left - right;
    check(f.width >= 40, "bar chart '", chart.title, "': width ", chart.width, " leaves no room for the plot");
    group_w = f.width / double(n_cat);
  }
  const double pad = std::max(1.0, 0.1 * group_w);
  const double bar_w = (group_w - 2 * pad) / double(n_ser);

  const double cat_label_w = max_label_width(chart.categories, kTickFont);
  const bool rotate = n_cat > 16 || cat_label_w > group_w - 4;
  const double cat_band = rotate ? 12 + 0.71 * cat_label_w + 8 : 22;
  const double bottom = cat_band + (chart.x_label.empty() ? 0 : 20) + 8;

  int width = chart.width;
  if (width == 0) {
    width = int(std::ceil(std::max(f.left + f.width + right, text_width(chart.title, kTitleFont) + 32)));
  }
  const double legend_bottom = f.top + 18 * double(names.size()) + 8;
  int height = std::max(chart.height, int(std::ceil(legend_bottom + bottom)));
  check_size("bar chart", width, height);
  f.height = double(height) - f.top - bottom;
  check(f.height >= 40, "bar chart '", chart.title, "': height ", chart.height, " leaves no room for the plot");

  const double t_lo = ticks.front(), t_hi = ticks.back();
  auto posy = [&](double v) { return f.top + f.height * (t_hi - v) / (t_hi - t_lo); };
  const double y0 = posy(0);

  std::string o;
  open_svg(o, width, height, chart.title);
  draw_y_axis(o, f, ticks, ylabels, posy, chart.y_label);

  o += "<g class=\"bars\">\n";
  for (size_t s = 0; s < n_ser; ++s) {
    const BarChart::Series& ser = chart.series[s];
    const std::string col = series_color(s);
    for (size_t i = 0; i < n_cat; ++i) {
      const double v = ser.values[i];
      if (std::isnan(v)) continue;
      const double x = f.left + double(i) * group_w + pad + double(s) * bar_w;
      const double yv = posy(v);
      const double y = std::min(yv, y0), h = std::fabs(yv - y0);
      o += "<rect class=\"bar\" x=\"" + c(x) + "\" y=\"" + c(y) + "\" width=\"" + c(bar_w) + "\" height=\"" + c(h) +
           "\" fill=\"" + col + "\"><title>" +
           xml_escape(chart.categories[i] + (ser.name.empty() ? "" : " / " + ser.name) + ": " + format_number(v)) +
           "</title></rect>\n";
    }
  }
  o += "</g>\n";
  line(o, f.left, y0, f.right(), y0, "class=\"zero-line\" stroke=\"#333333\" stroke-width=\"1\"");

  o += "<g class=\"x-axis\" font-size=\"" + c(kTickFont) + "\">\n";
  for (size_t i = 0; i < n_cat; ++i) {
    const double x = f.left + (double(i) + 0.5) * group_w;
    const double y = f.bottom() + 14;
    if (rotate) {
      text(o, x + 3, y, chart.categories[i],
           "text-anchor=\"end\" transform=\"rotate(-45 " + c(x + 3) + " " + c(y) + ")\" fill=\"#333333\"");
    } else {
      text(o, x, y, chart.categories[i], "text-anchor=\"middle\" fill=\"#333333\"");
    }
  }
  o += "</g>\n";
  draw_x_label(o, f, f.bottom() + cat_band + 14, chart.x_label);
  if (!names.empty()) draw_legend(o, f.right() + 16, f.top + 8, names, 'b');
  o += "</svg>\n";
  return o;
}

// ---------------------------------------------------------------- line chart

std::string render_line_chart(const LineChart& chart) {
  check(!chart.series.empty(), "line chart '", chart.title, "': no series");
  check_size("line chart", chart.width, chart.height);
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
  double ymin = xmin, ymax = -xmin;
  for (const LineChart::Series& s : chart.series) {
    check(s.x.size() == s.y.size(), "line chart '", chart.title, "': series '", s.name, "' has ", s.x.size(),
          " x values and ", s.y.size(), " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double x = s.x[i], y = s.y[i];
      check(!std::isinf(x) && !std::isinf(y), "line chart '", chart.title, "': series '", s.name, "' point ", i,
            " is infinite");
      if (std::isnan(x) || std::isnan(y)) continue;
      check(!chart.log_y || y > 0, "line chart '", chart.title, "': series '", s.name, "' point ", i, " has y = ", y,
            ", not allowed on a log scale");
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
  }
  if (xmin > xmax) {  // no drawable point at all
    xmin = 0;
    xmax = 1;
    ymin = chart.log_y ? 1 : 0;
    ymax = chart.log_y ? 10 : 1;
  }
  const std::vector<double> xticks = nice_ticks(xmin, xmax, 6);
  const std::vector<double> yticks = chart.log_y ? log_ticks(ymin, ymax) : nice_ticks(ymin, ymax, 5);
  const std::vector<std::string> xlabels = tick_labels(xticks), ylabels = tick_labels(yticks);
  const std::vector<std::string> names = legend_names(chart.series);

  Frame f;
  f.top = kTitleBand;
  f.left = std::max(left_margin(ylabels, chart.y_label),
                    text_width(xlabels.front(), kTickFont) / 2 + 4);  // first x label fits
  const double right = std::max(legend_width(names), text_width(xlabels.back(), kTickFont) / 2 + 8);
  const double bottom = 22 + (chart.x_label.empty() ? 0 : 20) + 8;
  f.width = double(chart.width) - f.left - right;
  const double legend_bottom = f.top + 18 * double(names.size()) + 8;
  const int height = std::max(chart.height, int(std::ceil(legend_bottom + bottom)));
  f.height = double(height) - f.top - bottom;
  check(f.width >= 40 && f.height >= 40, "line chart '", chart.title, "': size ", chart.width, "x", chart.height,
        " leaves no room for the plot");

  const double x_lo = xticks.front(), x_hi = xticks.back();
  auto posx = [&](double x) { return f.left + f.width * (x - x_lo) / (x_hi - x_lo); };
  auto ty = [&](double y) { return chart.log_y ? std::log10(y) : y; };
  const double y_lo = ty(yticks.front()), y_hi = ty(yticks.back());
  auto posy = [&](double y) { return f.top + f.height * (y_hi - ty(y)) / (y_hi - y_lo); };

  std::string o;
  open_svg(o, chart.width, height, chart.title);
  o += "<g class=\"x-axis\" font-size=\"" + c(kTickFont) + "\">\n";
  for (size_t i = 0; i < xticks.size(); ++i) {
    const double x = posx(xticks[i]);
    line(o, x, f.top, x, f.bottom(), "class=\"grid\" stroke=\"#e0e0e0\" stroke-width=\"1\"");
    text(o, x, f.bottom() + 14, xlabels[i], "text-anchor=\"middle\" fill=\"#333333\"");
  }
  line(o, f.left, f.bottom(), f.right(), f.bottom(), "stroke=\"#333333\" stroke-width=\"1\"");
  o += "</g>\n";
  draw_y_axis(o, f, yticks, ylabels, posy, chart.y_label);
  draw_x_label(o, f, f.bottom() + 22 + 14, chart.x_label);

  for (size_t s = 0; s < chart.series.size(); ++s) {
    const LineChart::Series& ser = chart.series[s];
    const std::string col = series_color(s);
    const std::string dash = kDashes[(s / kSeriesPaletteSize) % 4];
    std::string d, markers;
    bool pen_up = true;
    for (size_t i = 0; i < ser.x.size(); ++i) {
      const double x = ser.x[i], y = ser.y[i];
      if (std::isnan(x) || std::isnan(y)) {
        pen_up = true;
        continue;
      }
      const double px = posx(x), py = posy(y);
      if (!d.empty()) d += ' ';
      d += (pen_up ? "M" : "L") + c(px) + " " + c(py);
      pen_up = false;
      markers += "<circle class=\"marker\" cx=\"" + c(px) + "\" cy=\"" + c(py) + "\" r=\"3\" fill=\"" + col +
                 "\"><title>" +
                 xml_escape((ser.name.empty() ? "" : ser.name + ": ") + "(" + format_number(x) + ", " +
                            format_number(y) + ")") +
                 "</title></circle>\n";
    }
    o += "<g class=\"line-series\">\n";
    o += "<path class=\"series\" d=\"" + d + "\" fill=\"none\" stroke=\"" + col +
         "\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"" +
         (dash.empty() ? std::string() : " stroke-dasharray=\"" + dash + "\"") + "/>\n";
    o += markers;
    o += "</g>\n";
  }
  if (!names.empty()) draw_legend(o, f.right() + 16, f.top + 8, names, 'l');
  o += "</svg>\n";
  return o;
}

// ---------------------------------------------------------------- plan chart

std::string render_plan_chart(const PlanChart& chart) {
  check(!chart.rows.empty(), "plan chart '", chart.title, "': no rows");
  check(chart.rows.size() == chart.bits.size(), "plan chart '", chart.title, "': ", chart.rows.size(),
        " row names for ", chart.bits.size(), " rows of bits");
  const size_t n_layers = chart.bits[0].size();
  check(n_layers > 0, "plan chart '", chart.title, "': row '", chart.rows[0], "' has no layers");
  std::set<int> widths;
  for (size_t r = 0; r < chart.rows.size(); ++r) {
    check(chart.bits[r].size() == n_layers, "plan chart '", chart.title, "': row '", chart.rows[r], "' has ",
          chart.bits[r].size(), " layers, row '", chart.rows[0], "' has ", n_layers);
    for (size_t l = 0; l < n_layers; ++l) {
      const int b = chart.bits[r][l];
      check(b >= 0 && b <= 64, "plan chart '", chart.title, "': row '", chart.rows[r], "' layer ", l, " has ", b,
            " bits");
      widths.insert(b);
    }
  }
  const double cell = 22;
  const double left = 12 + max_label_width(chart.rows, kFont) + 10;
  const double top = kTitleBand + 18;  // title, then the layer indices
  const double grid_w = cell * double(n_layers), grid_h = cell * double(chart.rows.size());
  const double legend_y = top + grid_h + 24;
  const double legend_item_w = 64;
  // ", Q4_K" after a width's label when its format is known.
  auto format_of = [&](int b) {
    const auto it = chart.formats.find(b);
    return it == chart.formats.end() ? std::string() : ", " + it->second;
  };
  double legend_w = 12 + 40;
  for (int b : widths)
    legend_w += std::max(legend_item_w, 19 + text_width(std::to_string(b) + "-bit" + format_of(b), kFont) + 12);
  const int width = int(std::ceil(
      std::max({left + grid_w + 16, legend_w + 12, text_width(chart.title, kTitleFont) + 32, 100.0})));
  const int height = int(std::ceil(std::max(legend_y + 20, 100.0)));
  check_size("plan chart", width, height);

  std::string o;
  open_svg(o, width, height, chart.title);
  const double index_font = n_layers >= 100 ? 8 : 10;
  o += "<g class=\"layer-index\" font-size=\"" + c(index_font) + "\" fill=\"#333333\">\n";
  for (size_t l = 0; l < n_layers; ++l)
    text(o, left + (double(l) + 0.5) * cell, top - 6, std::to_string(l), "text-anchor=\"middle\"");
  o += "</g>\n";
  o += "<g class=\"grid\">\n";
  for (size_t r = 0; r < chart.rows.size(); ++r) {
    const double y = top + double(r) * cell;
    text(o, left - 8, y + cell / 2, chart.rows[r], "class=\"row-label\" text-anchor=\"end\" dy=\"0.32em\"");
    for (size_t l = 0; l < n_layers; ++l) {
      const int b = chart.bits[r][l];
      const double x = left + double(l) * cell;
      o += "<rect class=\"cell\" x=\"" + c(x) + "\" y=\"" + c(y) + "\" width=\"" + c(cell) + "\" height=\"" + c(cell) +
           "\" fill=\"" + bit_color(b) + "\" stroke=\"#ffffff\" stroke-width=\"1\"><title>" +
           xml_escape(cat(chart.rows[r], " / layer ", l, ": ", b, " bits", format_of(b))) + "</title></rect>\n";
      text(o, x + cell / 2, y + cell / 2, std::to_string(b),
           std::string("class=\"cell-label\" text-anchor=\"middle\" dy=\"0.35em\" font-size=\"11\" fill=\"") +
               bit_text_color(b) + "\"");
    }
  }
  o += "</g>\n";
  o += "<g class=\"legend\">\n";
  text(o, 12, legend_y, "bits", "dy=\"0.32em\"");
  double x = 12 + 40;
  for (int b : widths) {
    o += "<rect class=\"legend-swatch\" x=\"" + c(x) + "\" y=\"" + c(legend_y - 7) +
         "\" width=\"14\" height=\"14\" fill=\"" + bit_color(b) + "\" stroke=\"#999999\" stroke-width=\"0.5\"/>\n";
    const std::string label = std::to_string(b) + "-bit" + format_of(b);
    text(o, x + 19, legend_y, label, "dy=\"0.32em\"");
    x += std::max(legend_item_w, 19 + text_width(label, kFont) + 12);
  }
  o += "</g>\n";
  o += "</svg>\n";
  return o;
}

}  // namespace lieq
