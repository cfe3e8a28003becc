// The SQLite backend of the results store (store.hpp): the embedded default,
// DATA_DIR/history.sqlite. The schema version is PRAGMA user_version.
#include "store.hpp"

#include "util/error.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cmath>

namespace virtbench::store {

namespace fs = std::filesystem;

namespace {

// Migration K takes the schema from version K-1 to K. Version 1 is the schema of every
// virtbench before versioning, hence IF NOT EXISTS: a history.sqlite from then (user_version
// 0, tables there) migrates without loss.
const char* const k_sqlite_migrations[] = {
    R"(
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
)",
    "CREATE INDEX IF NOT EXISTS runs_by_host ON runs (hostname, suite, started_at);",
};
static_assert(std::size(k_sqlite_migrations) == k_schema_version);

class SqliteRows final : public Rows {
public:
  SqliteRows(sqlite3* db, const std::string& sql, const std::vector<Value>& params, const std::string& where)
      : m_db(db), m_where(where) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &m_stmt, nullptr) != SQLITE_OK)
      fail("prepare");
    for (std::size_t i = 0; i < params.size(); ++i) {
      int index = static_cast<int>(i + 1);
      const auto& v = params[i];
      int rc = SQLITE_OK;
      if (auto* s = std::get_if<std::string>(&v))
        rc = sqlite3_bind_text(m_stmt, index, s->c_str(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
      else if (auto* d = std::get_if<double>(&v); d && std::isfinite(*d))
        rc = sqlite3_bind_double(m_stmt, index, *d);
      else if (auto* n = std::get_if<std::int64_t>(&v))
        rc = sqlite3_bind_int64(m_stmt, index, *n);
      else
        rc = sqlite3_bind_null(m_stmt, index);
      if (rc != SQLITE_OK)
        fail("bind");
    }
  }
  ~SqliteRows() override { sqlite3_finalize(m_stmt); }
  SqliteRows(const SqliteRows&) = delete;
  SqliteRows& operator=(const SqliteRows&) = delete;

  bool next() override {
    int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW)
      return true;
    if (rc != SQLITE_DONE)
      fail("step");
    return false;
  }
  std::string text(int col) override {
    auto* p = sqlite3_column_text(m_stmt, col);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  double real(int col) override { return sqlite3_column_double(m_stmt, col); }
  std::int64_t integer(int col) override { return sqlite3_column_int64(m_stmt, col); }

private:
  // Also from the constructor, whose throw skips the destructor: the statement goes here.
  [[noreturn]] void fail(const char* what) {
    auto message = fmt::format("history {}: SQLite {} failed: {}", m_where, what, sqlite3_errmsg(m_db));
    sqlite3_finalize(m_stmt);
    m_stmt = nullptr;
    throw Error(message);
  }
  sqlite3* m_db;
  const std::string& m_where;
  sqlite3_stmt* m_stmt = nullptr;
};

class SqliteBackend final : public Backend {
public:
  SqliteBackend(const fs::path& file, bool create) : m_where(file.string()) {
    if (!create && !fs::exists(file))
      throw UsageError("history " + m_where +
                       ": no such database; `virtbench run` creates it in the data directory (--data-dir), or pass "
                       "--db FILE");
    if (create && file.has_parent_path())
      fs::create_directories(file.parent_path());
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(file.c_str(), &m_db, flags, nullptr) != SQLITE_OK) {
      std::string msg = m_db ? sqlite3_errmsg(m_db) : "out of memory";
      sqlite3_close(m_db);
      throw Error("open history " + m_where + ": " + msg);
    }
    sqlite3_busy_timeout(m_db, 10000); // another virtbench may be writing
    try {
      exec("PRAGMA foreign_keys = ON;");
      migrate();
    } catch (...) {
      sqlite3_close(m_db);
      throw;
    }
  }
  ~SqliteBackend() override { sqlite3_close(m_db); }
  SqliteBackend(const SqliteBackend&) = delete;
  SqliteBackend& operator=(const SqliteBackend&) = delete;

  std::unique_ptr<Rows> query(const std::string& sql, const std::vector<Value>& params) override {
    return std::make_unique<SqliteRows>(m_db, sql, params, m_where);
  }
  void begin() override { exec("BEGIN IMMEDIATE;"); }
  void commit() override { exec("COMMIT;"); }
  void rollback() noexcept override { sqlite3_exec(m_db, "ROLLBACK;", nullptr, nullptr, nullptr); }
  int schema_version() override {
    SqliteRows q(m_db, "PRAGMA user_version;", {}, m_where);
    return q.next() ? static_cast<int>(q.integer(0)) : 0;
  }

private:
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(m_db);
      sqlite3_free(err);
      throw Error("history " + m_where + ": " + msg);
    }
  }

  // Brings the schema to k_schema_version in one transaction. Read first without one, so
  // that a store already current is only read (a read-only file still lists).
  void migrate() {
    if (schema_version() == k_schema_version)
      return;
    store::migrate(
        *this, m_where, [this] { return schema_version(); }, [this](int v) { exec(k_sqlite_migrations[v]); },
        [this] { exec(fmt::format("PRAGMA user_version = {};", k_schema_version).c_str()); });
  }

  sqlite3* m_db = nullptr;
  std::string m_where;
};

} // namespace

std::unique_ptr<Backend> open_sqlite(const fs::path& file, bool create) {
  return std::make_unique<SqliteBackend>(file, create);
}

} // namespace virtbench::store
