// Self-contained HTML reports: one file with inline CSS and inline SVG charts,
// no scripts and no external resources, every text HTML-escaped. The
// comparison report (`lieq compare`) has the settings, the results table, the
// layer diagnostics chart, the bit plan of each allocator at each target, and
// perplexity / accuracy / KL divergence against bits per weight per method.
//
// Elements carry classes for inspection: table "settings" and "results"
// (rows "baseline" and "group-start"), <figure class="chart"> around each SVG,
// sections with ids "results", "diagnostics", "plans", "ppl", "accuracy", "kld".
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "report/results_table.h"

namespace lieq {

// Escapes & < > " ' for HTML text and attribute values; drops control
// characters other than tab and newline.
std::string html_escape(std::string_view s);

// An SVG document (as the render_* functions of svg_chart.h return) ready to
// be placed inside HTML: the XML declaration removed.
std::string inline_svg(std::string_view svg_document);

struct HtmlFigure {
  std::string svg;      // a complete SVG document
  std::string caption;  // plain text (escaped on output)
};

struct HtmlSection {
  std::string id, heading;  // plain text
  std::string note;         // plain text paragraph under the heading (optional)
  std::string html;         // trusted HTML placed after the note (e.g. a table)
  std::vector<HtmlFigure> figures;
};

struct HtmlPage {
  std::string title;                                       // plain text
  std::vector<std::pair<std::string, std::string>> facts;  // plain text: a settings table
  std::vector<HtmlSection> sections;
  std::string footer;  // plain text
};
std::string render_html_page(const HtmlPage& page);

// <table class="results"> of results_table(r), every cell escaped.
std::string results_table_html(const ComparisonResults& r);

// The whole comparison report. diagnostics_svg: the per-layer diagnostics
// chart (empty: the section is left out).
std::string comparison_html(const ComparisonResults& r, const std::string& diagnostics_svg);

}  // namespace lieq
