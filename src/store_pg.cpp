// The PostgreSQL backend of the results store (store.hpp), through libpq: one database
// that several hosts write to. The schema version lives in the table schema_version; the
// migration runs under a transaction-scoped advisory lock, so hosts that start at once
// migrate one after the other. Values travel as text (numbers in their shortest exact form).
#include "store.hpp"

#include "util/error.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace virtbench::store {

namespace {

// The advisory lock taken around a migration (any number, the same in every virtbench).
constexpr std::int64_t k_migration_lock = 0x7669727462656e63; // "virtbenc"

const char* const k_pg_migrations[] = {
    R"(
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  suite TEXT NOT NULL,
  hostname TEXT,
  virtbench_version TEXT,
  dir TEXT,
  complete INTEGER NOT NULL,
  results TEXT NOT NULL
);
CREATE TABLE metrics (
  run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  platform TEXT NOT NULL,
  experiment TEXT NOT NULL,
  metric TEXT NOT NULL,
  headline INTEGER NOT NULL,
  higher_is_better INTEGER NOT NULL,
  n INTEGER NOT NULL,
  mean DOUBLE PRECISION, stddev DOUBLE PRECISION, ci_low DOUBLE PRECISION, ci_high DOUBLE PRECISION,
  cv DOUBLE PRECISION,
  PRIMARY KEY (run_id, platform, experiment, metric)
);
CREATE INDEX runs_by_suite ON runs (suite, started_at);
)",
    "CREATE INDEX runs_by_host ON runs (hostname, suite, started_at);",
};
static_assert(std::size(k_pg_migrations) == k_schema_version);

// libpq's messages span lines ("connection to server ... failed: FATAL:  ..."): one line.
std::string one_line(const char* message) {
  std::string out;
  bool space = false;
  for (const char* p = message ? message : ""; *p; ++p) {
    bool ws = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space)
      out += ' ';
    space = false;
    out += *p;
  }
  return out.empty() ? "unknown error" : out;
}

// ?1 ?2 ... as PostgreSQL's $1 $2 ... (virtbench's SQL has no '?' in its string literals).
std::string numbered_parameters(const std::string& sql) {
  std::string out = sql;
  for (std::size_t i = 0; i + 1 < out.size(); ++i)
    if (out[i] == '?' && out[i + 1] >= '0' && out[i + 1] <= '9')
      out[i] = '$';
  return out;
}

std::string as_text(const Value& v, bool& is_null) {
  is_null = false;
  if (auto* s = std::get_if<std::string>(&v))
    return *s;
  if (auto* d = std::get_if<double>(&v); d && std::isfinite(*d))
    return fmt::format("{}", *d); // shortest form that reads back exactly
  if (auto* n = std::get_if<std::int64_t>(&v))
    return std::to_string(*n);
  is_null = true;
  return {};
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

class PgRows final : public Rows {
public:
  explicit PgRows(Result result) : m_result(std::move(result)), m_count(PQntuples(m_result.get())) {}
  bool next() override { return ++m_row < m_count; }
  std::string text(int col) override {
    return PQgetisnull(m_result.get(), m_row, col) ? std::string() : PQgetvalue(m_result.get(), m_row, col);
  }
  double real(int col) override {
    auto s = text(col);
    double v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  std::int64_t integer(int col) override {
    auto s = text(col);
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }

private:
  Result m_result;
  int m_count;
  int m_row = -1;
};

// The connection failed: bad input (exit 2) or the server unreachable (exit 1), one line
// with the URL and the fix.
[[noreturn]] void connect_failed(const std::string& url, const std::string& cause) {
  auto has = [&](const char* s) { return cause.find(s) != std::string::npos; };
  auto where = "connect to the results store " + url + ": " + cause;
  if (has("password authentication failed") || has("no password supplied") || has("authentication failed"))
    throw UsageError(where + "; put the role's password in ~/.pgpass or the file PGPASSFILE names "
                             "(host:port:database:user:password, mode 0600)");
  if (has("database \"") && has("does not exist"))
    throw UsageError(where + "; create it (createdb -O USER DB on the server) or name an existing one in the URL");
  if (has("role \"") && has("does not exist"))
    throw UsageError(where + "; create the role (createuser) or name another as USER@ in the URL");
  if (has("invalid") || has("missing \"=\"") || has("unexpected"))
    throw UsageError(where + "; the URL reads postgresql://USER@HOST[:PORT]/DATABASE[?PARAM=VALUE&...]");
  if (has("could not translate host name"))
    throw UsageError(where + "; check the host name in the URL");
  throw Error(where + "; is the server running and listening there? (pg_isready -d URL tells)");
}

class PgBackend final : public Backend {
public:
  PgBackend(const std::string& url, bool create) : m_where(url) {
    // Defaults before the URL, so that the URL's own parameters override them.
    const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
    const char* values[] = {"10", "virtbench", url.c_str(), nullptr};
    m_conn = PQconnectdbParams(keys, values, 1);
    if (!m_conn)
      throw Error("connect to the results store " + url + ": libpq is out of memory");
    if (PQstatus(m_conn) != CONNECTION_OK) {
      auto cause = one_line(PQerrorMessage(m_conn));
      PQfinish(m_conn);
      connect_failed(url, cause);
    }
    PQsetNoticeProcessor(m_conn, [](void*, const char*) {}, nullptr); // no NOTICE lines on stderr
    try {
      migrate(create);
    } catch (...) {
      PQfinish(m_conn);
      throw;
    }
  }
  ~PgBackend() override { PQfinish(m_conn); }
  PgBackend(const PgBackend&) = delete;
  PgBackend& operator=(const PgBackend&) = delete;

  std::unique_ptr<Rows> query(const std::string& sql, const std::vector<Value>& params) override {
    return std::make_unique<PgRows>(run(numbered_parameters(sql), params));
  }
  void begin() override { run("BEGIN", {}); }
  void commit() override { run("COMMIT", {}); }
  void rollback() noexcept override { PQclear(PQexec(m_conn, "ROLLBACK")); }
  int schema_version() override {
    // Two statements: PostgreSQL resolves the table of a query before it runs any of it.
    PgRows exists(run("SELECT to_regclass('schema_version') IS NOT NULL", {}));
    if (!exists.next() || exists.text(0) != "t")
      return 0;
    PgRows version(run("SELECT coalesce(max(version), 0) FROM schema_version", {}));
    return version.next() ? static_cast<int>(version.integer(0)) : 0;
  }

private:
  Result run(const std::string& sql, const std::vector<Value>& params) {
    std::vector<std::string> text(params.size());
    std::vector<const char*> pointers(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      bool is_null = false;
      text[i] = as_text(params[i], is_null);
      pointers[i] = is_null ? nullptr : text[i].c_str();
    }
    Result r(PQexecParams(m_conn, sql.c_str(), static_cast<int>(params.size()), nullptr, pointers.data(), nullptr,
                          nullptr, 0));
    auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      auto cause = one_line(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(m_conn));
      if (PQstatus(m_conn) == CONNECTION_BAD)
        throw Error("history " + m_where + ": the connection to the server was lost: " + cause);
      throw Error("history " + m_where + ": " + cause);
    }
    return r;
  }

  void migrate(bool create) {
    int version = schema_version();
    if (version == k_schema_version)
      return;
    if (version == 0 && !create)
      throw UsageError("history " + m_where +
                       ": this database holds no virtbench results yet; `virtbench run --db URL` or `virtbench "
                       "history --add DIR --db URL` creates the tables");
    auto lock_and_read_version = [this] {
      run(fmt::format("SELECT pg_advisory_xact_lock({})", k_migration_lock), {});
      run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", {});
      return schema_version();
    };
    auto apply = [this](int v) {
      auto r = Result(PQexec(m_conn, k_pg_migrations[v])); // several statements: the simple protocol
      if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
        throw Error(fmt::format("history {}: schema migration to version {} failed: {}", m_where, v + 1,
                                one_line(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(m_conn))));
    };
    auto write_version = [this] {
      run("DELETE FROM schema_version", {});
      std::vector<Value> params{std::int64_t{k_schema_version}};
      run("INSERT INTO schema_version (version) VALUES ($1)", params);
    };
    store::migrate(*this, m_where, lock_and_read_version, apply, write_version);
  }

  PGconn* m_conn = nullptr;
  std::string m_where;
};

} // namespace

std::unique_ptr<Backend> open_postgresql(const std::string& url, bool create) {
  return std::make_unique<PgBackend>(url, create);
}

} // namespace virtbench::store
