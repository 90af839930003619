// SVG charts: nice and log ticks on known ranges (and their invariants on many
// random ranges), compact number text, XML escaping, and the three charts
// parsed back with a minimal well-formedness checker (balanced tags, quoted
// attributes, only known entities): one <rect class="bar"> per drawn bar,
// negative bars below the zero line, one <path> per line series, log scale
// ticks and its rejection of y <= 0, plan chart cells and their numbers, and
// the errors for invalid input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "expect_error.h"
#include "report/svg_chart.h"

namespace lieq {
namespace {

// ---------------------------------------------------------------- minimal XML checker

struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;  // character data directly inside, unescaped
  double num(const std::string& a) const { return std::stod(attrs.at(a)); }
  bool has_class(const std::string& cls) const {
    auto it = attrs.find("class");
    return it != attrs.end() && it->second == cls;
  }
};

struct XmlDoc {
  std::vector<Element> elements;  // document order
  std::string error;              // empty when well-formed
};

bool is_name_char(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == ':' || ch == '-' || ch == '.';
}

// Decodes character data, allowing only the five named entities and character
// references; rejects raw '<' and '>' (the writer escapes both).
bool unescape(const std::string& raw, std::string& out, std::string& error) {
  for (size_t i = 0; i < raw.size(); ++i) {
    const char ch = raw[i];
    if (ch == '<' || ch == '>') {
      error = "raw '" + std::string(1, ch) + "' in text: " + raw;
      return false;
    }
    if (ch != '&') {
      out += ch;
      continue;
    }
    const size_t semi = raw.find(';', i);
    if (semi == std::string::npos) {
      error = "unterminated entity in: " + raw;
      return false;
    }
    const std::string ent = raw.substr(i + 1, semi - i - 1);
    static const std::map<std::string, char> kNamed = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    if (auto it = kNamed.find(ent); it != kNamed.end()) {
      out += it->second;
    } else if (ent.size() > 1 && ent[0] == '#' &&
               std::all_of(ent.begin() + 1, ent.end(), [](char d) { return std::isxdigit(static_cast<unsigned char>(d)) || d == 'x'; })) {
      out += '?';
    } else {
      error = "unknown entity &" + ent + "; in: " + raw;
      return false;
    }
    i = semi;
  }
  return true;
}

XmlDoc parse_xml(const std::string& s) {
  XmlDoc doc;
  std::vector<size_t> stack;  // indices into doc.elements
  size_t roots = 0;
  size_t pos = 0;
  auto fail = [&](const std::string& why) {
    doc.error = why + " at offset " + std::to_string(pos);
    return doc;
  };
  if (s.compare(0, 5, "<?xml") == 0) {
    pos = s.find("?>");
    if (pos == std::string::npos) return fail("unterminated XML declaration");
    pos += 2;
  }
  while (pos < s.size()) {
    if (s[pos] != '<') {
      const size_t end = s.find('<', pos);
      const std::string raw = s.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      std::string text, err;
      if (!unescape(raw, text, err)) return fail(err);
      if (stack.empty()) {
        if (text.find_first_not_of(" \t\r\n") != std::string::npos) return fail("text outside the root element");
      } else {
        doc.elements[stack.back()].text += text;
      }
      pos = end == std::string::npos ? s.size() : end;
      continue;
    }
    if (s.compare(pos, 4, "<!--") == 0) {
      const size_t end = s.find("-->", pos);
      if (end == std::string::npos) return fail("unterminated comment");
      pos = end + 3;
      continue;
    }
    if (s.compare(pos, 2, "</") == 0) {
      size_t p = pos + 2;
      while (p < s.size() && is_name_char(s[p])) ++p;
      const std::string name = s.substr(pos + 2, p - pos - 2);
      if (p >= s.size() || s[p] != '>') return fail("malformed end tag </" + name);
      if (stack.empty() || doc.elements[stack.back()].name != name) return fail("unbalanced end tag </" + name + ">");
      stack.pop_back();
      pos = p + 1;
      continue;
    }
    // Start tag.
    size_t p = pos + 1;
    while (p < s.size() && is_name_char(s[p])) ++p;
    Element e;
    e.name = s.substr(pos + 1, p - pos - 1);
    if (e.name.empty() || !std::isalpha(static_cast<unsigned char>(e.name[0]))) return fail("bad tag name");
    bool self_closing = false;
    for (;;) {
      const size_t q = p;
      while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
      if (p >= s.size()) return fail("unterminated start tag <" + e.name);
      if (s[p] == '>') {
        ++p;
        break;
      }
      if (s.compare(p, 2, "/>") == 0) {
        p += 2;
        self_closing = true;
        break;
      }
      if (p == q) return fail("attributes of <" + e.name + "> not separated by space");
      const size_t a0 = p;
      while (p < s.size() && is_name_char(s[p])) ++p;
      const std::string an = s.substr(a0, p - a0);
      if (an.empty() || p + 1 >= s.size() || s[p] != '=' || (s[p + 1] != '"' && s[p + 1] != '\''))
        return fail("malformed attribute in <" + e.name + ">");
      const char quote = s[p + 1];
      const size_t v0 = p + 2;
      const size_t v1 = s.find(quote, v0);
      if (v1 == std::string::npos) return fail("unterminated attribute value");
      std::string value, err;
      if (!unescape(s.substr(v0, v1 - v0), value, err)) return fail(err);
      if (!e.attrs.emplace(an, value).second) return fail("duplicate attribute " + an);
      p = v1 + 1;
    }
    if (stack.empty() && roots++ > 0) return fail("more than one root element");
    doc.elements.push_back(std::move(e));
    if (!self_closing) stack.push_back(doc.elements.size() - 1);
    pos = p;
  }
  if (!stack.empty()) return fail("unclosed <" + doc.elements[stack.back()].name + ">");
  if (roots != 1) return fail("no root element");
  return doc;
}

// Parses and asserts well-formedness plus the standalone-document basics.
XmlDoc parse_svg(const std::string& svg) {
  XmlDoc doc = parse_xml(svg);
  EXPECT_EQ(doc.error, "");
  if (!doc.error.empty()) return doc;
  const Element& root = doc.elements.at(0);
  EXPECT_EQ(root.name, "svg");
  EXPECT_EQ(root.attrs.count("xmlns") ? root.attrs.at("xmlns") : "", "http://www.w3.org/2000/svg");
  EXPECT_TRUE(root.attrs.count("width") && root.attrs.count("height") && root.attrs.count("viewBox"));
  EXPECT_EQ(root.attrs.at("viewBox"), "0 0 " + root.attrs.at("width") + " " + root.attrs.at("height"));
  EXPECT_TRUE(doc.elements.size() > 1 && doc.elements[1].name == "title") << "first child is the <title>";
  return doc;
}

std::vector<const Element*> select(const XmlDoc& d, const std::string& name, const std::string& cls = "") {
  std::vector<const Element*> out;
  for (const Element& e : d.elements)
    if (e.name == name && (cls.empty() || e.has_class(cls))) out.push_back(&e);
  return out;
}

bool has_text(const XmlDoc& d, const std::string& t) {
  for (const Element& e : d.elements)
    if (e.name == "text" && e.text == t) return true;
  return false;
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(SvgXmlChecker, RejectsMalformedDocuments) {
  EXPECT_EQ(parse_xml("<svg><g></g><rect x=\"1\"/></svg>").error, "");
  EXPECT_NE(parse_xml("<svg><g></svg>").error, "");
  EXPECT_NE(parse_xml("<svg></g></svg>").error, "");
  EXPECT_NE(parse_xml("<svg><text>a & b</text></svg>").error, "");
  EXPECT_NE(parse_xml("<svg><text>a < b</text></svg>").error, "");
  EXPECT_NE(parse_xml("<svg><text>&bogus;</text></svg>").error, "");
  EXPECT_NE(parse_xml("<svg x=1></svg>").error, "");
  EXPECT_NE(parse_xml("<svg x=\"a\"x=\"b\"></svg>").error, "");
  EXPECT_NE(parse_xml("<svg></svg><svg></svg>").error, "");
  EXPECT_NE(parse_xml("<svg>").error, "");
}

// ---------------------------------------------------------------- ticks and numbers

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size()) << ::testing::PrintToString(got);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12 * (1 + std::fabs(want[i]))) << i;
}

TEST(SvgNiceTicks, KnownRanges) {
  expect_ticks(nice_ticks(0, 1, 5), {0, 0.25, 0.5, 0.75, 1});
  expect_ticks(nice_ticks(0, 100, 5), {0, 25, 50, 75, 100});
  expect_ticks(nice_ticks(0, 7, 5), {0, 2, 4, 6, 8});
  expect_ticks(nice_ticks(0, 0.83, 5), {0, 0.25, 0.5, 0.75, 1});
  expect_ticks(nice_ticks(0, 0.83, 6), {0, 0.2, 0.4, 0.6, 0.8, 1});
  expect_ticks(nice_ticks(-3, 7, 5), {-5, -2.5, 0, 2.5, 5, 7.5});
  expect_ticks(nice_ticks(9.2, 10.9, 5), {9, 9.5, 10, 10.5, 11});
  expect_ticks(nice_ticks(2e-4, 1.1e-3, 5), {2e-4, 4e-4, 6e-4, 8e-4, 1e-3, 1.2e-3});
  expect_ticks(nice_ticks(0, 36, 6), {0, 10, 20, 30, 40});
  expect_ticks(nice_ticks(0, 1, 11), {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0});
  // Ticks are exact decimal multiples: 0.3 is the double nearest 0.3.
  EXPECT_EQ(nice_ticks(0, 1, 11)[3], 0.3);
}

TEST(SvgNiceTicks, DegenerateRangesAreWidened) {
  expect_ticks(nice_ticks(0, 0, 5), {0, 0.25, 0.5, 0.75, 1});
  const std::vector<double> t = nice_ticks(5, 5, 5);
  ASSERT_GE(t.size(), 2u);
  EXPECT_LT(t.front(), 5);
  EXPECT_GT(t.back(), 5);
  const std::vector<double> n = nice_ticks(-3, -3, 5);
  EXPECT_LT(n.front(), -3);
  EXPECT_GT(n.back(), -3);
}

TEST(SvgNiceTicks, InvariantsOnRandomRanges) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  std::uniform_int_distribution<int> ex(-8, 8);
  for (int trial = 0; trial < 5000; ++trial) {
    const double scale = std::pow(10.0, ex(rng));
    double lo = u(rng) * scale, hi = u(rng) * scale;
    if (trial % 3 == 0) lo = 0;  // bar charts always include zero
    if (lo > hi) std::swap(lo, hi);
    if (hi - lo < 1e-6 * scale) continue;
    const std::vector<double> t = nice_ticks(lo, hi, 5);
    ASSERT_GE(t.size(), 4u) << lo << " " << hi;
    ASSERT_LE(t.size(), 6u) << lo << " " << hi;
    EXPECT_LE(t.front(), lo * (1 + 1e-12) + 1e-300);
    EXPECT_GE(t.back(), hi * (1 - 1e-12) - 1e-300);
    const double step = t[1] - t[0];
    for (size_t i = 1; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], step, 1e-9 * step);
    // step = m * 10^k, m in {1, 2, 2.5, 5}
    const double m = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::fabs(m - 1) < 1e-6 || std::fabs(m - 2) < 1e-6 || std::fabs(m - 2.5) < 1e-6 ||
                std::fabs(m - 5) < 1e-6)
        << "step " << step << " for [" << lo << ", " << hi << "]";
  }
}

TEST(SvgNiceTicks, RejectsInvalidInput) {
  EXPECT_LIEQ_ERROR(nice_ticks(kNaN, 1, 5), "not finite");
  EXPECT_LIEQ_ERROR(nice_ticks(0, std::numeric_limits<double>::infinity(), 5), "not finite");
  EXPECT_LIEQ_ERROR(nice_ticks(2, 1, 5), "lo 2 > hi 1");
  EXPECT_LIEQ_ERROR(nice_ticks(0, 1, 1), "target count");
}

TEST(SvgLogTicks, PowersOfTenAndSubdivisions) {
  expect_ticks(log_ticks(1, 1000), {1, 10, 100, 1000});
  expect_ticks(log_ticks(2e-5, 3e3), {1e-6, 1e-4, 1e-2, 1, 100, 1e4});  // 9 decades: every 2nd
  expect_ticks(log_ticks(2e-3, 3e2), {1e-3, 1e-2, 1e-1, 1, 10, 100, 1000});
  expect_ticks(log_ticks(1e-12, 1e12), {1e-12, 1e-8, 1e-4, 1, 1e4, 1e8, 1e12});
  expect_ticks(log_ticks(0.3, 0.8), {0.2, 0.5, 1});
  expect_ticks(log_ticks(3, 70), {2, 5, 10, 20, 50, 100});
  expect_ticks(log_ticks(10, 10), {5, 10, 20});
  EXPECT_LIEQ_ERROR(log_ticks(0, 1), "positive");
  EXPECT_LIEQ_ERROR(log_ticks(-1, 1), "positive");
}

TEST(SvgFormatNumber, Compact) {
  EXPECT_EQ(format_number(0), "0");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(0.25), "0.25");
  EXPECT_EQ(format_number(-0.5), "-0.5");
  EXPECT_EQ(format_number(0.1 + 0.2), "0.3");
  EXPECT_EQ(format_number(1.5e-3), "1.5e-3");
  EXPECT_EQ(format_number(-2.5e-7), "-2.5e-7");
  EXPECT_EQ(format_number(0.01), "0.01");
  EXPECT_EQ(format_number(1500), "1500");
  EXPECT_EQ(format_number(12000), "12k");
  EXPECT_EQ(format_number(12345), "12.345k");
  EXPECT_EQ(format_number(12345, 3), "12.3k");
  EXPECT_EQ(format_number(2.5e6), "2.5M");
  EXPECT_EQ(format_number(999999.9), "1M");
  EXPECT_EQ(format_number(9999.999, 4), "10k");
  EXPECT_EQ(format_number(4e9), "4G");
  EXPECT_EQ(format_number(3e20), "3e20");
  EXPECT_EQ(format_number(10.8765432), "10.8765");
  EXPECT_EQ(format_number(kNaN), "NaN");
  EXPECT_EQ(format_number(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(SvgEscape, FiveCharactersAndControls) {
  EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(xml_escape(std::string("x\x01y\tz", 5)), "xy\tz");
  EXPECT_EQ(xml_escape("µ→"), "µ→");
}

TEST(SvgPalette, DistinctColours) {
  std::set<std::string> series;
  for (size_t i = 0; i < series_palette_size(); ++i) series.insert(series_color(i));
  EXPECT_GE(series.size(), 8u);
  EXPECT_EQ(series.size(), series_palette_size());
  EXPECT_STREQ(series_color(series_palette_size()), series_color(0));
  std::set<std::string> bits;
  for (int b : {2, 3, 4, 5, 6, 8, 16}) bits.insert(bit_color(b));
  EXPECT_EQ(bits.size(), 7u);
  EXPECT_EQ(bits.count(bit_color(7)), 0u);
}

// ---------------------------------------------------------------- bar chart

BarChart small_bar_chart() {
  BarChart ch;
  ch.title = "Layer scores";
  ch.x_label = "layer";
  ch.y_label = "score";
  ch.categories = {"L0", "L1", "L2", "L3"};
  ch.series = {{"lieq", {0.5, 0.25, 0.75, 1.0}}, {"lim", {0.1, kNaN, 0.3, 0.2}}, {"zd", {0.9, 0.8, 0.7, 0.6}}};
  return ch;
}

TEST(SvgBarChart, OneRectPerBarLegendAndLabels) {
  const BarChart ch = small_bar_chart();
  const XmlDoc d = parse_svg(render_bar_chart(ch));
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(d.elements[1].text, "Layer scores");
  EXPECT_EQ(select(d, "rect", "bar").size(), 4u * 3u - 1u);  // the NaN bar is missing
  for (const char* s : {"lieq", "lim", "zd", "layer", "score", "Layer scores", "L0", "L3"})
    EXPECT_TRUE(has_text(d, s)) << s;
  EXPECT_EQ(select(d, "rect", "legend-swatch").size(), 3u);
  // 4 to 6 y ticks (grid lines), labelled with compact numbers.
  const size_t grid = select(d, "line", "grid").size();
  EXPECT_GE(grid, 4u);
  EXPECT_LE(grid, 6u);
  EXPECT_TRUE(has_text(d, "0.25"));
  // Series colours follow the palette; bars of one series share it.
  for (const Element* e : select(d, "rect", "bar")) {
    const std::string& fill = e->attrs.at("fill");
    EXPECT_TRUE(fill == series_color(0) || fill == series_color(1) || fill == series_color(2)) << fill;
  }
}

TEST(SvgBarChart, BarHeightsAreProportionalAndNegativeBarsHangBelowZero) {
  BarChart ch;
  ch.title = "signed";
  ch.categories = {"a", "b", "c", "d"};
  ch.series = {{"s1", {4, -2, 1, kNaN}}, {"s2", {-1, 3, 0, -4}}};
  const XmlDoc d = parse_svg(render_bar_chart(ch));
  ASSERT_EQ(d.error, "");
  const std::vector<const Element*> zero = select(d, "line", "zero-line");
  ASSERT_EQ(zero.size(), 1u);
  const double y0 = zero[0]->num("y1");
  EXPECT_EQ(zero[0]->num("y2"), y0);
  const std::vector<const Element*> bars = select(d, "rect", "bar");
  // Bars come series by series, categories in order, NaN skipped.
  std::vector<double> values;
  for (const BarChart::Series& s : ch.series)
    for (double v : s.values)
      if (!std::isnan(v)) values.push_back(v);
  ASSERT_EQ(bars.size(), values.size());
  double px_per_unit = 0;
  for (size_t i = 0; i < bars.size(); ++i) {
    const double y = bars[i]->num("y"), h = bars[i]->num("height");
    EXPECT_GE(h, 0);
    if (values[i] < 0) {
      EXPECT_GE(y, y0 - 0.01) << "negative bar " << i << " starts at the zero line";
    } else {
      EXPECT_NEAR(y + h, y0, 0.02) << "positive bar " << i << " ends at the zero line";
    }
    if (values[i] == 4) px_per_unit = h / 4;
  }
  ASSERT_GT(px_per_unit, 0);
  for (size_t i = 0; i < bars.size(); ++i)
    EXPECT_NEAR(bars[i]->num("height"), std::fabs(values[i]) * px_per_unit, 0.05) << i;
  // The zero line lies strictly inside the plot: ticks on both sides of 0.
  EXPECT_TRUE(has_text(d, "-4") || has_text(d, "-5"));
}

TEST(SvgBarChart, ManyCategoriesRotateLabelsAndWidenTheChart) {
  BarChart ch;
  ch.title = "36 layers";
  for (int i = 0; i < 36; ++i) ch.categories.push_back("L" + std::to_string(i));
  ch.series = {{"", std::vector<double>(36, 1.0)}};
  for (size_t i = 0; i < 36; ++i) ch.series[0].values[i] = 0.1 * double(i);
  const XmlDoc d = parse_svg(render_bar_chart(ch));
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(select(d, "rect", "bar").size(), 36u);
  EXPECT_EQ(select(d, "rect", "legend-swatch").size(), 0u) << "no legend for one unnamed series";
  size_t rotated = 0;
  for (const Element* e : select(d, "text"))
    if (e->text.size() >= 2 && e->text[0] == 'L' && e->attrs.count("transform") &&
        e->attrs.at("transform").find("rotate(-45") == 0)
      ++rotated;
  EXPECT_EQ(rotated, 36u);
  const double wide = d.elements[0].num("width");

  ch.categories.resize(8);
  ch.series[0].values.resize(8);
  const XmlDoc narrow = parse_svg(render_bar_chart(ch));
  ASSERT_EQ(narrow.error, "");
  EXPECT_LT(narrow.elements[0].num("width"), wide);
  for (const Element* e : select(narrow, "text")) EXPECT_EQ(e->attrs.count("transform") && e->text == "L3", false);

  ch.width = 500;
  const XmlDoc fixed = parse_svg(render_bar_chart(ch));
  ASSERT_EQ(fixed.error, "");
  EXPECT_EQ(fixed.elements[0].attrs.at("width"), "500");
  EXPECT_EQ(fixed.elements[0].attrs.at("height"), "360");
}

TEST(SvgBarChart, EscapesTitleAndNames) {
  BarChart ch = small_bar_chart();
  ch.title = "a <&> \"b\" 'c'";
  ch.series[0].name = "x<y";
  ch.categories[0] = "L&0";
  const std::string svg = render_bar_chart(ch);
  EXPECT_NE(svg.find("a &lt;&amp;&gt; &quot;b&quot; &apos;c&apos;"), std::string::npos);
  EXPECT_EQ(svg.find("<&>"), std::string::npos);
  const XmlDoc d = parse_svg(svg);
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(d.elements[1].text, ch.title);
  EXPECT_TRUE(has_text(d, ch.title));
  EXPECT_TRUE(has_text(d, "x<y"));
  EXPECT_TRUE(has_text(d, "L&0"));
}

TEST(SvgBarChart, TickLabelsShareTheThousandsSuffix) {
  BarChart ch;
  ch.categories = {"a", "b"};
  ch.series = {{"s", {15000, -3400}}};
  const XmlDoc d = parse_svg(render_bar_chart(ch));
  ASSERT_EQ(d.error, "");
  for (const char* t : {"-5k", "0", "5k", "10k", "15k"}) EXPECT_TRUE(has_text(d, t)) << t;
  EXPECT_FALSE(has_text(d, "5000"));
}

TEST(SvgBarChart, AllZeroOrMissingValuesStillRender) {
  BarChart ch;
  ch.categories = {"a", "b"};
  ch.series = {{"z", {0, 0}}, {"n", {kNaN, kNaN}}};
  const XmlDoc d = parse_svg(render_bar_chart(ch));
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(select(d, "rect", "bar").size(), 2u);
}

TEST(SvgBarChart, RejectsInvalidInput) {
  BarChart ch = small_bar_chart();
  ch.series[1].values.pop_back();
  EXPECT_LIEQ_ERROR(render_bar_chart(ch), "series 'lim' has 3 values for 4 categories");
  ch = small_bar_chart();
  ch.series[2].values[1] = std::numeric_limits<double>::infinity();
  EXPECT_LIEQ_ERROR(render_bar_chart(ch), "'zd'", "'L1'", "infinite");
  ch = small_bar_chart();
  ch.categories.clear();
  for (auto& s : ch.series) s.values.clear();
  EXPECT_LIEQ_ERROR(render_bar_chart(ch), "no categories");
  ch = small_bar_chart();
  ch.series.clear();
  EXPECT_LIEQ_ERROR(render_bar_chart(ch), "no series");
  ch = small_bar_chart();
  ch.width = 120;
  EXPECT_LIEQ_ERROR(render_bar_chart(ch), "no room");
  ch = small_bar_chart();
  ch.height = 10;
  EXPECT_LIEQ_ERROR(render_bar_chart(ch), "too small");
}

// ---------------------------------------------------------------- line chart

LineChart small_line_chart() {
  LineChart ch;
  ch.title = "Perplexity vs bits";
  ch.x_label = "bits per weight";
  ch.y_label = "perplexity";
  ch.series = {{"lieq", {2.25, 2.5, 3, 4}, {30, 18, 14, 12.5}},
               {"uniform", {2.25, 2.5, 3, 4}, {80, kNaN, 20, 12.6}},
               {"positional", {2.25, 3, 4}, {45, 16, 12.55}}};
  return ch;
}

TEST(SvgLineChart, OnePathPerSeriesMarkersLegendAndLabels) {
  const LineChart ch = small_line_chart();
  const XmlDoc d = parse_svg(render_line_chart(ch));
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(d.elements[1].text, "Perplexity vs bits");
  const std::vector<const Element*> paths = select(d, "path", "series");
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(select(d, "circle", "marker").size(), 4u + 3u + 3u);  // the NaN point is skipped
  for (const char* s : {"lieq", "uniform", "positional", "bits per weight", "perplexity"})
    EXPECT_TRUE(has_text(d, s)) << s;
  // The NaN point breaks the second line into two pieces.
  const std::string& d1 = paths[1]->attrs.at("d");
  EXPECT_EQ(std::count(d1.begin(), d1.end(), 'M'), 2);
  EXPECT_EQ(std::count(d1.begin(), d1.end(), 'L'), 1);
  const std::string& d0 = paths[0]->attrs.at("d");
  EXPECT_EQ(std::count(d0.begin(), d0.end(), 'M'), 1);
  EXPECT_EQ(std::count(d0.begin(), d0.end(), 'L'), 3);
  EXPECT_NE(paths[0]->attrs.at("stroke"), paths[1]->attrs.at("stroke"));
  // Nice ticks on x: 2, 2.5, ..., 4.
  EXPECT_TRUE(has_text(d, "2.5"));
  EXPECT_TRUE(has_text(d, "4"));
}

TEST(SvgLineChart, MarkersFollowTheData) {
  LineChart ch;
  ch.series = {{"s", {0, 1, 2}, {0, 10, 5}}};
  const XmlDoc d = parse_svg(render_line_chart(ch));
  ASSERT_EQ(d.error, "");
  const std::vector<const Element*> m = select(d, "circle", "marker");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_LT(m[0]->num("cx"), m[1]->num("cx"));
  EXPECT_LT(m[1]->num("cx"), m[2]->num("cx"));
  EXPECT_LT(m[1]->num("cy"), m[2]->num("cy"));  // larger y is higher up
  EXPECT_LT(m[2]->num("cy"), m[0]->num("cy"));
  EXPECT_NEAR(m[0]->num("cy") - m[2]->num("cy"), m[2]->num("cy") - m[1]->num("cy"), 0.02);  // linear
}

TEST(SvgLineChart, LogScale) {
  LineChart ch;
  ch.title = "KL divergence";
  ch.log_y = true;
  ch.series = {{"kld", {2, 3, 4, 5}, {2.0, 0.1, 5e-3, 1e-3}}};
  const XmlDoc d = parse_svg(render_line_chart(ch));
  ASSERT_EQ(d.error, "");
  for (const char* t : {"1e-3", "0.01", "0.1", "1", "10"}) EXPECT_TRUE(has_text(d, t)) << t;
  const std::vector<const Element*> m = select(d, "circle", "marker");
  ASSERT_EQ(m.size(), 4u);
  // Equal ratios are equal distances: 2 -> 0.1 is log10(20), 5e-3 -> 1e-3 is log10(5).
  const double px_per_decade = (m[1]->num("cy") - m[0]->num("cy")) / std::log10(20.0);
  EXPECT_NEAR(m[3]->num("cy") - m[2]->num("cy"), px_per_decade * std::log10(5.0), 0.05);
}

TEST(SvgLineChart, LogScaleRejectsNonPositiveY) {
  LineChart ch;
  ch.log_y = true;
  ch.series = {{"a", {1, 2, 3}, {1, 0, 2}}};
  EXPECT_LIEQ_ERROR(render_line_chart(ch), "series 'a' point 1", "log scale");
  ch.series[0].y = {1, 2, -3};
  EXPECT_LIEQ_ERROR(render_line_chart(ch), "point 2", "log scale");
  ch.series[0].y = {1, kNaN, 3};  // NaN is skipped, not rejected
  EXPECT_EQ(parse_xml(render_line_chart(ch)).error, "");
  ch.log_y = false;
  ch.series[0].y = {1, 0, -3};
  EXPECT_EQ(parse_xml(render_line_chart(ch)).error, "");
}

TEST(SvgLineChart, RejectsInvalidInput) {
  LineChart ch = small_line_chart();
  ch.series[2].y.push_back(1);
  EXPECT_LIEQ_ERROR(render_line_chart(ch), "series 'positional' has 3 x values and 4 y values");
  ch = small_line_chart();
  ch.series[0].x[1] = -std::numeric_limits<double>::infinity();
  EXPECT_LIEQ_ERROR(render_line_chart(ch), "'lieq' point 1 is infinite");
  ch = small_line_chart();
  ch.series.clear();
  EXPECT_LIEQ_ERROR(render_line_chart(ch), "no series");
  ch = small_line_chart();
  ch.width = 50;
  EXPECT_LIEQ_ERROR(render_line_chart(ch), "too small");
}

TEST(SvgLineChart, EmptyAndSinglePointSeries) {
  LineChart ch;
  ch.series = {{"empty", {}, {}}, {"one", {3}, {7}}};
  const XmlDoc d = parse_svg(render_line_chart(ch));
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(select(d, "path", "series").size(), 2u);
  EXPECT_EQ(select(d, "circle", "marker").size(), 1u);
  ch.series = {{"nan", {kNaN}, {1}}};
  ch.log_y = true;
  EXPECT_EQ(parse_xml(render_line_chart(ch)).error, "");
}

// ---------------------------------------------------------------- plan chart

TEST(SvgPlanChart, CellsNumbersLayerIndicesAndLegend) {
  PlanChart ch;
  ch.title = "Bit plans <2.75 bpw>";
  ch.rows = {"lieq", "positional", "uniform"};
  ch.bits.assign(3, std::vector<int>(36, 2));
  for (size_t l = 0; l < 36; ++l) {
    ch.bits[0][l] = l % 3 == 0 ? 4 : 2;
    ch.bits[1][l] = l < 4 || l >= 32 ? 8 : (l % 5 == 0 ? 6 : 3);
    ch.bits[2][l] = l == 7 ? 5 : 2;
  }
  const XmlDoc d = parse_svg(render_plan_chart(ch));
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(d.elements[1].text, ch.title);
  const std::vector<const Element*> cells = select(d, "rect", "cell");
  const std::vector<const Element*> labels = select(d, "text", "cell-label");
  ASSERT_EQ(cells.size(), 3u * 36u);
  ASSERT_EQ(labels.size(), 3u * 36u);
  for (size_t r = 0; r < 3; ++r)
    for (size_t l = 0; l < 36; ++l) {
      const size_t i = r * 36 + l;
      EXPECT_EQ(labels[i]->text, std::to_string(ch.bits[r][l])) << r << " " << l;
      EXPECT_EQ(cells[i]->attrs.at("fill"), bit_color(ch.bits[r][l]));
    }
  // Cells of a row share y and step along x.
  EXPECT_EQ(cells[0]->num("y"), cells[35]->num("y"));
  EXPECT_LT(cells[0]->num("x"), cells[1]->num("x"));
  EXPECT_LT(cells[0]->num("y"), cells[36]->num("y"));
  for (const std::string& row : ch.rows) EXPECT_TRUE(has_text(d, row)) << row;
  for (int l : {0, 9, 35}) EXPECT_TRUE(has_text(d, std::to_string(l))) << l;
  const std::vector<const Element*> swatches = select(d, "rect", "legend-swatch");
  EXPECT_EQ(swatches.size(), 6u);  // 2, 3, 4, 5, 6, 8
  for (int b : {2, 3, 4, 5, 6, 8}) EXPECT_TRUE(has_text(d, std::to_string(b) + "-bit")) << b;
  EXPECT_FALSE(has_text(d, "16-bit"));
}

TEST(SvgPlanChart, LegendNamesEachWidthsFormat) {
  PlanChart ch;
  ch.title = "GGUF plan";
  ch.rows = {"lieq"};
  ch.bits = {{2, 4, 2}};
  ch.formats = {{2, "Q2_K"}, {4, "Q4_K"}};
  const XmlDoc d = parse_svg(render_plan_chart(ch));
  ASSERT_EQ(d.error, "");
  std::vector<std::string> legend;
  for (const Element& e : d.elements)
    if (e.name == "text" && e.text.find("-bit") != std::string::npos) legend.push_back(e.text);
  EXPECT_EQ(legend, (std::vector<std::string>{"2-bit, Q2_K", "4-bit, Q4_K"}));
  const std::vector<const Element*> cells = select(d, "rect", "cell");
  ASSERT_EQ(cells.size(), 3u);
  const std::string svg = render_plan_chart(ch);
  EXPECT_NE(svg.find("lieq / layer 1: 4 bits, Q4_K"), std::string::npos);
}

TEST(SvgPlanChart, RejectsInvalidInput) {
  PlanChart ch;
  ch.rows = {"a", "b"};
  ch.bits = {{2, 4, 4}, {2, 4}};
  EXPECT_LIEQ_ERROR(render_plan_chart(ch), "row 'b' has 2 layers, row 'a' has 3");
  ch.bits = {{2, 4, 4}};
  EXPECT_LIEQ_ERROR(render_plan_chart(ch), "2 row names for 1 rows");
  ch.bits = {{2, -1}, {2, 4}};
  EXPECT_LIEQ_ERROR(render_plan_chart(ch), "row 'a' layer 1 has -1 bits");
  ch.bits = {{}, {}};
  EXPECT_LIEQ_ERROR(render_plan_chart(ch), "no layers");
  ch.rows.clear();
  ch.bits.clear();
  EXPECT_LIEQ_ERROR(render_plan_chart(ch), "no rows");
}

}  // namespace
}  // namespace lieq
