#include "history.hpp"

#include "catalog.hpp"
#include "report_model.hpp"
#include "results.hpp"
#include "util/error.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

const char* k_schema = R"(
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  suite TEXT NOT NULL,
  hostname TEXT,
  virtbench_version TEXT,
  dir TEXT,
  complete INTEGER NOT NULL,      -- 0 when the run was interrupted
  results TEXT NOT NULL           -- the whole results.json
);
CREATE TABLE IF NOT EXISTS metrics (
  run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  platform TEXT NOT NULL,
  experiment TEXT NOT NULL,
  metric TEXT NOT NULL,           -- catalog path, e.g. metrics.events_per_sec
  headline INTEGER NOT NULL,      -- 1 for the experiment's headline metric
  higher_is_better INTEGER NOT NULL,
  n INTEGER NOT NULL,
  mean REAL, stddev REAL, ci_low REAL, ci_high REAL, cv REAL,
  PRIMARY KEY (run_id, platform, experiment, metric)
);
CREATE INDEX IF NOT EXISTS runs_by_suite ON runs (suite, started_at);
)";

// One prepared statement, finalized on scope exit.
class Statement {
public:
  Statement(sqlite3* db, const char* sql, const fs::path& path) : m_db(db), m_path(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &m_stmt, nullptr) != SQLITE_OK)
      fail("prepare");
  }
  ~Statement() { sqlite3_finalize(m_stmt); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& v) {
    check(sqlite3_bind_text(m_stmt, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int i, double v) {
    if (std::isfinite(v))
      check(sqlite3_bind_double(m_stmt, i, v));
    else
      check(sqlite3_bind_null(m_stmt, i));
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(m_stmt, i, v));
    return *this;
  }
  // true while there is a row
  bool step() {
    int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW)
      return true;
    if (rc != SQLITE_DONE)
      fail("step");
    return false;
  }
  void reset() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
  }
  std::string text(int col) {
    auto* p = sqlite3_column_text(m_stmt, col);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  double real(int col) { return sqlite3_column_double(m_stmt, col); }
  std::int64_t integer(int col) { return sqlite3_column_int64(m_stmt, col); }

private:
  void check(int rc) {
    if (rc != SQLITE_OK)
      fail("bind");
  }
  [[noreturn]] void fail(const char* what) {
    throw Error(fmt::format("history {}: SQLite {} failed: {}", m_path.string(), what, sqlite3_errmsg(m_db)));
  }
  sqlite3* m_db;
  const fs::path& m_path;
  sqlite3_stmt* m_stmt = nullptr;
};

void exec(sqlite3* db, const char* sql, const fs::path& path) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw Error("history " + path.string() + ": " + msg);
  }
}

std::string suite_name(const boost::json::object& results) {
  if (auto* s = results.if_contains("suite"); s && s->is_object())
    return json_text(s->get_object().if_contains("name"));
  return "";
}

} // namespace

fs::path history_db_path(const fs::path& data_dir) { return data_dir / "history.sqlite"; }

std::string history_run_id(const boost::json::object& results) {
  auto started = json_text(results.if_contains("started_at"));
  std::string key = started;
  if (auto* h = results.if_contains("host"); h && h->is_object())
    key += "|" + json_text(h->get_object().if_contains("hostname"));
  key += "|" + json_text(results.if_contains("seed")) + "|" + json_text(results.if_contains("command"));
  std::uint64_t hash = 1469598103934665603ull; // FNV-1a
  for (unsigned char c : key) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  std::string compact;
  for (char c : started)
    if (c != ':' && c != '-' && c != 'Z')
      compact += c;
  return fmt::format("{}-{:06x}", compact.empty() ? "unknown" : compact, hash & 0xffffff);
}

std::string resolve_metric(const std::string& metric) {
  if (find_metric(metric))
    return metric;
  std::vector<std::string> matches;
  for (auto& m : metric_catalog()) {
    std::string path(m.path);
    if (path.size() > metric.size() && path.compare(path.size() - metric.size(), metric.size(), metric) == 0 &&
        path[path.size() - metric.size() - 1] == '.')
      matches.push_back(path);
  }
  if (matches.size() == 1)
    return matches[0];
  std::string all;
  for (auto& m : metric_catalog())
    all += (all.empty() ? "" : ", ") + std::string(m.path);
  throw UsageError("--metric " + metric + ": " +
                   (matches.empty() ? std::string("no such metric") : "ambiguous (" + fmt::format("{}", fmt::join(matches, ", ")) + ")") +
                   "; metrics are " + all);
}

History::History(const fs::path& db, bool create) : m_path(db) {
  if (!create && !fs::exists(db))
    throw UsageError("history " + db.string() +
                     ": no such database; `virtbench run` creates it in the data directory (--data-dir), or pass --db FILE");
  if (create && db.has_parent_path())
    fs::create_directories(db.parent_path());
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(db.c_str(), &m_db, flags, nullptr) != SQLITE_OK) {
    std::string msg = m_db ? sqlite3_errmsg(m_db) : "out of memory";
    sqlite3_close(m_db);
    m_db = nullptr;
    throw Error("open history " + db.string() + ": " + msg);
  }
  sqlite3_busy_timeout(m_db, 10000); // another virtbench may be writing
  try {
    exec(m_db, "PRAGMA foreign_keys = ON;", m_path);
    exec(m_db, k_schema, m_path);
  } catch (...) {
    sqlite3_close(m_db);
    throw;
  }
}

History::~History() { sqlite3_close(m_db); }

std::string History::add(const boost::json::object& results, const fs::path& dir) {
  auto id = history_run_id(results);
  auto a = analyze_by_params(results);
  exec(m_db, "BEGIN IMMEDIATE;", m_path);
  try {
    Statement del(m_db, "DELETE FROM runs WHERE run_id = ?1;", m_path);
    del.bind(1, id).step();
    Statement run(m_db,
                  "INSERT INTO runs (run_id, started_at, finished_at, suite, hostname, virtbench_version, dir, "
                  "complete, results) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9);",
                  m_path);
    auto* host = results.if_contains("host");
    bool interrupted = results.contains("interrupted") && results.at("interrupted").is_bool() &&
                       results.at("interrupted").get_bool();
    run.bind(1, id)
        .bind(2, json_text(results.if_contains("started_at")))
        .bind(3, json_text(results.if_contains("finished_at")))
        .bind(4, suite_name(results))
        .bind(5, host && host->is_object() ? json_text(host->get_object().if_contains("hostname")) : "")
        .bind(6, json_text(results.if_contains("virtbench_version")))
        .bind(7, dir.empty() ? std::string() : fs::absolute(dir).string())
        .bind(8, std::int64_t{interrupted ? 0 : 1})
        .bind(9, boost::json::serialize(results));
    run.step();
    Statement m(m_db,
                "INSERT INTO metrics (run_id, platform, experiment, metric, headline, higher_is_better, n, mean, "
                "stddev, ci_low, ci_high, cv) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12);",
                m_path);
    for (auto& cell : a.cells)
      for (auto& [path, series] : cell.metrics) {
        auto& s = series.stats;
        m.bind(1, id)
            .bind(2, cell.platform)
            .bind(3, cell.experiment->name)
            .bind(4, path)
            .bind(5, std::int64_t{path == cell.experiment->headline ? 1 : 0})
            .bind(6, std::int64_t{series.def->higher_is_better ? 1 : 0})
            .bind(7, static_cast<std::int64_t>(s.n))
            .bind(8, s.mean)
            .bind(9, s.stddev)
            .bind(10, s.ci_low)
            .bind(11, s.ci_high)
            .bind(12, s.cv);
        m.step();
        m.reset();
      }
    exec(m_db, "COMMIT;", m_path);
  } catch (...) {
    sqlite3_exec(m_db, "ROLLBACK;", nullptr, nullptr, nullptr);
    throw;
  }
  return id;
}

std::vector<HistoryRow> History::query(const HistoryFilter& f) {
  std::string metric = f.metric.empty() ? std::string() : resolve_metric(f.metric);
  std::string sql =
      "SELECT r.run_id, r.started_at, r.suite, r.virtbench_version, m.platform, m.experiment, m.metric, m.n, m.mean, "
      "m.stddev, m.ci_low, m.ci_high, m.cv, coalesce(r.hostname, '') FROM metrics m JOIN runs r ON r.run_id = m.run_id "
      "WHERE 1";
  std::string filters;
  filters += f.suite.empty() ? "" : " AND r.suite = ?1";
  filters += f.platform.empty() ? "" : " AND m.platform = ?2";
  filters += f.experiment.empty() ? "" : " AND m.experiment = ?3";
  filters += f.hostname.empty() ? "" : " AND r.hostname = ?6";
  filters += metric.empty() ? " AND m.headline = 1" : " AND m.metric = ?4";
  sql += filters;
  // The newest N runs among those the filters keep, not the newest N runs of any kind.
  if (f.limit)
    sql += " AND r.run_id IN (SELECT r.run_id FROM metrics m JOIN runs r ON r.run_id = m.run_id WHERE 1" + filters +
           " GROUP BY r.run_id ORDER BY max(r.started_at) DESC, r.run_id DESC LIMIT ?5)";
  sql += " ORDER BY m.experiment, m.platform, m.metric, r.started_at, r.run_id;";
  Statement q(m_db, sql.c_str(), m_path);
  if (!f.suite.empty())
    q.bind(1, f.suite);
  if (!f.platform.empty())
    q.bind(2, f.platform);
  if (!f.experiment.empty())
    q.bind(3, f.experiment);
  if (!metric.empty())
    q.bind(4, metric);
  if (f.limit)
    q.bind(5, static_cast<std::int64_t>(f.limit));
  if (!f.hostname.empty())
    q.bind(6, f.hostname);
  std::vector<HistoryRow> rows;
  while (q.step()) {
    HistoryRow r;
    r.run_id = q.text(0);
    r.started_at = q.text(1);
    r.suite = q.text(2);
    r.version = q.text(3);
    r.platform = q.text(4);
    r.experiment = q.text(5);
    r.metric = q.text(6);
    r.n = static_cast<std::size_t>(q.integer(7));
    r.mean = q.real(8);
    r.stddev = q.real(9);
    r.ci_low = q.real(10);
    r.ci_high = q.real(11);
    r.cv = q.real(12);
    r.hostname = q.text(13);
    rows.push_back(std::move(r));
  }
  return rows;
}

boost::json::object History::baseline_for(const std::string& against, const boost::json::object& candidate,
                                          std::string& chosen) {
  auto cand_id = history_run_id(candidate);
  auto suite = suite_name(candidate);
  chosen.clear();
  if (against == "last") {
    Statement q(m_db,
                "SELECT run_id FROM runs WHERE suite = ?1 AND run_id <> ?2 AND complete = 1 "
                "AND (?3 = '' OR started_at <= ?3) ORDER BY started_at DESC, run_id DESC LIMIT 1;",
                m_path);
    q.bind(1, suite).bind(2, cand_id).bind(3, json_text(candidate.if_contains("started_at")));
    if (q.step())
      chosen = q.text(0);
  } else if (against == "best") {
    // Score each earlier run by the mean log ratio of its headline means to the
    // candidate's (oriented so that higher is better), over what both measured.
    auto cand = analyze_by_params(candidate);
    Statement q(m_db,
                "SELECT m.run_id, m.platform, m.experiment, m.metric, m.mean, m.higher_is_better FROM metrics m "
                "JOIN runs r ON r.run_id = m.run_id WHERE r.suite = ?1 AND r.run_id <> ?2 AND r.complete = 1 "
                "AND m.headline = 1;",
                m_path);
    q.bind(1, suite).bind(2, cand_id);
    std::map<std::string, std::pair<double, int>> score;
    while (q.step()) {
      auto* cell = cand.find(q.text(1), q.text(2));
      auto* m = cell ? cell->metric(q.text(3)) : nullptr;
      double mean = q.real(4);
      if (!m || m->stats.mean <= 0 || mean <= 0)
        continue;
      double lr = std::log(mean / m->stats.mean) * (q.integer(5) ? 1 : -1);
      auto& s = score[q.text(0)];
      s.first += lr;
      s.second += 1;
    }
    double best = -INFINITY;
    for (auto& [id, s] : score)
      if (s.second && s.first / s.second > best) {
        best = s.first / s.second;
        chosen = id;
      }
  } else {
    Statement q(m_db, "SELECT run_id FROM runs WHERE substr(run_id, 1, length(?1)) = ?1 ORDER BY run_id;", m_path);
    q.bind(1, against);
    std::vector<std::string> ids;
    while (q.step())
      ids.push_back(q.text(0));
    if (ids.size() > 1)
      throw UsageError("--against " + against + ": matches " + std::to_string(ids.size()) +
                       " runs in " + m_path.string() + " (" + fmt::format("{}", fmt::join(ids, ", ")) +
                       "); give more of the run id");
    if (ids.empty())
      throw UsageError("--against " + against + ": no such run in " + m_path.string() +
                       "; `virtbench history` lists run ids, or use last or best");
    chosen = ids[0];
  }
  if (chosen.empty())
    throw UsageError(fmt::format("--against {}: {} has no other complete run of suite \"{}\" to compare with; "
                                 "run the suite once more, or give BASE_DIR instead",
                                 against, m_path.string(), suite));
  Statement q(m_db, "SELECT results FROM runs WHERE run_id = ?1;", m_path);
  q.bind(1, chosen);
  if (!q.step())
    throw Error("history " + m_path.string() + ": run " + chosen + " vanished while reading it");
  boost::system::error_code ec;
  auto v = boost::json::parse(q.text(0), ec);
  if (ec || !v.is_object())
    throw Error("history " + m_path.string() + ": run " + chosen + " has unreadable results (" + ec.message() + ")");
  return std::move(v.as_object());
}

std::vector<std::pair<std::string, boost::json::object>>
History::lookback_runs(const boost::json::object& candidate, const std::vector<std::string>& exclude, std::size_t limit,
                       bool before_candidate, const std::function<bool(const boost::json::object&)>& accept) {
  std::string hostname;
  if (auto* h = candidate.if_contains("host"); h && h->is_object())
    hostname = json_text(h->get_object().if_contains("hostname"));
  Statement q(m_db,
              "SELECT run_id, results FROM runs WHERE suite = ?1 AND coalesce(hostname, '') = ?2 AND complete = 1 "
              "AND run_id <> ?3 AND (?4 = '' OR started_at < ?4) ORDER BY started_at DESC, run_id DESC;",
              m_path);
  q.bind(1, suite_name(candidate)).bind(2, hostname).bind(3, history_run_id(candidate));
  q.bind(4, before_candidate ? json_text(candidate.if_contains("started_at")) : std::string());
  std::vector<std::pair<std::string, boost::json::object>> runs;
  while (q.step() && runs.size() < limit) {
    auto id = q.text(0);
    if (std::find(exclude.begin(), exclude.end(), id) != exclude.end())
      continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(q.text(1), ec);
    if (ec || !v.is_object() || !accept(v.as_object()))
      continue; // unreadable or measured differently: not part of this lookback
    runs.emplace_back(id, std::move(v.as_object()));
  }
  return runs;
}

void record_history(const fs::path& out_dir, const fs::path& data_dir,
                    const std::function<void(const std::string&)>& log) noexcept {
  try {
    auto results = load_results(out_dir);
    History h(history_db_path(data_dir), true);
    auto id = h.add(results, out_dir);
    if (log)
      log("history: recorded run " + id + " in " + history_db_path(data_dir).string());
  } catch (const std::exception& e) {
    if (log)
      log(std::string("warning: history not updated: ") + e.what());
  }
}

} // namespace virtbench
