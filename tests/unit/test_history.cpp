// history.sqlite: add, list, pick a baseline.
#include "history.hpp"

#include "test_util.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace virtbench;

namespace {
boost::json::object fixture(const std::string& name) {
  return boost::json::parse(test::data_file("results/" + name + "/results.json")).as_object();
}
boost::json::object at(boost::json::object doc, const char* started) {
  doc["started_at"] = started;
  return doc;
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
