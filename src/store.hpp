#pragma once
// The results store's backends (history.cpp is their one user): a SQLite file and a
// PostgreSQL database through libpq. Each hides in its own .cpp behind a factory that
// opens it and creates or migrates its schema (versioned, in one transaction). SQL goes
// in with numbered parameters, ?1 ?2 ..., which both backends take.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace virtbench::store {

// The schema version this virtbench writes: 1 the tables runs and metrics, 2 the index
// runs_by_host (history and compare filter by host).
inline constexpr int k_schema_version = 2;

// A parameter: NULL, text, a number (NaN and infinities go in as NULL) or an integer.
using Value = std::variant<std::monostate, std::string, double, std::int64_t>;

// A query's rows, read one at a time. NULL reads as "" or 0.
class Rows {
public:
  virtual ~Rows() = default;
  virtual bool next() = 0; // true while there is a row
  virtual std::string text(int column) = 0;
  virtual double real(int column) = 0;
  virtual std::int64_t integer(int column) = 0;
};

class Backend {
public:
  virtual ~Backend() = default;
  // Runs one statement with numbered parameters ?1, ?2 ...; throws Error naming the store.
  virtual std::unique_ptr<Rows> query(const std::string& sql, const std::vector<Value>& params) = 0;
  // A write transaction: begin() ... commit(); rollback() on failure (never throws).
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  // The schema version stored (after the open's migration: k_schema_version).
  virtual int schema_version() = 0;
};

// A backend's migration, the same steps for each: in one write transaction, lock and read
// the stored version (refusing one newer than k_schema_version), apply each missing
// migration (`apply(K)` takes version K to K+1), write the version; rolled back on failure.
void migrate(Backend& backend, const std::string& where, const std::function<int()>& lock_and_read_version,
             const std::function<void(int)>& apply, const std::function<void()>& write_version);

// Opens (creating when `create`) the SQLite file and migrates its schema; a file without
// a version (virtbench before versioning) is version 0 with the tables of version 1.
// Throws UsageError when the file does not exist and `create` is false.
std::unique_ptr<Backend> open_sqlite(const std::filesystem::path& file, bool create);

// Connects to the PostgreSQL URL (password from libpq's places only: the caller refused
// one in the URL) and, under an advisory lock, creates or migrates the schema. Throws
// UsageError for bad input (authentication, no such database or role, a bad URL; with the
// fix) and Error when the server cannot be reached; both name the URL. With `create`
// false, a database without virtbench's tables is a UsageError.
std::unique_ptr<Backend> open_postgresql(const std::string& url, bool create);

} // namespace virtbench::store
