#pragma once
// Charts for report.html, drawn by gnuplot (`set terminal svg`) from a small description.
// The script is built without I/O (testable); rendering runs one gnuplot process for all
// charts, with the script and data in a private temporary directory.

#include <string>
#include <utility>
#include <vector>

namespace virtbench {

struct ChartSpec {
  enum class Type {
    bars_with_ci, // one bar per category with a low–high whisker (ci)
    clustered,    // per category, one bar per series side by side
    stacked,      // per category, the series stacked on one bar
    lines_with_ci, // one line per series over the categories (x), each point with a low–high whisker
  };
  Type type = Type::bars_with_ci;
  std::string title;
  std::string ylabel;
  std::vector<std::string> categories;     // x axis
  std::vector<std::string> series;         // clustered/stacked: one entry per bar part
  std::vector<std::vector<double>> values; // [category][series]; bars_with_ci: one series
  std::vector<std::pair<double, double>> ci; // bars_with_ci: [category] → (low, high)
  std::vector<std::vector<std::pair<double, double>>> series_ci; // lines_with_ci: [category][series] → (low, high)
  std::string xlabel;                                            // lines_with_ci: the axis
  bool log_y = false;
};

// The gnuplot commands that draw `chart` as SVG into `output` (a file path).
std::string gnuplot_script(const ChartSpec& chart, const std::string& output);

// Renders every chart to an SVG document (without the XML prolog, ready to inline);
// ids inside each are prefixed so several can share one page. Throws Error naming the
// gnuplot command and its stderr when gnuplot is missing or fails.
std::vector<std::string> render_svg_charts(const std::vector<ChartSpec>& charts);

} // namespace virtbench
