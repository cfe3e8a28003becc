// `virtbench report` and `compare`: reports regenerated from results.json alone, and
// verdicts between two runs (`history` lives in cli_history.cpp).
#include "commands.hpp"
#include "compare.hpp"
#include "history.hpp"
#include "report.hpp"
#include "report_model.hpp"
#include "results.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

struct ReportArgs {
  std::string dir;
  std::string format = "markdown";
};

struct CompareArgs {
  std::vector<std::string> dirs; // BASE CAND, or CAND with --against
  double max_regression = 5;
  double alpha = 0.05;
  std::string against;
  std::string db;
  std::string format = "text";
  bool allow_mismatch = false;
};

fs::path db_path(const std::string& db_option, const GlobalOptions& g) {
  if (!db_option.empty())
    return db_option;
  return history_db_path(g.data_dir.empty() ? default_data_dir() : fs::path(g.data_dir));
}

int report_command(const ReportArgs& a) {
  auto results = load_results(a.dir);
  fs::path base = fs::is_directory(a.dir) ? fs::path(a.dir) : fs::path(a.dir).parent_path();
  fs::path path;
  if (a.format == "markdown") {
    path = base / "report.md";
    write_file_atomic(path, render_markdown(results));
  } else if (a.format == "html") {
    path = base / "report.html";
    std::vector<std::string> warnings;
    write_file_atomic(path, render_html(results, warnings));
    for (auto& w : warnings)
      std::cerr << "virtbench: warning: " << w << std::endl;
  } else if (a.format == "csv") {
    path = base / "report.csv";
    write_file_atomic(path, render_csv(results));
  } else {
    throw UsageError("report --format " + a.format + ": unknown; use markdown, html or csv");
  }
  std::cout << path.string() << std::endl;
  return 0;
}

std::string describe_run(const boost::json::object& r, const std::string& where) {
  return fmt::format("{} (suite {}, started {}, virtbench {})", where,
                     r.contains("suite") && r.at("suite").is_object() ? json_text(r.at("suite").get_object().if_contains("name")) : "?",
                     json_text(r.if_contains("started_at")), json_text(r.if_contains("virtbench_version")));
}

int compare_command(const CompareArgs& a, const GlobalOptions& g) {
  boost::json::object base, cand;
  std::string base_label, cand_label;
  if (!a.against.empty()) {
    if (a.dirs.size() != 1)
      throw UsageError("compare --against " + a.against + " takes one CANDIDATE_DIR (the base comes from history), got " +
                       std::to_string(a.dirs.size()));
    cand = load_results(a.dirs[0]);
    cand_label = describe_run(cand, a.dirs[0]);
    History h(db_path(a.db, g), false);
    std::string id;
    base = h.baseline_for(a.against, cand, id);
    base_label = describe_run(base, "history run " + id + " (--against " + a.against + ")");
  } else {
    if (a.dirs.size() != 2)
      throw UsageError("compare needs BASE_DIR and CANDIDATE_DIR (or one CANDIDATE_DIR with --against last|best|RUN_ID), got " +
                       std::to_string(a.dirs.size()) + " director" + (a.dirs.size() == 1 ? "y" : "ies"));
    base = load_results(a.dirs[0]);
    cand = load_results(a.dirs[1]);
    base_label = describe_run(base, a.dirs[0]);
    cand_label = describe_run(cand, a.dirs[1]);
  }
  if (auto differences = fingerprint_differences(base, cand); !differences.empty()) {
    std::string list;
    for (auto& d : differences)
      list += "\n  " + d;
    if (!a.allow_mismatch)
      throw UsageError("compare: the two runs were measured differently, so a change may come from the setup, not the "
                       "code:" + list + "\nMake the setups match, or pass --allow-mismatch to compare anyway.");
    std::cerr << "compare: warning: the runs' fingerprints differ (--allow-mismatch):" << list << std::endl;
  }
  CompareOptions options;
  options.max_regression_pct = a.max_regression;
  options.alpha = a.alpha;
  auto c = compare_results(base, cand, options);
  std::cout << (a.format == "json" ? render_comparison_json(c, options, base_label, cand_label)
                                   : render_comparison_text(c, options, base_label, cand_label));
  return c.regressions ? 1 : 0;
}

} // namespace

std::vector<Command> add_report_commands(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ReportArgs>();
  auto* report = app.add_subcommand("report", "Regenerate a report from DIR/results.json alone");
  report->add_option("DIR", args->dir, "A results directory written by `virtbench run`")->required();
  report->add_option("--format", args->format, "markdown (report.md), html (report.html, charts inline) or csv (report.csv)")
      ->check(CLI::IsMember({"markdown", "html", "csv"}))
      ->capture_default_str();

  auto cargs = std::make_shared<CompareArgs>();
  auto* compare = app.add_subcommand(
      "compare", "Compare CANDIDATE_DIR with BASE_DIR (or with a run from history): exit 1 when a performance "
                 "metric regressed beyond --max-regression with p < --alpha, 0 otherwise, 2 on bad input");
  compare->add_option("DIRS", cargs->dirs, "BASE_DIR CANDIDATE_DIR, or CANDIDATE_DIR with --against")
      ->required()
      ->expected(1, 2);
  compare->add_option("--max-regression", cargs->max_regression, "Smallest change in percent that counts")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  compare->add_option("--alpha", cargs->alpha, "Significance level of Welch's t-test")
      ->check(CLI::Range(1e-9, 0.5))
      ->capture_default_str();
  compare->add_option("--against", cargs->against, "Base from history: last, best or a run id (see `virtbench history`)");
  compare->add_flag("--allow-mismatch", cargs->allow_mismatch,
                    "Compare even when the runs' fingerprints (accelerator, cache mode, limits, host ...) differ");
  compare->add_option("--db", cargs->db, "History database (default: DATA_DIR/history.sqlite)");
  compare->add_option("--format", cargs->format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();

  return {{report, [args] { return report_command(*args); }},
          {compare, [cargs, &global] { return compare_command(*cargs, global); }}};
}

} // namespace virtbench
