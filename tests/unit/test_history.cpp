// The results store: add, list, pick a baseline, by host; --db's classification and its
// refusal of passwords; the SQLite schema's migration. (The PostgreSQL backend against a
// real server: tests/integration/test_store_pg.py.)
#include "history.hpp"

#include "store.hpp"
#include "test_util.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <sqlite3.h>

using namespace virtbench;

namespace {
boost::json::object fixture(const std::string& name) {
  return boost::json::parse(test::data_file("results/" + name + "/results.json")).as_object();
}
boost::json::object at(boost::json::object doc, const char* started) {
  doc["started_at"] = started;
  return doc;
}
boost::json::object on_host(boost::json::object doc, const char* hostname) {
  doc["host"].as_object()["hostname"] = hostname;
  return doc;
}
std::string usage_error(const std::string& db) {
  try {
    store_location(db, "/data");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}
} // namespace

TEST_CASE("history: runs go in once, list over time, and give baselines") {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-history-");
  auto db = dir.path() / "history.sqlite";
  CHECK_THROWS_AS(History(db, false), UsageError);
  History h(db, true);
  auto old_slow = at(fixture("native-a-cpu-20pct-slower"), "2026-11-01T00:00:00Z");
  auto mid_fast = at(fixture("native-a-cpu-20pct-faster"), "2026-11-02T00:00:00Z");
  auto newest = at(fixture("native-a"), "2026-11-03T00:00:00Z");
  auto id_slow = h.add(old_slow, {});
  CHECK(id_slow.rfind("20261101T000000-", 0) == 0);
  CHECK(h.add(old_slow, {}) == id_slow); // same results, same id: replaced, not duplicated
  auto id_fast = h.add(mid_fast, {});
  auto id_new = h.add(newest, {});

  HistoryFilter f;
  f.platform = "native";
  f.experiment = "exp1-cpu-2000";
  auto rows = h.query(f);
  REQUIRE(rows.size() == 3); // headline metric only, once per run
  CHECK(rows[0].run_id == id_slow);
  CHECK(rows[2].run_id == id_new);
  CHECK(rows[0].metric == "metrics.events_per_sec");
  CHECK(rows[0].mean == doctest::Approx(rows[2].mean * 0.8).epsilon(1e-4));
  f.metric = "p95";
  rows = h.query(f);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].metric == "metrics.latency_ms.p95");
  f.metric = "nonsense";
  CHECK_THROWS_AS(h.query(f), UsageError);

  // The candidate is the newest run itself (as after `virtbench run`): it is skipped.
  std::string chosen;
  h.baseline_for("last", newest, chosen);
  CHECK(chosen == id_fast);
  h.baseline_for("best", newest, chosen);
  CHECK(chosen == id_fast);
  auto base = h.baseline_for(id_slow.substr(0, 20), newest, chosen);
  CHECK(chosen == id_slow);
  CHECK(base.at("started_at").as_string() == "2026-11-01T00:00:00Z");
  CHECK_THROWS_AS(h.baseline_for("2026", newest, chosen), UsageError);
  CHECK_THROWS_AS(h.baseline_for("nope", newest, chosen), UsageError);
  auto other = newest;
  other["suite"].as_object()["name"] = "coen241-hw1";
  CHECK_THROWS_AS(h.baseline_for("last", other, chosen), UsageError);
}

TEST_CASE("history: --limit N gives the newest N runs that match the filters, not the newest N runs") {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-history-");
  History h(dir.path() / "history.sqlite", true);
  // Suite "quick" on native: three runs.
  auto q1 = h.add(at(fixture("native-a-cpu-20pct-slower"), "2026-11-01T00:00:00Z"), {});
  auto q2 = h.add(at(fixture("native-a-cpu-20pct-faster"), "2026-11-02T00:00:00Z"), {});
  auto q3 = h.add(at(fixture("native-a"), "2026-11-03T00:00:00Z"), {});
  // Newer runs that must not count: another suite (all three platforms), then suite
  // "quick" on docker and qemu only.
  for (const char* started : {"2026-11-04T00:00:00Z", "2026-11-05T00:00:00Z"}) {
    auto other = at(fixture("three-platforms"), started);
    other["suite"].as_object()["name"] = "other";
    h.add(other, {});
  }
  auto no_native = at(fixture("three-platforms"), "2026-11-06T00:00:00Z");
  boost::json::array runs;
  for (auto& r : no_native["runs"].as_array())
    if (r.as_object().at("platform").as_string() != "native")
      runs.push_back(r);
  no_native["runs"] = runs;
  auto vm_only = h.add(no_native, {});

  HistoryFilter f;
  f.suite = "quick";
  f.platform = "native";
  f.experiment = "exp1-cpu-2000";
  f.limit = 2;
  auto rows = h.query(f);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].run_id == q2);
  CHECK(rows[1].run_id == q3);
  CHECK(rows[0].suite == "quick");
  CHECK(rows[1].platform == "native");

  f.limit = 5; // more than match: every matching run
  rows = h.query(f);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].run_id == q1);

  f.platform = "qemu"; // the newest quick run on qemu is the one without native
  f.limit = 1;
  rows = h.query(f);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].run_id == vm_only);

  f.suite.clear(); // no filters but the platform: newest run on native is an "other" one
  f.platform = "native";
  rows = h.query(f);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].suite == "other");
  CHECK(rows[0].started_at == "2026-11-05T00:00:00Z");
}

TEST_CASE("store: --db is a SQLite file unless it is a postgresql:// or postgres:// URL") {
  auto d = store_location("", "/data");
  CHECK(d.kind == StoreLocation::Kind::sqlite);
  CHECK(d.target == "/data/history.sqlite");
  CHECK_FALSE(d.given);
  auto f = store_location("runs.sqlite", "/data");
  CHECK(f.kind == StoreLocation::Kind::sqlite);
  CHECK(f.target == "runs.sqlite");
  CHECK(f.given);
  for (const char* url : {"postgresql://bench@db.example/virtbench", "postgres://db.example:5433/virtbench",
                          "PostgreSQL://bench@[::1]/vb?sslmode=require", "postgresql:///vb?host=/run/postgresql",
                          "postgresql://bench@db/vb?passfile=/etc/virtbench/pgpass"}) {
    INFO(url);
    auto p = store_location(url, "/data");
    CHECK(p.kind == StoreLocation::Kind::postgresql);
    CHECK(p.target == url);
    CHECK(p.given);
  }
  // Not URLs of PostgreSQL: files with odd names.
  for (const char* file : {"postgresql", "postgresql:/x", "./postgresql://x", "mysql://h/db"})
    CHECK(store_location(file, "/data").kind == StoreLocation::Kind::sqlite);
}

TEST_CASE("store: a URL holding a password is refused without repeating the password") {
  for (const char* url : {"postgresql://bench:s3cret@db.example/virtbench", "postgres://bench:@db/vb",
                          "postgresql://db.example/virtbench?password=s3cret",
                          "postgresql://db/vb?sslmode=require&pass%77ord=s3cret", "postgresql://:s3cret@db/vb"}) {
    INFO(url);
    auto message = usage_error(url);
    REQUIRE_FALSE(message.empty());
    CHECK(message.find("s3cret") == std::string::npos);
    CHECK(message.find("~/.pgpass") != std::string::npos);
    CHECK(message.find("PGPASSFILE") != std::string::npos);
    CHECK(message.find("***") != std::string::npos);
  }
  CHECK(usage_error("postgresql://bench:s3cret@db.example/virtbench").rfind("--db postgresql://bench:***@db.example/virtbench:", 0) == 0);
  // A user name alone, a passfile, a parameter that only contains "password": accepted.
  CHECK(usage_error("postgresql://bench@db/vb?passfile=/p").empty());
  CHECK(usage_error("postgresql://db/vb?application_name=password").empty());
}

TEST_CASE("store: a PostgreSQL server that is not there is one line naming the URL, exit 1; a bad URL exit 2") {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-nopg-");
  // A socket directory with no server in it: nothing leaves the host.
  auto url = "postgresql:///vb?host=" + dir.path().string();
  try {
    History h(store_location(url, "/data"), true);
    FAIL("connected to nothing");
  } catch (const UsageError& e) {
    FAIL(e.what());
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.find(url) != std::string::npos);
    CHECK(m.find('\n') == std::string::npos);
    CHECK(m.find("pg_isready") != std::string::npos);
  }
  CHECK_THROWS_AS(History(store_location("postgresql://localhost:notaport/vb", "/data"), true), UsageError);
}

TEST_CASE("store: a history.sqlite of the schema before versioning is migrated, its runs kept") {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-history-");
  auto db = dir.path() / "history.sqlite";
  {
    // The schema and rows as virtbench wrote them before the store had versions.
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
    const char* old = R"(
CREATE TABLE runs (run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, suite TEXT NOT NULL,
  hostname TEXT, virtbench_version TEXT, dir TEXT, complete INTEGER NOT NULL, results TEXT NOT NULL);
CREATE TABLE metrics (run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, platform TEXT NOT NULL,
  experiment TEXT NOT NULL, metric TEXT NOT NULL, headline INTEGER NOT NULL, higher_is_better INTEGER NOT NULL,
  n INTEGER NOT NULL, mean REAL, stddev REAL, ci_low REAL, ci_high REAL, cv REAL,
  PRIMARY KEY (run_id, platform, experiment, metric));
CREATE INDEX runs_by_suite ON runs (suite, started_at);
INSERT INTO runs VALUES ('20261101T000000-abcdef', '2026-11-01T00:00:00Z', NULL, 'quick', 'vm', '0.1', '/r', 1, '{}');
INSERT INTO metrics VALUES ('20261101T000000-abcdef', 'native', 'cpu', 'metrics.events_per_sec', 1, 1, 3, 1234.5,
  1, 1, 2, 0.01);
)";
    REQUIRE(sqlite3_exec(raw, old, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  History h(db, false);
  CHECK(h.schema_version() == store::k_schema_version);
  auto rows = h.query({});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].run_id == "20261101T000000-abcdef");
  CHECK(rows[0].mean == 1234.5);
  CHECK(rows[0].hostname == "vm");
  h.add(at(fixture("native-a"), "2026-11-03T00:00:00Z"), {});
  HistoryFilter f;
  f.experiment = "cpu";
  CHECK(h.query(f).size() == 1);
  History again(db, false); // a current schema is opened as it is
  CHECK(again.schema_version() == store::k_schema_version);
}

TEST_CASE("store: last and best come from the candidate's host unless any host; the lookback too") {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-history-");
  History h(dir.path() / "history.sqlite", true);
  auto here_old = h.add(at(fixture("native-a-cpu-20pct-slower"), "2026-11-01T00:00:00Z"), {});
  auto there_new = h.add(on_host(at(fixture("native-a-cpu-20pct-faster"), "2026-11-02T00:00:00Z"), "bench-2"), {});
  auto candidate = at(fixture("native-a"), "2026-11-03T00:00:00Z");
  h.add(candidate, {});
  std::string chosen;
  h.baseline_for("last", candidate, chosen);
  CHECK(chosen == here_old);
  h.baseline_for("last", candidate, chosen, true);
  CHECK(chosen == there_new);
  h.baseline_for("best", candidate, chosen);
  CHECK(chosen == here_old);
  h.baseline_for("best", candidate, chosen, true);
  CHECK(chosen == there_new);
  h.baseline_for(there_new, candidate, chosen); // a run id: whichever host it is from
  CHECK(chosen == there_new);
  auto elsewhere = on_host(candidate, "bench-3");
  try {
    h.baseline_for("last", elsewhere, chosen);
    FAIL("a baseline from another host");
  } catch (const UsageError& e) {
    CHECK(std::string(e.what()).find("on host \"bench-3\"") != std::string::npos);
    CHECK(std::string(e.what()).find("--any-host") != std::string::npos);
  }
  auto all = [](const boost::json::object&) { return true; };
  auto here = h.lookback_runs(candidate, {}, 10, true, all);
  REQUIRE(here.size() == 1);
  CHECK(here[0].first == here_old);
  CHECK(h.lookback_runs(candidate, {}, 10, true, all, true).size() == 2);

  HistoryFilter f;
  f.hostname = "bench-2";
  auto rows = h.query(f);
  REQUIRE_FALSE(rows.empty());
  for (auto& r : rows)
    CHECK(r.run_id == there_new);
}

TEST_CASE("store: recording a run warns for the default store and fails for one named by --db") {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-history-");
  auto out = dir.path() / "run";
  std::filesystem::create_directories(out);
  write_file_atomic(out / "results.json", boost::json::serialize(fixture("native-a")));
  write_file_atomic(dir.path() / "not-a-dir", "");
  std::vector<std::string> logged;
  auto log = [&](const std::string& line) { logged.push_back(line); };
  // The store's directory is a file: it cannot be made.
  auto broken = store_location("", dir.path() / "not-a-dir");
  CHECK_NOTHROW(record_history(out, broken, log));
  REQUIRE(logged.size() == 1);
  CHECK(logged[0].rfind("warning: history not updated: ", 0) == 0);
  auto named = store_location((dir.path() / "not-a-dir" / "h.sqlite").string(), "/data");
  try {
    record_history(out, named, log);
    FAIL("a store named by --db failed quietly");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.find("its results stay in " + out.string()) != std::string::npos);
    CHECK(m.find("virtbench history --add " + out.string() + " --db " + named.target) != std::string::npos);
  }
  auto good = store_location((dir.path() / "h.sqlite").string(), "/data");
  record_history(out, good, log);
  CHECK(logged.back().rfind("history: recorded run ", 0) == 0);
  CHECK(History(good, false).query({}).size() == 4);
}
