// `virtbench history`: results over time from history.sqlite, and adding runs to it.
#include "catalog.hpp"
#include "commands.hpp"
#include "history.hpp"
#include "report_model.hpp"
#include "results.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

struct HistoryArgs {
  HistoryFilter filter;
  std::string db;
  std::vector<std::string> add;
};

fs::path db_path(const std::string& db_option, const GlobalOptions& g) {
  if (!db_option.empty())
    return db_option;
  return history_db_path(g.data_dir.empty() ? default_data_dir() : fs::path(g.data_dir));
}

int history_command(const HistoryArgs& a, const GlobalOptions& g) {
  auto path = db_path(a.db, g);
  if (!a.add.empty()) {
    History h(path, true);
    for (auto& dir : a.add) {
      auto results = load_results(dir);
      std::cout << "added " << h.add(results, fs::is_directory(dir) ? fs::path(dir) : fs::path(dir).parent_path())
                << " from " << dir << "\n";
    }
    return 0;
  }
  History h(path, false);
  auto rows = h.query(a.filter);
  if (rows.empty()) {
    std::cout << "no results in " << path.string() << " match\n";
    return 0;
  }
  std::vector<std::vector<std::string>> table = {
      {"started", "run id", "suite", "experiment", "platform", "metric", "n", "mean", "95% CI", "CV", "virtbench"}};
  for (auto& r : rows) {
    auto* def = find_metric(r.metric);
    table.push_back({r.started_at, r.run_id, r.suite, r.experiment, r.platform,
                     def ? std::string(def->label) : r.metric, std::to_string(r.n), format_number(r.mean),
                     r.n > 1 ? format_number(r.ci_low) + "–" + format_number(r.ci_high) : "–",
                     r.n > 1 ? fmt::format("{:.1f}%", 100 * r.cv) : "–", r.version});
  }
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
      bool right = i >= 6 && i <= 9;
      line += (i ? "  " : "") + (right ? pad + row[i] : row[i] + (i + 1 < row.size() ? pad : ""));
    }
    std::cout << line << "\n";
  }
  return 0;
}

} // namespace

std::vector<Command> add_history_commands(CLI::App& app, GlobalOptions& global) {
  auto hargs = std::make_shared<HistoryArgs>();
  auto* history = app.add_subcommand("history", "List results over time from the history database (headline metrics unless --metric)");
  history->add_option("--platform", hargs->filter.platform, "Only this platform");
  history->add_option("--experiment", hargs->filter.experiment, "Only this experiment");
  history->add_option("--metric", hargs->filter.metric, "A metric path or its tail: events_per_sec, latency_ms.p95, p95 ...");
  history->add_option("--suite", hargs->filter.suite, "Only runs of this suite");
  history->add_option("--limit", hargs->filter.limit, "Only the newest N runs");
  history->add_option("--db", hargs->db, "History database (default: DATA_DIR/history.sqlite)");
  history->add_option("--add", hargs->add, "Add results directories to the history (repeat for several) instead of listing");

  return {{history, [hargs, &global] { return history_command(*hargs, global); }}};
}

} // namespace virtbench
