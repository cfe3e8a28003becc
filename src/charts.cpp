#include "charts.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace virtbench {

namespace {

// Colours that stay apart for colour-blind readers (Tableau 10).
const std::vector<std::string> k_palette = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948"};

// A gnuplot double-quoted string (the terminal is noenhanced, so only \ and " matter).
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

std::string value(double v, bool log_y) {
  if (!std::isfinite(v) || (log_y && v <= 0))
    return "NaN";
  return fmt::format("{:.6g}", v);
}

// Replaces every id and its references with a per-chart prefixed one.
std::string prefix_ids(std::string svg, const std::string& prefix) {
  for (const char* pattern : {"id='", "id=\"", "href='#", "href=\"#", "url(#"}) {
    std::string from = pattern, to = from + prefix;
    for (auto pos = svg.find(from); pos != std::string::npos; pos = svg.find(from, pos + to.size()))
      svg.replace(pos, from.size(), to);
  }
  return svg;
}

} // namespace

std::string gnuplot_script(const ChartSpec& c, const std::string& output) {
  std::string s;
  s += "reset\n";
  s += "set terminal svg size 600,400 dynamic noenhanced font \"sans,15\" background \"white\"\n";
  s += "set output " + quoted(output) + "\n";
  s += "set datafile missing \"NaN\"\n";
  s += "set title " + quoted(c.title) + "\n";
  s += "set ylabel " + quoted(c.ylabel) + "\n";
  s += "set grid ytics lc rgb \"#dddddd\"\n";
  s += "set border 3\nset xtics nomirror scale 0\nset ytics nomirror\n";
  s += "set style fill solid 0.85 border rgb \"#333333\"\n";
  s += "$data << EOD\n";
  for (std::size_t i = 0; i < c.categories.size(); ++i) {
    s += quoted(c.categories[i]);
    if (c.type == ChartSpec::Type::lines_with_ci) {
      for (std::size_t j = 0; j < c.series.size(); ++j) {
        double v = i < c.values.size() && j < c.values[i].size() ? c.values[i][j] : NAN;
        auto ci = i < c.series_ci.size() && j < c.series_ci[i].size() ? c.series_ci[i][j] : std::pair{v, v};
        s += " " + value(v, c.log_y) + " " + value(ci.first, c.log_y) + " " + value(ci.second, c.log_y);
      }
      s += "\n";
      continue;
    }
    if (i < c.values.size())
      for (double v : c.values[i])
        s += " " + value(v, c.log_y);
    if (c.type == ChartSpec::Type::bars_with_ci && i < c.ci.size())
      s += " " + value(c.ci[i].first, false) + " " + value(c.ci[i].second, false);
    s += "\n";
  }
  s += "EOD\n";
  if (c.log_y) {
    double lowest = std::numeric_limits<double>::infinity();
    for (auto& row : c.values)
      for (double v : row)
        if (std::isfinite(v) && v > 0)
          lowest = std::min(lowest, v);
    s += "set logscale y\n";
    if (std::isfinite(lowest))
      s += fmt::format("set yrange [{:.6g}:*]\n", std::pow(10, std::floor(std::log10(lowest))));
  } else {
    s += "set yrange [0:*]\n";
  }
  switch (c.type) {
  case ChartSpec::Type::lines_with_ci: {
    s += "set key outside top center horizontal samplen 2\n";
    if (!c.xlabel.empty())
      s += "set xlabel " + quoted(c.xlabel) + "\n";
    s += "set xrange [-0.4:" + fmt::format("{}", c.categories.size() - 0.6) + "]\n";
    s += "set offsets 0, 0, graph 0.05, 0\n";
    s += "plot ";
    for (std::size_t j = 0; j < c.series.size(); ++j) {
      // Each line a little apart from the others, so the whiskers do not hide each other.
      double shift = c.series.size() > 1 ? (static_cast<double>(j) - (c.series.size() - 1) / 2.0) * 0.06 : 0;
      s += j == 0 ? "$data" : ", \\\n     ''";
      s += fmt::format(" using ($0{:+.3f}):{}:{}:{}{} with yerrorlines title {} lc rgb \"{}\" lw 2 pt 7", shift,
                       2 + 3 * j, 3 + 3 * j, 4 + 3 * j, j == 0 ? ":xtic(1)" : "", quoted(c.series[j]),
                       k_palette[j % k_palette.size()]);
    }
    s += "\n";
    break;
  }
  case ChartSpec::Type::bars_with_ci:
    s += "unset key\nset boxwidth 0.6\nset xrange [-0.6:" + fmt::format("{}", c.categories.size() - 0.4) + "]\n";
    s += "plot $data using 0:2:($0+1):xtic(1) with boxes lc variable, \\\n"
         "     '' using 0:2:3:4 with yerrorbars lc rgb \"black\" lw 1.5 pt 7 ps 0\n";
    break;
  case ChartSpec::Type::clustered:
  case ChartSpec::Type::stacked:
    s += "set key outside top center horizontal samplen 1.5\n";
    s += "set style data histograms\n";
    s += c.type == ChartSpec::Type::clustered ? "set style histogram clustered gap 1\n" : "set style histogram rowstacked\n";
    s += "set boxwidth " + std::string(c.type == ChartSpec::Type::clustered ? "0.9" : "0.6") + "\n";
    if (c.type == ChartSpec::Type::stacked)
      s += "set xtics rotate by -20\n";
    s += "plot ";
    for (std::size_t j = 0; j < c.series.size(); ++j) {
      s += j == 0 ? "$data" : ", \\\n     ''";
      s += fmt::format(" using {}{} title {} lc rgb \"{}\"", j + 2, j == 0 ? ":xtic(1)" : "", quoted(c.series[j]),
                       k_palette[j % k_palette.size()]);
    }
    s += "\n";
    break;
  }
  return s;
}

std::vector<std::string> render_svg_charts(const std::vector<ChartSpec>& charts) {
  std::vector<std::string> svgs;
  if (charts.empty())
    return svgs;
  TempDir dir(runtime_parent_dir(), "charts-");
  std::string script;
  // Variable colours for bars_with_ci come from the linetypes.
  for (std::size_t i = 0; i < k_palette.size(); ++i)
    script += fmt::format("set linetype {} lc rgb \"{}\"\n", i + 1, k_palette[i]);
  for (std::size_t i = 0; i < charts.size(); ++i) {
    auto s = gnuplot_script(charts[i], (dir.path() / fmt::format("chart{}.svg", i)).string());
    script += s;
    script += "unset output\n";
  }
  write_file_atomic(dir.path() / "charts.gp", script);

  asio::io_context io;
  std::exception_ptr failure;
  ProcessOptions options;
  options.timeout = std::chrono::seconds(120);
  options.cwd = dir.path();
  std::vector<std::string> argv = {"gnuplot", (dir.path() / "charts.gp").string()};
  asio::co_spawn(io, check_process(std::move(argv), options), [&](std::exception_ptr e, ProcessResult) { failure = e; });
  io.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      throw Error(std::string("draw charts with gnuplot: ") + e.what() +
                  " (install gnuplot, e.g. `apt-get install gnuplot-nox`)");
    }
  }
  for (std::size_t i = 0; i < charts.size(); ++i) {
    auto svg = read_file(dir.path() / fmt::format("chart{}.svg", i));
    if (auto start = svg.find("<svg"); start != std::string::npos)
      svg.erase(0, start);
    svgs.push_back(prefix_ids(std::move(svg), fmt::format("c{}_", i)));
  }
  return svgs;
}

} // namespace virtbench
