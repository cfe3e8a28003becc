#pragma once
// A report as a list of blocks (headings, paragraphs, lists, tables, charts), built once
// from an Analysis and rendered as Markdown or as self-contained HTML, so the two carry
// the same content. Inline text may use Markdown's `code` and **bold** only.

#include "charts.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <utility>
#include <vector>

namespace virtbench {

struct ReportTable {
  std::vector<std::string> header;
  std::string align; // one char per column: 'l' or 'r'
  std::vector<std::vector<std::string>> rows;
};

struct ReportBlock {
  enum class Kind { heading, paragraph, bullets, table, chart };
  Kind kind = Kind::paragraph;
  int level = 2;                  // heading level
  std::string text;               // heading or paragraph text
  std::vector<std::string> items; // bullets
  ReportTable table;
  ChartSpec chart; // rendered only in HTML
};

using ReportDoc = std::vector<ReportBlock>;

inline ReportBlock heading(std::string text, int level = 2) {
  ReportBlock b;
  b.kind = ReportBlock::Kind::heading;
  b.level = level;
  b.text = std::move(text);
  return b;
}

inline ReportBlock paragraph(std::string text) {
  ReportBlock b;
  b.kind = ReportBlock::Kind::paragraph;
  b.text = std::move(text);
  return b;
}

inline ReportBlock bullets(std::vector<std::string> items) {
  ReportBlock b;
  b.kind = ReportBlock::Kind::bullets;
  b.items = std::move(items);
  return b;
}

inline ReportBlock table(ReportTable t) {
  ReportBlock b;
  b.kind = ReportBlock::Kind::table;
  b.table = std::move(t);
  return b;
}

inline ReportBlock chart(ChartSpec c) {
  ReportBlock b;
  b.kind = ReportBlock::Kind::chart;
  b.chart = std::move(c);
  return b;
}

// The whole report for a results document.
ReportDoc build_report(const boost::json::object& results);

std::string render_markdown_doc(const ReportDoc& doc);

// HTML with every chart rendered by gnuplot as inline SVG. A chart that cannot be
// rendered (gnuplot missing or failing) becomes a visible note, and the reason is
// appended to `warnings`.
std::string render_html_doc(const ReportDoc& doc, const std::string& title, std::vector<std::string>& warnings);

} // namespace virtbench
