#pragma once
// The results store: every run's results.json, and per run × platform × experiment ×
// metric its statistics, so `virtbench history` can list results over time and `compare
// --against last|best|<run-id>` needs no result directories kept around. It lives in
// DATA_DIR/history.sqlite, another SQLite file (--db FILE), or a PostgreSQL database that
// several hosts share (--db postgresql://USER@HOST/DB); the backends are in store_*.cpp.

#include <boost/json/object.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace virtbench {

namespace store {
class Backend;
}

// DATA_DIR/history.sqlite
std::filesystem::path history_db_path(const std::filesystem::path& data_dir);

// Where the store is, from --db.
struct StoreLocation {
  enum class Kind { sqlite, postgresql };
  Kind kind = Kind::sqlite;
  std::string target; // the SQLite file, or the URL (which holds no password)
  bool given = false; // named by --db rather than the default
};

// True for a postgresql:// or postgres:// URL (the scheme in any case).
bool is_postgresql_url(const std::string& db);

// --db's value as a location: empty is DATA_DIR/history.sqlite, a PostgreSQL URL the
// PostgreSQL store, anything else a SQLite file. Throws UsageError for a URL holding a
// password (USER:PASSWORD@ or password=), without repeating it: passwords come from
// ~/.pgpass, PGPASSFILE or PGPASSWORD as libpq reads them.
StoreLocation store_location(const std::string& db_option, const std::filesystem::path& data_dir);

// --db's help, the same for every command that takes it.
extern const char* const k_db_option_help;

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

// One row of the per-host summary of a history query (history --by host, report
// --history): per host, platform, experiment and metric, the runs, the mean of their
// means, the newest start, and the ratio of the mean to the same host's native mean for
// that experiment and metric (0 for native itself, or when that host has no native runs).
struct HostSummaryRow {
  std::string host, platform, experiment, metric;
  std::size_t runs = 0;
  double mean = 0, x_native = 0;
  std::string newest;
};
// Sorted by host, platform, experiment, metric. An empty hostname is "?".
std::vector<HostSummaryRow> summarize_by_host(const std::vector<HistoryRow>& rows);

class History {
public:
  // Opens (creating when `create`) the store and creates or migrates its schema; throws
  // UsageError when it does not exist and `create` is false or the input is bad (a
  // refused password, no such database), Error when the backend fails.
  History(const StoreLocation& where, bool create);
  // The SQLite store in `db`.
  History(const std::filesystem::path& db, bool create);
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Adds a results document (replacing an earlier copy of the same run); returns its id.
  std::string add(const boost::json::object& results, const std::filesystem::path& dir);

  std::vector<HistoryRow> query(const HistoryFilter& filter);

  // The stored results.json of a run chosen for comparison with `candidate`: "last" (the
  // newest complete run of the same suite other than the candidate), "best" (the one whose
  // headline metrics are best relative to the candidate's, by geometric mean), both among
  // runs on the candidate's host unless `any_host`, or a run id (a unique prefix is
  // enough; any host). Throws UsageError naming what is missing.
  boost::json::object baseline_for(const std::string& against, const boost::json::object& candidate,
                                   std::string& chosen_run_id, bool any_host = false);

  // Other complete runs of the candidate's suite on the candidate's host (any host when
  // `any_host`), newest first: started before it when `before_candidate`, none of
  // `exclude` (run ids), `accept`ed (e.g. the same fingerprint), at most `limit`. The
  // lookback of compare's noise model.
  std::vector<std::pair<std::string, boost::json::object>>
  lookback_runs(const boost::json::object& candidate, const std::vector<std::string>& exclude, std::size_t limit,
                bool before_candidate, const std::function<bool(const boost::json::object&)>& accept,
                bool any_host = false);

  // The schema version stored (store::k_schema_version once opened).
  int schema_version();
  // The file or URL, for messages.
  const std::string& where() const { return m_where; }

private:
  std::unique_ptr<store::Backend> m_store;
  std::string m_where;
};

// Resolves a --metric argument to a catalog path; throws UsageError listing the choices.
std::string resolve_metric(const std::string& metric);

// After `virtbench run`: adds DIR/results.json to the store. The default store (no --db)
// never throws: a failure is logged as a warning (a run's results matter more than
// history). A store named by --db is one the user relies on (a fleet's PostgreSQL): a
// failure throws, keeping its kind, and says how to add the run later (`history --add`).
void record_history(const std::filesystem::path& out_dir, const StoreLocation& store,
                    const std::function<void(const std::string&)>& log);

} // namespace virtbench
