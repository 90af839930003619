#include "report/html_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <sstream>

#include "report/svg_chart.h"

namespace lieq {

std::string html_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') || c == 0x7f) break;
        o += c;
    }
  }
  return o;
}

std::string inline_svg(std::string_view svg) {
  size_t i = 0;
  while (i < svg.size() && std::isspace(static_cast<unsigned char>(svg[i]))) ++i;
  if (svg.substr(i, 5) == "<?xml") {
    const size_t end = svg.find("?>", i);
    if (end != std::string_view::npos) i = end + 2;
    while (i < svg.size() && std::isspace(static_cast<unsigned char>(svg[i]))) ++i;
  }
  return std::string(svg.substr(i));
}

namespace {
constexpr const char* kCss = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1360px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #eee; }
th { background: #f4f4f4; text-align: left; }
table.settings th { background: none; font-weight: 600; }
table.results td.num, table.results th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.results tr.baseline td { background: #f3f7fb; font-weight: 600; }
table.results tr.group-start td { border-top: 2px solid #999; }
table.results tr.pareto td { background: #eef8ee; }
p.warning { background: #fff4e0; border-left: 4px solid #d08000; padding: 4px 8px; }
p.note { color: #555; font-size: 0.85em; max-width: 60em; }
figure.chart { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; }
figure.chart figcaption { font-size: 0.85em; color: #555; max-width: 640px; }
figure.chart svg { max-width: 100%; height: auto; }
footer { margin-top: 3em; color: #888; font-size: 0.8em; }
)";
}  // namespace

std::string render_html_page(const HtmlPage& page) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
     << "<title>" << html_escape(page.title) << "</title>\n<style>" << kCss << "</style>\n"
     << "</head>\n<body>\n<h1>" << html_escape(page.title) << "</h1>\n";
  if (!page.facts.empty()) {
    os << "<table class=\"settings\">\n";
    for (const auto& [k, v] : page.facts)
      os << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>\n";
    os << "</table>\n";
  }
  for (const HtmlSection& s : page.sections) {
    os << "<section id=\"" << html_escape(s.id) << "\">\n<h2>" << html_escape(s.heading)
       << "</h2>\n";
    if (!s.note.empty()) os << "<p class=\"note\">" << html_escape(s.note) << "</p>\n";
    os << s.html;
    for (const HtmlFigure& f : s.figures) {
      os << "<figure class=\"chart\">\n" << inline_svg(f.svg);
      if (!f.caption.empty()) os << "\n<figcaption>" << html_escape(f.caption) << "</figcaption>";
      os << "\n</figure>\n";
    }
    os << "</section>\n";
  }
  if (!page.footer.empty()) os << "<footer>" << html_escape(page.footer) << "</footer>\n";
  os << "</body>\n</html>\n";
  return os.str();
}

std::string results_table_html(const ComparisonResults& r) {
  const ResultsTable t = results_table(r);
  std::ostringstream os;
  os << "<table class=\"results\">\n<thead><tr>";
  for (size_t i = 0; i < t.header.size(); ++i)
    os << (i < t.n_text_columns ? "<th>" : "<th class=\"num\">") << html_escape(t.header[i])
       << "</th>";
  os << "</tr></thead>\n<tbody>\n";
  for (size_t k = 0; k < t.rows.size(); ++k) {
    std::string cls = t.baseline[k] ? "baseline" : "";
    if (t.group_start[k] && !t.baseline[k]) cls += cls.empty() ? "group-start" : " group-start";
    if (k < t.pareto.size() && t.pareto[k]) cls += cls.empty() ? "pareto" : " pareto";
    os << "<tr" << (cls.empty() ? "" : " class=\"" + cls + "\"") << ">";
    for (size_t i = 0; i < t.rows[k].size(); ++i)
      os << (i < t.n_text_columns ? "<td>" : "<td class=\"num\">") << html_escape(t.rows[k][i])
         << "</td>";
    os << "</tr>\n";
  }
  os << "</tbody>\n</table>\n<p class=\"note\">" << html_escape(t.legend) << "</p>\n";
  return os.str();
}

namespace {

template <typename T>
void add_unique(std::vector<T>& v, const T& x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

double finite_or_nan(double v) {
  return std::isfinite(v) ? v : ResultRow::kNone;
}

// One line chart per method: a series per allocator of value(row) against the
// row's real linear bpw, plus the original as a flat reference line.
std::vector<HtmlFigure> per_method_charts(const ComparisonResults& r, const std::string& what,
                                          const std::string& y_label, bool log_y,
                                          const std::function<double(const ResultRow&)>& value,
                                          bool reference) {
  std::vector<std::string> methods, allocators;
  for (const ResultRow& row : r.rows) {
    add_unique(methods, row.method);
    add_unique(allocators, row.allocator);
  }
  std::vector<HtmlFigure> figures;
  for (const std::string& m : methods) {
    LineChart c;
    c.title = what + ": " + m;
    c.x_label = "linear bits per weight (real)";
    c.y_label = y_label;
    c.log_y = log_y;
    double xmin = INFINITY, xmax = -INFINITY;
    bool any = false;
    for (const std::string& a : allocators) {
      std::vector<std::pair<double, double>> pts;
      for (const ResultRow& row : r.rows) {
        if (row.method != m || row.allocator != a) continue;
        double y = finite_or_nan(value(row));
        if (log_y && !(y > 0)) y = ResultRow::kNone;
        pts.push_back({row.linear_bpw, y});
        if (!std::isnan(y)) any = true;
        xmin = std::min(xmin, row.linear_bpw);
        xmax = std::max(xmax, row.linear_bpw);
      }
      if (pts.empty()) continue;
      std::sort(pts.begin(), pts.end());
      LineChart::Series s;
      s.name = a;
      for (const auto& [x, y] : pts) s.x.push_back(x), s.y.push_back(y);
      c.series.push_back(std::move(s));
    }
    if (!any) continue;
    if (reference && r.has_baseline) {
      double y = finite_or_nan(value(r.baseline));
      if (log_y && !(y > 0)) y = ResultRow::kNone;
      if (!std::isnan(y))
        c.series.push_back({"original (" + r.baseline.method + ")", {xmin, xmax}, {y, y}});
    }
    figures.push_back({render_line_chart(c), ""});
  }
  return figures;
}

}  // namespace

std::string comparison_html(const ComparisonResults& r, const std::string& diagnostics_svg) {
  HtmlPage page;
  // The model's name, not its path on this machine (the path is in the facts).
  std::filesystem::path model(r.model);
  if (!model.has_filename()) model = model.parent_path();
  page.title = "lieq compare: " + (model.filename().empty() ? r.model : model.filename().string());
  page.facts = r.settings;
  page.footer = "Generated by lieq compare. Self-contained: inline CSS and SVG, no scripts.";

  if (!r.verdict.empty() || !r.warnings.empty()) {
    // What to pick at each size, first: the question the report answers.
    std::string html = "<ul class=\"verdict\">";
    for (const VerdictLine& v : r.verdict) html += "<li>" + html_escape(v.text) + "</li>";
    html += "</ul>";
    for (const std::string& w : r.warnings)
      html += "<p class=\"warning\"><strong>Warning:</strong> " + html_escape(w) + "</p>";
    page.sections.push_back({"verdict", "Verdict",
                             "By " + pareto_metric_text(r) +
                                 ": the best row at or below each size, and how far the next "
                                 "best is behind (± its standard error).",
                             html,
                             {}});
  }
  HtmlSection results{"results", "Results", "", results_table_html(r), {}};
  page.sections.push_back(results);

  if (!diagnostics_svg.empty())
    page.sections.push_back({"diagnostics",
                             "Layer diagnostics",
                             "Per decoder layer: Perplexity Drop, Representational Compactness and "
                             "Top-k Energy Gain (min-max normalised) and the LieQ score.",
                             "",
                             {{diagnostics_svg, ""}}});

  // Bit plans: one chart per target, a row per allocator.
  std::vector<double> targets;
  for (const ResultRow& row : r.rows) add_unique(targets, row.target_bpw);
  std::sort(targets.begin(), targets.end());
  HtmlSection plans{"plans",
                    "Bit plans",
                    "Bits of each decoder layer's linear weights chosen by each allocator at each "
                    "target (the same plan for every method).",
                    "",
                    {}};
  for (double t : targets) {
    PlanChart pc;
    pc.title = "Bits per decoder layer at target " + bpw_text(t) + " bpw";
    std::vector<std::string> seen;
    for (const ResultRow& row : r.rows) {
      if (row.target_bpw != t || row.layer_bits.empty()) continue;
      if (std::find(seen.begin(), seen.end(), row.allocator) != seen.end()) continue;
      if (!pc.bits.empty() && pc.bits[0].size() != row.layer_bits.size()) continue;
      seen.push_back(row.allocator);
      pc.rows.push_back(row.allocator + " (" + fixed_text(row.linear_bpw, 3) + ")");
      pc.bits.push_back(row.layer_bits);
      for (size_t l = 0; l < row.layer_formats.size(); ++l) pc.formats[row.layer_bits[l]] = row.layer_formats[l];
    }
    if (!pc.rows.empty()) plans.figures.push_back({render_plan_chart(pc), ""});
  }
  if (!plans.figures.empty()) page.sections.push_back(plans);

  HtmlSection ppl{"ppl",
                  "Perplexity against bits per weight",
                  "One chart per method and data file, one line per allocator (log scale); the "
                  "flat line is the original model.",
                  "",
                  {}};
  for (size_t i = 0; i < r.data.size(); ++i) {
    auto value = [i](const ResultRow& row) {
      return i < row.ppl.size() ? row.ppl[i] : ResultRow::kNone;
    };
    for (HtmlFigure& f :
         per_method_charts(r, "Perplexity on " + r.data[i], "perplexity", true, value, true))
      ppl.figures.push_back(std::move(f));
  }
  if (!ppl.figures.empty()) page.sections.push_back(ppl);

  if (!r.tasks.empty()) {
    HtmlSection acc{"accuracy", "Accuracy against bits per weight",
                    "Average zero-shot accuracy (%) over the tasks, one line per allocator; the "
                    "flat line is the original model.",
                    "",
                    per_method_charts(
                        r, "Average accuracy", "accuracy (%)", false,
                        [](const ResultRow& row) { return 100.0 * row.avg_acc; }, true)};
    if (!acc.figures.empty()) page.sections.push_back(acc);
  }
  if (!r.kld_data.empty()) {
    HtmlSection kld{"kld", "KL divergence against bits per weight",
                    "Mean KL divergence (nats per token) of each quantized model's predictions "
                    "from the original's on " +
                        r.kld_data + " (the original is 0).",
                    "",
                    per_method_charts(
                        r, "KL divergence", "mean KLD (nats)", false,
                        [](const ResultRow& row) { return row.kld_mean; }, false)};
    if (!kld.figures.empty()) page.sections.push_back(kld);
  }
  return render_html_page(page);
}

}  // namespace lieq
