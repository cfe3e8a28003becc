// compare: verdicts on hand-made samples and on the fixtures of tests/data/results.
#include "compare.hpp"

#include "test_util.hpp"
#include "util/error.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace virtbench;

namespace {

boost::json::object fixture(const std::string& name) {
  return boost::json::parse(test::data_file("results/" + name + "/results.json")).as_object();
}

std::string verdict_of(const char* path, std::vector<double> base, std::vector<double> cand, CompareOptions o = {}) {
  auto b = describe_sample(base), c = describe_sample(cand);
  return decide_verdict(*find_metric(path), b, c, welch_t_test(base, cand), o);
}

const MetricChange& row(const Comparison& c, const std::string& exp, const std::string& metric) {
  for (auto& r : c.rows)
    if (r.experiment == exp && r.def->path == metric)
      return r;
  FAIL("no row " << exp << " " << metric);
  throw 0;
}

} // namespace

TEST_CASE("verdicts follow the metric's direction, the threshold and alpha") {
  std::vector<double> base = {100, 101, 99, 100.5, 99.5};
  std::vector<double> lower = {80, 81, 79, 80.5, 79.5};
  std::vector<double> higher = {120, 121, 119, 120.5, 119.5};
  CHECK(verdict_of("metrics.events_per_sec", base, lower) == verdict::regressed);
  CHECK(verdict_of("metrics.events_per_sec", base, higher) == verdict::improved);
  CHECK(verdict_of("metrics.latency_ms.avg", base, lower) == verdict::improved);
  CHECK(verdict_of("metrics.latency_ms.avg", base, higher) == verdict::regressed);
  CompareOptions loose;
  loose.max_regression_pct = 25;
  CHECK(verdict_of("metrics.events_per_sec", base, lower, loose) == verdict::no_change);
  // Significant but only 2% worse: below the 5% threshold.
  CHECK(verdict_of("metrics.events_per_sec", base, {98, 99, 97, 98.5, 97.5}) == verdict::no_change);
  // 20% worse on average, but far too noisy to say (p > 0.05).
  CHECK(verdict_of("metrics.events_per_sec", base, {40, 130, 70, 110, 50}) == verdict::no_change);
  CHECK(verdict_of("metrics.events_per_sec", base, {80}) == verdict::insufficient);
  CHECK(verdict_of("metrics.events_per_sec", {5, 5, 5}, {5, 5, 5}) == verdict::no_change);
  CHECK(verdict_of("metrics.events_per_sec", {5, 5, 5}, {4, 4, 4}) == verdict::insufficient);
  // CPU accounting is informative: it moves, it does not regress.
  CHECK(verdict_of("cpu.host.kernel_pct", base, higher) == verdict::higher);
}

TEST_CASE("compare: two real runs of one build, then 20% slower and faster CPU") {
  auto a = fixture("native-a");
  auto same = compare_results(a, fixture("native-b"), {});
  for (auto* exp : {"exp1-cpu-2000", "exp2-cpu-20000"})
    for (auto* m : {"metrics.events_per_sec", "metrics.latency_ms.avg", "metrics.latency_ms.p95"})
      CHECK_MESSAGE(row(same, exp, m).verdict == verdict::no_change, exp << " " << m);

  auto slower = compare_results(a, fixture("native-a-cpu-20pct-slower"), {});
  for (auto* exp : {"exp1-cpu-2000", "exp2-cpu-20000"}) {
    auto& r = row(slower, exp, "metrics.events_per_sec");
    CHECK(r.verdict == verdict::regressed);
    CHECK(r.ratio.estimate == doctest::Approx(0.8).epsilon(1e-4));
    CHECK(r.ratio.high < 1);
  }
  CHECK(slower.regressions == 2);
  auto faster = compare_results(a, fixture("native-a-cpu-20pct-faster"), {});
  CHECK(row(faster, "exp1-cpu-2000", "metrics.events_per_sec").verdict == verdict::improved);
  CHECK(faster.regressions == 0);
}

TEST_CASE("compare: different suites are bad input that names the experiments") {
  auto a = fixture("native-a");
  auto b = fixture("native-a");
  auto& exps = b["suite"].as_object()["experiments"].as_array();
  exps[1].as_object()["args"].as_array()[0] = "--cpu-max-prime=30000";
  exps.erase(exps.begin() + 3);
  auto& runs = b["runs"].as_array();
  for (auto it = runs.begin(); it != runs.end();)
    it = it->as_object()["experiment"] == "exp4-fileio-rndrw-async" ? runs.erase(it) : it + 1;
  try {
    compare_results(a, b, {});
    FAIL("no error");
  } catch (const UsageError& e) {
    std::string msg = e.what();
    CHECK(msg.find("\"exp2-cpu-20000\" differs") != std::string::npos);
    CHECK(msg.find("--cpu-max-prime=30000") != std::string::npos);
    CHECK(msg.find("\"exp4-fileio-rndrw-async\" is only in BASE") != std::string::npos);
  }
}

TEST_CASE("fingerprints: a different cache mode or accelerator is listed, run-specific paths are not") {
  auto base = boost::json::parse(R"json({"host": {"cpu_model": "X", "cpus": 2, "kernel": "6.1"},
    "platforms": [{"name": "qemu", "accel": "tcg", "cache_mode": "none", "fileio_storage": "/a", "boot_to_ready_s": 3.1},
                  {"name": "native"}]})json").as_object();
  auto same = base;
  same["platforms"].as_array()[0].as_object()["fileio_storage"] = "/b";
  same["platforms"].as_array()[0].as_object()["boot_to_ready_s"] = 4.2;
  CHECK(fingerprint_differences(base, same).empty());

  auto other = base;
  other["platforms"].as_array()[0].as_object()["cache_mode"] = "writeback";
  other["host"].as_object()["kernel"] = "6.2";
  auto diffs = fingerprint_differences(base, other);
  REQUIRE(diffs.size() == 2);
  CHECK(diffs[0] == "host.kernel: 6.1 -> 6.2");
  CHECK(diffs[1] == "qemu.cache_mode: none -> writeback");
}
