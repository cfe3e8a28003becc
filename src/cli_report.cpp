// `virtbench report` and `compare`: reports regenerated from results.json alone, and
// verdicts between two runs (`history` lives in cli_history.cpp).
#include "catalog.hpp"
#include "commands.hpp"
#include "compare.hpp"
#include "history.hpp"
#include "report.hpp"
#include "report_doc.hpp"
#include "report_model.hpp"
#include "results.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <set>
#include <iostream>
#include <memory>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

struct ReportArgs {
  std::string dir;
  std::string format = "markdown";
  bool history = false; // --history: DIR is where the per-host summary of a history query goes
  HistoryFilter filter;
  std::string db;
};

struct CompareArgs {
  std::vector<std::string> dirs; // BASE CAND, or CAND with --against
  double max_regression = 5;
  double alpha = CompareOptions{}.alpha;
  std::string correction = "holm";
  double headline_weight = CompareOptions{}.headline_weight;
  std::string test = "welch";
  std::string noise = "auto";
  bool no_native_ratio = false;
  bool fail_on_undecided = false;
  std::size_t lookback = 100;
  std::string against;
  std::string db;
  std::string format = "text";
  bool allow_mismatch = false;
  bool any_host = false; // --any-host: other hosts' runs as base and in the lookback
};

// report --history: the per-host summary of a history query (history --by host's rows)
// as DIR/history-report.md, .html or .csv; for a store that several hosts write to.
int history_report_command(const ReportArgs& a, const GlobalOptions& g) {
  History h(store_location(a.db, data_dir_of(g)), false);
  auto rows = h.query(a.filter);
  if (rows.empty())
    throw UsageError(fmt::format("report --history: no results in {} match the filters; see `virtbench history` "
                                 "for what it holds",
                                 h.where()));
  auto summary = summarize_by_host(rows);
  std::set<std::string> hosts;
  ReportTable t{{"host", "platform", "experiment", "metric", "runs", "mean", "×native", "newest"}, "llllrrrl", {}};
  for (auto& s : summary) {
    auto* def = find_metric(s.metric);
    hosts.insert(s.host);
    t.rows.push_back({s.host, s.platform, s.experiment, def ? std::string(def->label) : s.metric,
                      std::to_string(s.runs), format_number(s.mean),
                      s.x_native > 0 ? fmt::format("{:.3f}", s.x_native) : "", s.newest});
  }
  auto what = fmt::format("{} run record{} of {} host{} from {}; ×native is the mean over the same host's native mean.",
                          rows.size(), rows.size() == 1 ? "" : "s", hosts.size(), hosts.size() == 1 ? "" : "s",
                          h.where());
  std::string text, name;
  if (a.format == "csv") {
    name = "history-report.csv";
    t.header[6] = "x_native";
    auto line = [](const std::vector<std::string>& row) {
      std::string out;
      for (std::size_t i = 0; i < row.size(); ++i)
        out += (i ? "," : "") + csv_field(row[i]);
      return out + "\n";
    };
    text = line(t.header);
    for (auto& row : t.rows)
      text += line(row);
  } else {
    ReportDoc doc = {heading("Per-host summary", 1), paragraph(what), table(std::move(t))};
    if (a.format == "html") {
      name = "history-report.html";
      std::vector<std::string> warnings; // no charts, so none
      text = render_html_doc(doc, "virtbench: per-host summary", warnings);
    } else {
      name = "history-report.md";
      text = render_markdown_doc(doc);
    }
  }
  fs::create_directories(a.dir);
  auto path = fs::path(a.dir) / name;
  write_file_atomic(path, text);
  std::cout << path.string() << std::endl;
  return 0;
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

// The lookback: other runs of the candidate's suite, host (any with `any_host`) and setup
// in the history (for --against history only those before it), never the candidate.
// Empty when there is no history database and none was asked for (--db).
Lookback load_lookback(const StoreLocation& db, const boost::json::object& cand, const std::vector<std::string>& exclude,
                       std::size_t limit, bool against_history, bool any_host) {
  Lookback lookback;
  if (!db.given && !fs::exists(db.target))
    return lookback;
  History h(db, false);
  auto accept = [&](const boost::json::object& earlier) { return lookback_mismatch(earlier, cand).empty(); };
  for (auto& [id, results] : h.lookback_runs(cand, exclude, limit, against_history, accept, any_host))
    lookback.add_run(analyze_by_params(results), id);
  return lookback;
}

int compare_command(const CompareArgs& a, const GlobalOptions& g) {
  CompareOptions options;
  options.max_regression_pct = a.max_regression;
  options.alpha = a.alpha;
  options.correction = a.correction == "bh" ? Correction::bh : a.correction == "none" ? Correction::none : Correction::holm;
  options.headline_weight = a.headline_weight;
  options.test = a.test == "mann-whitney" ? TestKind::mann_whitney : TestKind::welch;
  options.noise = a.noise == "iterations" ? NoiseModel::iterations : NoiseModel::automatic;
  options.native_ratio = !a.no_native_ratio;
  auto render = [&](const Comparison& c, const std::string& base_label, const std::string& cand_label) {
    if (a.format == "json")
      return render_comparison_json(c, options, base_label, cand_label);
    if (a.format == "junit")
      return render_comparison_junit(c, options, base_label, cand_label);
    return render_comparison_text(c, options, base_label, cand_label);
  };
  auto exit_code = [&](const Comparison& c) { return c.regressions || (a.fail_on_undecided && c.undecided) ? 1 : 0; };

  boost::json::object base, cand;
  std::string base_label, cand_label;
  if (a.against == "history") {
    if (a.dirs.size() != 1)
      throw UsageError("compare --against history takes one CANDIDATE_DIR (the base is the history's distribution), got " +
                       std::to_string(a.dirs.size()));
    if (options.noise == NoiseModel::iterations)
      throw UsageError("compare --against history measures the noise from the history's runs; drop --noise iterations");
    cand = load_results(a.dirs[0]);
    auto db = store_location(a.db, data_dir_of(g));
    db.given = true; // required: the base is the history
    auto lookback = load_lookback(db, cand, {}, a.lookback, true, a.any_host);
    auto c = compare_with_history(cand, lookback, options);
    std::cout << render(c, fmt::format("the history: {} earlier runs of this suite and setup on {} (--against "
                                       "history, --lookback {})",
                                       lookback.run_ids().size(), a.any_host ? "any host" : "this host", a.lookback),
                        describe_run(cand, a.dirs[0]));
    return exit_code(c);
  }
  if (!a.against.empty()) {
    if (a.dirs.size() != 1)
      throw UsageError("compare --against " + a.against + " takes one CANDIDATE_DIR (the base comes from history), got " +
                       std::to_string(a.dirs.size()));
    cand = load_results(a.dirs[0]);
    cand_label = describe_run(cand, a.dirs[0]);
    History h(store_location(a.db, data_dir_of(g)), false);
    std::string id;
    base = h.baseline_for(a.against, cand, id, a.any_host);
    base_label = describe_run(base, "history run " + id + " (--against " + a.against + ")");
  } else {
    if (a.dirs.size() != 2)
      throw UsageError("compare needs BASE_DIR and CANDIDATE_DIR (or one CANDIDATE_DIR with --against "
                       "last|best|history|RUN_ID), got " +
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
  Lookback lookback;
  if (options.noise == NoiseModel::automatic)
    // Every run but the candidate: the base is one more draw of the same setup (an unusual
    // base widens the spread instead of making the candidate look changed).
    lookback = load_lookback(store_location(a.db, data_dir_of(g)), cand, {history_run_id(cand)}, a.lookback, false,
                             a.any_host);
  auto c = compare_results(base, cand, options, &lookback);
  std::cout << render(c, base_label, cand_label);
  return exit_code(c);
}

} // namespace

std::vector<Command> add_report_commands(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ReportArgs>();
  auto* report = app.add_subcommand("report", "Regenerate a report from DIR/results.json alone, or with --history "
                                               "write a per-host summary of the results store into DIR");
  report->add_option("DIR", args->dir,
                     "A results directory written by `virtbench run`; with --history, where history-report.* goes")
      ->required();
  report->add_option("--format", args->format, "markdown (report.md), html (report.html, charts inline) or csv (report.csv)")
      ->check(CLI::IsMember({"markdown", "html", "csv"}))
      ->capture_default_str();
  auto* from_history = report->add_flag(
      "--history", args->history,
      "A per-host summary of a history query instead (host, platform, experiment, metric: runs, mean, ×native on the "
      "same host, newest), for a store several hosts write to");
  report->add_option("--db", args->db, k_db_option_help)->needs(from_history);
  report->add_option("--suite", args->filter.suite, "--history: only runs of this suite")->needs(from_history);
  report->add_option("--platform", args->filter.platform, "--history: only this platform")->needs(from_history);
  report->add_option("--experiment", args->filter.experiment, "--history: only this experiment")->needs(from_history);
  report->add_option("--metric", args->filter.metric, "--history: a metric path or its tail (default: headline metrics)")
      ->needs(from_history);
  report->add_option("--host-name", args->filter.hostname, "--history: only runs on this host")->needs(from_history);
  report->add_option("--limit", args->filter.limit, "--history: only the newest N runs")->needs(from_history);

  auto cargs = std::make_shared<CompareArgs>();
  auto* compare = app.add_subcommand(
      "compare", "Compare CANDIDATE_DIR with BASE_DIR (or with the history): exit 1 when a performance metric "
                 "regressed beyond --max-regression at the family-wise level --alpha, 0 otherwise (undecided too, "
                 "unless --fail-on-undecided), 2 on bad input");
  compare->footer(
      "Noise model: docker, qemu and libvirt are compared on their ratio to native measured in the same rounds "
      "(host drift cancels); the spread between runs comes from earlier runs of the same suite, setup and host in "
      "the history (`virtbench calibrate` records some on purpose). Native's absolute figures without such runs "
      "get \"noise unknown\" rather than a verdict from iterations alone, which understate the drift between runs. "
      "Changes and intervals are on the log scale; tests are one-sided, towards the way a figure moved, and the CI "
      "is the 1 − 2·alpha interval (98% at alpha 0.01), each end a one-sided 1 − alpha bound; \"undecided: run "
      "more\" says how many iterations would likely decide.");
  compare->add_option("DIRS", cargs->dirs, "BASE_DIR CANDIDATE_DIR, or CANDIDATE_DIR with --against")
      ->required()
      ->expected(1, 2);
  compare->add_option("--max-regression", cargs->max_regression, "Smallest change in percent that counts")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  compare->add_option("--alpha", cargs->alpha, "Family-wise error rate of the call's \"regressed\" verdicts (one-sided tests, --correction holm), or their false discovery rate (bh)")
      ->check(CLI::Range(1e-9, 0.25))
      ->capture_default_str();
  compare->add_option("--correction", cargs->correction, "Multiple-testing correction across the call's performance metrics: holm, bh (Benjamini–Hochberg) or none")
      ->check(CLI::IsMember({"holm", "bh", "none"}))
      ->capture_default_str();
  compare->add_option("--headline-weight", cargs->headline_weight,
                      "Share of the correction's weight the headline metrics (events/s, reads/s) get together; the "
                      "other performance metrics share the rest (weighted Holm/BH; 1: only headline metrics can regress)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  compare->add_option("--test", cargs->test, "welch: one-sided t-test on the log-scale change with the noise model's variance; "
                                             "mann-whitney: one-sided exact rank test on the iterations, and the t-test too where runs drift")
      ->check(CLI::IsMember({"welch", "mann-whitney"}))
      ->capture_default_str();
  compare->add_option("--noise", cargs->noise, "auto: history and the native ratio; iterations: the iterations alone, as if runs did not drift (overconfident)")
      ->check(CLI::IsMember({"auto", "iterations"}))
      ->capture_default_str();
  compare->add_flag("--no-native-ratio", cargs->no_native_ratio, "Compare every platform on its absolute figures, not its ratio to native");
  compare->add_flag("--fail-on-undecided", cargs->fail_on_undecided, "Exit 1 also when a metric is undecided or its noise unknown");
  compare->add_option("--lookback", cargs->lookback, "At most this many earlier runs from the history in the noise model")
      ->check(CLI::Range(std::size_t{3}, std::size_t{100000}))
      ->capture_default_str();
  compare->add_option("--against", cargs->against, "Base from history: last, best, a run id (see `virtbench history`), or history: "
                                                   "the distribution of the --lookback earlier runs of this suite and setup");
  compare->add_flag("--allow-mismatch", cargs->allow_mismatch,
                    "Compare even when the runs' fingerprints (accelerator, cache mode, limits, host ...) differ");
  compare->add_option("--db", cargs->db, k_db_option_help);
  compare->add_flag("--any-host", cargs->any_host,
                    "With --against last|best|history and in the noise model's lookback: runs of every host in the "
                    "store, not only of the candidate's (its hostname in results.json)");
  compare->add_option("--format", cargs->format, "text, json or junit (JUnit XML for CI: a failure per regression, skipped for undecided)")->check(CLI::IsMember({"text", "json", "junit"}))->capture_default_str();

  return {{report, [args, &global] { return args->history ? history_report_command(*args, global) : report_command(*args); }},
          {compare, [cargs, &global] { return compare_command(*cargs, global); }}};
}

} // namespace virtbench
