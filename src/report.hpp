#pragma once
// Reports rendered from results.json alone (so `virtbench report DIR` can redo them).

#include <boost/json/object.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace virtbench {

// report.md: a summary (per experiment and platform the headline metric with its 95% CI,
// the slowdown versus native with its interval, noisy and outlier flags), then per
// platform and experiment the seed report's table (one column per iteration) with
// statistics columns, then the host/guest user–kernel split and cache drops.
std::string render_markdown(const boost::json::object& results);

// report.html: the same content as one self-contained page with gnuplot SVG charts.
// Charts that could not be drawn become notes in the page and reasons in `warnings`.
std::string render_html(const boost::json::object& results, std::vector<std::string>& warnings);

// report.csv: one row per run record; the columns are k_csv_columns (documented in
// README.md, "results as CSV"); never reordered, only appended to.
std::string render_csv(const boost::json::object& results);
const std::vector<std::string>& csv_columns();
// One CSV field (RFC 4180): quoted, its quotes doubled, when it holds a comma, a quote or a
// line break.
std::string csv_field(const std::string& s);

// After a run: writes DIR/report.html and DIR/report.csv next to report.md. Never throws;
// what could not be written (or drawn) is logged as a warning.
void write_extra_reports(const std::filesystem::path& out_dir, const boost::json::object& results,
                         const std::function<void(const std::string&)>& log) noexcept;

} // namespace virtbench
