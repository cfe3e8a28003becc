// `virtbench history`: results over time from the results store, adding runs to it, a
// per-host summary (--by host), and change points in each series of it (--changes).
#include "catalog.hpp"
#include "changepoint.hpp"
#include "commands.hpp"
#include "history.hpp"
#include "report_model.hpp"
#include "results.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <tuple>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

struct HistoryArgs {
  HistoryFilter filter;
  std::string db;
  std::vector<std::string> add;
  bool changes = false;
  std::string by; // --by host: a summary per host
  ChangePointOptions change_points;
};

// Prints `table` (its first row the header) in aligned columns, columns first..last right-aligned.
void print_table(const std::vector<std::vector<std::string>>& table, std::size_t right_first, std::size_t right_last) {
  auto width = [](const std::string& s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  std::vector<std::size_t> w(table[0].size(), 0);
  for (auto& row : table)
    for (std::size_t i = 0; i < row.size(); ++i)
      w[i] = std::max(w[i], width(row[i]));
  for (auto& row : table) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      auto pad = std::string(w[i] - width(row[i]), ' ');
      bool right = i >= right_first && i <= right_last;
      line += (i ? "  " : "") + (right ? pad + row[i] : row[i] + (i + 1 < row.size() ? pad : ""));
    }
    std::cout << line << "\n";
  }
}

std::string percent(double ratio) { return fmt::format("{:+.1f}%", 100 * (ratio - 1)); }

// --changes: change points per (host, suite, experiment, platform, metric) series, one
// table row per change point, then how many series were checked.
int changes_command(const HistoryArgs& a, const StoreLocation& where) {
  History h(where, false);
  auto rows = h.query(a.filter);
  if (rows.empty()) {
    std::cout << "no results in " << h.where() << " match\n";
    return 0;
  }
  using Key = std::tuple<std::string, std::string, std::string, std::string, std::string>;
  std::map<Key, std::vector<const HistoryRow*>> series;
  for (auto& r : rows)
    series[{r.hostname, r.suite, r.experiment, r.platform, r.metric}].push_back(&r);

  const auto& o = a.change_points;
  std::vector<std::vector<std::string>> table = {{"started", "run id", "virtbench", "host", "suite", "experiment",
                                                  "platform", "metric", "level", "shift", "95% CI", "p", "direction"}};
  std::vector<std::string> notes;
  std::size_t checked = 0, too_short = 0, all_equal = 0, changes = 0;
  for (auto& [key, runs] : series) {
    auto& [host, suite, experiment, platform, metric] = key;
    std::stable_sort(runs.begin(), runs.end(), [](auto* x, auto* y) { return x->started_at < y->started_at; });
    auto* def = find_metric(metric);
    std::string label = def ? std::string(def->label) : metric;
    // The method works on log values: a run whose mean is not positive (a failed run
    // stored as 0, a metric that can be 0) is left out, and said so.
    std::vector<const HistoryRow*> kept;
    std::vector<double> values;
    for (auto* r : runs) {
      if (std::isfinite(r->mean) && r->mean > 0) {
        kept.push_back(r);
        values.push_back(r->mean);
      } else {
        notes.push_back(fmt::format("run {} ({} / {} / {} / {}): mean {} is not a positive number; left out of its "
                                    "series",
                                    r->run_id, suite, experiment, platform, label, r->mean));
      }
    }
    auto found = find_change_points(values, o);
    if (found.checked == ChangePoints::Checked::too_short) {
      ++too_short;
      continue;
    }
    ++checked;
    if (found.checked == ChangePoints::Checked::all_equal) {
      ++all_equal;
      continue;
    }
    for (auto& c : found.changes) {
      auto* r = kept[c.index];
      std::string direction;
      if (def && def->performance)
        direction = (c.ratio > 1) == def->higher_is_better ? "better" : "worse";
      table.push_back({r->started_at, r->run_id, r->version, host.empty() ? "?" : host, suite, experiment, platform,
                       label, format_number(c.before) + " → " + format_number(c.after), percent(c.ratio),
                       percent(c.ratio_low) + " to " + percent(c.ratio_high), fmt::format("{:.3f}", c.p),
                       direction});
      ++changes;
    }
  }
  if (changes)
    print_table(table, 8, 11);
  for (auto& n : notes)
    std::cout << n << "\n";
  std::cout << fmt::format("{} series checked, {} change point{}", checked, changes, changes == 1 ? "" : "s");
  if (all_equal)
    std::cout << fmt::format(" ({} with all values equal)", all_equal);
  std::cout << fmt::format(" (binary segmentation, t on log run means, {} seeded permutations, p < {:g})\n",
                           o.permutations, o.alpha);
  if (too_short)
    std::cout << fmt::format("{} series {} fewer than {} runs: not checked\n", too_short,
                             too_short == 1 ? "has" : "have", 2 * o.min_segment);
  return 0;
}

// --by host: per host × platform × experiment (× metric) the runs, the mean of the run
// means, the ratio to that host's native and the newest, for a store several hosts write to.
void print_by_host(const std::vector<HistoryRow>& rows) {
  std::vector<std::vector<std::string>> table = {
      {"host", "platform", "experiment", "metric", "runs", "mean", "×native", "newest"}};
  for (auto& s : summarize_by_host(rows)) {
    auto* def = find_metric(s.metric);
    table.push_back({s.host, s.platform, s.experiment, def ? std::string(def->label) : s.metric,
                     std::to_string(s.runs), format_number(s.mean),
                     s.x_native > 0 ? fmt::format("{:.3f}", s.x_native) : "–", s.newest});
  }
  print_table(table, 4, 6);
}

int history_command(const HistoryArgs& a, const GlobalOptions& g) {
  auto where = store_location(a.db, data_dir_of(g));
  if (!a.add.empty()) {
    History h(where, true);
    for (auto& dir : a.add) {
      auto results = load_results(dir);
      std::cout << "added " << h.add(results, fs::is_directory(dir) ? fs::path(dir) : fs::path(dir).parent_path())
                << " from " << dir << "\n";
    }
    return 0;
  }
  if (a.changes)
    return changes_command(a, where);
  History h(where, false);
  auto rows = h.query(a.filter);
  if (rows.empty()) {
    std::cout << "no results in " << h.where() << " match\n";
    return 0;
  }
  if (a.by == "host") {
    print_by_host(rows);
    return 0;
  }
  std::vector<std::vector<std::string>> table = {
      {"started", "run id", "suite", "experiment", "platform", "metric", "n", "mean", "95% CI", "CV", "virtbench",
       "host"}};
  for (auto& r : rows) {
    auto* def = find_metric(r.metric);
    table.push_back({r.started_at, r.run_id, r.suite, r.experiment, r.platform,
                     def ? std::string(def->label) : r.metric, std::to_string(r.n), format_number(r.mean),
                     r.n > 1 ? format_number(r.ci_low) + "–" + format_number(r.ci_high) : "–",
                     r.n > 1 ? fmt::format("{:.1f}%", 100 * r.cv) : "–", r.version,
                     r.hostname.empty() ? "?" : r.hostname});
  }
  print_table(table, 6, 9);
  return 0;
}

} // namespace

std::vector<Command> add_history_commands(CLI::App& app, GlobalOptions& global) {
  auto hargs = std::make_shared<HistoryArgs>();
  auto* history = app.add_subcommand("history", "List results over time from the history database (headline metrics "
                                                "unless --metric), or their change points (--changes)");
  history->add_option("--platform", hargs->filter.platform, "Only this platform");
  history->add_option("--experiment", hargs->filter.experiment, "Only this experiment");
  history->add_option("--metric", hargs->filter.metric, "A metric path or its tail: events_per_sec, latency_ms.p95, p95 ...");
  history->add_option("--suite", hargs->filter.suite, "Only runs of this suite");
  history->add_option("--limit", hargs->filter.limit, "Only the newest N runs");
  history->add_option("--db", hargs->db, k_db_option_help);
  history->add_option("--host-name", hargs->filter.hostname, "Only runs on this host (its hostname in results.json)");
  auto* by = history->add_option("--by", hargs->by,
                                 "host: one row per host, platform, experiment and metric (the runs, the mean of "
                                 "their means, its ratio to the same host's native, the newest), for a store several "
                                 "hosts write to")
                 ->check(CLI::IsMember({"host"}));
  auto* add = history->add_option("--add", hargs->add,
                                  "Add results directories to the history (repeat for several) instead of listing");
  auto* changes = history->add_flag(
      "--changes", hargs->changes,
      "Find level shifts in each (host, suite, experiment, platform, metric) series: binary segmentation at the split "
      "with the largest t on log run means, kept when a seeded permutation test gives p < --alpha");
  changes->excludes(add);
  by->excludes(add)->excludes(changes);
  history->add_option("--alpha", hargs->change_points.alpha, "--changes: significance level of each split")
      ->check(CLI::Range(0.002, 0.5))
      ->capture_default_str()
      ->needs(changes);
  history->add_option("--min-runs", hargs->change_points.min_segment,
                      "--changes: fewest runs on each side of a change point")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str()
      ->needs(changes);

  return {{history, [hargs, &global] { return history_command(*hargs, global); }}};
}

} // namespace virtbench
