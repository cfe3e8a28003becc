#pragma once
// history.sqlite in the data directory: every run's results.json, and per run × platform ×
// experiment × metric its statistics, so `virtbench history` can list results over time
// and `compare --against last|best|<run-id>` needs no result directories kept around.

#include <boost/json/object.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace virtbench {

// DATA_DIR/history.sqlite
std::filesystem::path history_db_path(const std::filesystem::path& data_dir);

// A run's id, derived from results.json alone (start time, host, seed, command), so the
// same results always get the same id: "20261126T001859-3fa9c1".
std::string history_run_id(const boost::json::object& results);

struct HistoryFilter {
  std::string suite, platform, experiment;
  std::string hostname; // empty: every host
  std::string metric; // a catalog path or its unique tail ("events_per_sec", "p95"); empty: headline metrics
  std::size_t limit = 0; // newest N runs; 0: all
};

struct HistoryRow {
  std::string run_id, started_at, suite, version, hostname, platform, experiment, metric;
  std::size_t n = 0;
  double mean = 0, stddev = 0, ci_low = 0, ci_high = 0, cv = 0;
};

class History {
public:
  // Opens (creating when `create`) the database; throws UsageError when it does not exist
  // and `create` is false, Error when SQLite fails.
  History(const std::filesystem::path& db, bool create);
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Adds a results document (replacing an earlier copy of the same run); returns its id.
  std::string add(const boost::json::object& results, const std::filesystem::path& dir);

  std::vector<HistoryRow> query(const HistoryFilter& filter);

  // The stored results.json of a run chosen for comparison with `candidate`: "last" (the
  // newest complete run of the same suite other than the candidate), "best" (the one whose
  // headline metrics are best relative to the candidate's, by geometric mean), or a run
  // id (a unique prefix is enough). Throws UsageError naming what is missing.
  boost::json::object baseline_for(const std::string& against, const boost::json::object& candidate,
                                   std::string& chosen_run_id);

  // Other complete runs of the candidate's suite on the candidate's host, newest first:
  // started before it when `before_candidate`, none of `exclude` (run ids), `accept`ed
  // (e.g. the same fingerprint), at most `limit`. The lookback of compare's noise model.
  std::vector<std::pair<std::string, boost::json::object>>
  lookback_runs(const boost::json::object& candidate, const std::vector<std::string>& exclude, std::size_t limit,
                bool before_candidate, const std::function<bool(const boost::json::object&)>& accept);

private:
  sqlite3* m_db = nullptr;
  std::filesystem::path m_path;
};

// Resolves a --metric argument to a catalog path; throws UsageError listing the choices.
std::string resolve_metric(const std::string& metric);

// After `virtbench run`: adds DIR/results.json to the history in `data_dir`. Never
// throws; a failure is logged as a warning (a run's results matter more than history).
void record_history(const std::filesystem::path& out_dir, const std::filesystem::path& data_dir,
                    const std::function<void(const std::string&)>& log) noexcept;

} // namespace virtbench
