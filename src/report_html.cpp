// report.html: the report's blocks as one self-contained page (inline CSS, inline SVG
// charts; nothing loaded from the network).
#include "report.hpp"
#include "report_doc.hpp"

#include "util/fs.hpp"

#include <fmt/format.h>

namespace virtbench {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    default: out += c;
    }
  }
  return out;
}

// Escapes text and turns Markdown's `code` and **bold** into elements.
std::string inline_html(const std::string& text) {
  std::string out;
  bool code = false, bold = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '`') {
      out += code ? "</code>" : "<code>";
      code = !code;
    } else if (!code && text.compare(i, 2, "**") == 0) {
      // **noisy** is a warning; other bold text is emphasis.
      out += bold ? "</strong>" : text.compare(i + 2, 7, "noisy**") == 0 ? "<strong class=\"noisy\">" : "<strong>";
      bold = !bold;
      ++i;
    } else {
      out += escape(std::string(1, text[i]));
    }
  }
  if (code)
    out += "</code>";
  if (bold)
    out += "</strong>";
  return out;
}

const char* k_style = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; display: block; overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; }
th { background: #f4f4f4; } td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
code { background: #f2f2f2; padding: 0 0.2rem; border-radius: 3px; }
strong.noisy { color: #b00; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid #e4e4e4; padding: 0.25rem; }
figure svg { width: 100%; height: auto; display: block; }
.note { color: #a60; }
)";

} // namespace

std::string render_html_doc(const ReportDoc& doc, const std::string& title, std::vector<std::string>& warnings) {
  std::vector<ChartSpec> specs;
  for (auto& b : doc)
    if (b.kind == ReportBlock::Kind::chart)
      specs.push_back(b.chart);
  std::vector<std::string> svgs;
  std::string chart_error;
  try {
    svgs = render_svg_charts(specs);
  } catch (const std::exception& e) {
    chart_error = e.what();
    warnings.push_back(chart_error);
  }

  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + escape(title) + "</title>\n<style>" + std::string(k_style) + "</style>\n</head>\n<body>\n";
  std::size_t chart_index = 0;
  bool in_charts = false;
  auto close_charts = [&] {
    if (in_charts)
      h += "</div>\n";
    in_charts = false;
  };
  for (auto& b : doc) {
    if (b.kind != ReportBlock::Kind::chart)
      close_charts();
    switch (b.kind) {
    case ReportBlock::Kind::heading:
      h += fmt::format("<h{0}>{1}</h{0}>\n", b.level, inline_html(b.text));
      break;
    case ReportBlock::Kind::paragraph:
      h += "<p>" + inline_html(b.text) + "</p>\n";
      break;
    case ReportBlock::Kind::bullets:
      h += "<ul>\n";
      for (auto& i : b.items)
        h += "<li>" + inline_html(i) + "</li>\n";
      h += "</ul>\n";
      break;
    case ReportBlock::Kind::table: {
      auto& t = b.table;
      auto cls = [&](std::size_t i) { return i < t.align.size() && t.align[i] == 'r' ? " class=\"r\"" : ""; };
      h += "<table>\n<thead><tr>";
      for (std::size_t i = 0; i < t.header.size(); ++i)
        h += fmt::format("<th{}>{}</th>", cls(i), inline_html(t.header[i]));
      h += "</tr></thead>\n<tbody>\n";
      for (auto& row : t.rows) {
        h += "<tr>";
        for (std::size_t i = 0; i < row.size(); ++i)
          h += fmt::format("<td{}>{}</td>", cls(i), inline_html(row[i]));
        h += "</tr>\n";
      }
      h += "</tbody>\n</table>\n";
      break;
    }
    case ReportBlock::Kind::chart:
      if (!in_charts)
        h += "<div class=\"charts\">\n";
      in_charts = true;
      if (chart_index < svgs.size())
        h += "<figure>\n" + svgs[chart_index] + "\n</figure>\n";
      else
        h += "<figure><p class=\"note\">Chart \"" + escape(b.chart.title) + "\" not drawn: " + escape(chart_error) +
             "</p></figure>\n";
      ++chart_index;
      break;
    }
  }
  close_charts();
  h += "</body>\n</html>\n";
  return h;
}

std::string render_html(const boost::json::object& results, std::vector<std::string>& warnings) {
  auto doc = build_report(results);
  std::string title = "virtbench report";
  if (!doc.empty() && doc.front().kind == ReportBlock::Kind::heading) {
    title.clear();
    for (char c : doc.front().text)
      if (c != '`')
        title += c;
  }
  return render_html_doc(doc, title, warnings);
}

void write_extra_reports(const std::filesystem::path& out_dir, const boost::json::object& results,
                         const std::function<void(const std::string&)>& log) noexcept {
  auto warn = [&](const std::string& what) {
    if (log)
      log("warning: " + what);
  };
  try {
    std::vector<std::string> warnings;
    write_file_atomic(out_dir / "report.html", render_html(results, warnings));
    for (auto& w : warnings)
      warn("report.html: " + w);
  } catch (const std::exception& e) {
    warn(std::string("report.html not written: ") + e.what());
  }
  try {
    write_file_atomic(out_dir / "report.csv", render_csv(results));
  } catch (const std::exception& e) {
    warn(std::string("report.csv not written: ") + e.what());
  }
}

} // namespace virtbench
