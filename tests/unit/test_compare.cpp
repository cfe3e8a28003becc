// compare: verdicts under the noise model, on the fixtures of tests/data/results and
// documents scaled from them (a host that drifts, a platform that got slower).
#include "compare.hpp"
#include "registry.hpp"

#include "test_util.hpp"
#include "util/error.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <cmath>

using namespace virtbench;

namespace {

boost::json::object fixture(const std::string& name) {
  return boost::json::parse(test::data_file("results/" + name + "/results.json")).as_object();
}

// Every throughput of `platform` (all platforms when empty) × factor and every latency
// ÷ factor: the platform (or the whole host) is `factor` times as fast. A distinct
// started_at keeps the run ids apart.
boost::json::object scaled(boost::json::object doc, const std::string& platform, double factor, int id = 0) {
  for (auto& rv : doc["runs"].as_array()) {
    auto& r = rv.as_object();
    if (!platform.empty() && r["platform"].as_string() != platform)
      continue;
    auto* m = r.if_contains("metrics");
    if (!m)
      continue;
    for (auto& [k, v] : m->as_object()) {
      if (k.ends_with("_per_sec") || k.ends_with("_per_s") || k.ends_with("_mib_s"))
        v = v.to_number<double>() * factor;
      if (k == "latency_ms")
        for (auto& [lk, lv] : v.as_object())
          if (lk != "sum")
            lv = lv.to_number<double>() / factor;
    }
  }
  if (id)
    doc["started_at"] = "2026-11-20T00:00:" + std::to_string(10 + id) + "Z";
  return doc;
}

const MetricChange& row(const Comparison& c, const std::string& exp, const std::string& metric,
                        const std::string& platform = "native") {
  for (auto& r : c.rows)
    if (r.experiment == exp && r.def->path == metric && r.platform == platform)
      return r;
  FAIL("no row " << exp << " " << platform << " " << metric);
  throw 0;
}

const MetricDef& events = *find_metric("metrics.events_per_sec");
const MetricDef& latency = *find_metric("metrics.latency_ms.avg");

// A lookback of five earlier runs of native-a's suite whose host drifted by ±2.4% (sd),
// more than native-a's exp2 iterations explain (cv 3.3%: 1.5% for a mean of 5).
Lookback drifting_lookback(const boost::json::object& doc) {
  Lookback l;
  std::vector<boost::json::object> docs;
  for (double f : {0.97, 1.0, 1.03, 0.985, 1.015})
    docs.push_back(scaled(doc, "", f, static_cast<int>(docs.size()) + 1));
  for (std::size_t i = 0; i < docs.size(); ++i)
    l.add_run(analyze(docs[i]), "run-" + std::to_string(i));
  return l;
}

} // namespace

TEST_CASE("verdicts follow the metric's direction, the threshold, the adjusted p and the interval") {
  CompareOptions o; // 5%, alpha 0.01
  double down20 = std::log(0.8), up20 = std::log(1.2);
  CHECK(decide_verdict(events, down20, down20 - 0.02, down20 + 0.02, 0.001, o) == verdict::regressed);
  CHECK(decide_verdict(events, up20, up20 - 0.02, up20 + 0.02, 0.001, o) == verdict::improved);
  CHECK(decide_verdict(latency, down20, down20 - 0.02, down20 + 0.02, 0.001, o) == verdict::improved);
  CHECK(decide_verdict(latency, up20, up20 - 0.02, up20 + 0.02, 0.001, o) == verdict::regressed);
  // Significant but only 2% worse, its interval within the threshold: no change.
  CHECK(decide_verdict(events, std::log(0.98), std::log(0.97), std::log(0.99), 0.001, o) == verdict::no_change);
  // 20% worse but not significant after correction: the interval reaches past the threshold, so
  // neither "no change" nor "regressed" can be said.
  CHECK(decide_verdict(events, down20, std::log(0.6), std::log(1.05), 0.2, o) == verdict::undecided);
  // Not significant, interval from −4% to +10%: it excludes a regression beyond 5%.
  CHECK(decide_verdict(events, std::log(1.03), std::log(0.96), std::log(1.10), 0.3, o) == verdict::no_change);
  CompareOptions loose;
  loose.max_regression_pct = 25;
  CHECK(decide_verdict(events, down20, down20 - 0.02, down20 + 0.02, 0.001, loose) == verdict::no_change);
}

TEST_CASE("native without history: the noise is unknown, not guessed from the iterations") {
  auto a = fixture("native-a");
  auto c = compare_results(a, fixture("native-a-cpu-20pct-slower"), {});
  auto& r = row(c, "exp1-cpu-2000", "metrics.events_per_sec");
  CHECK(r.verdict == verdict::noise_unknown);
  CHECK(r.ratio.estimate == doctest::Approx(0.8).epsilon(1e-4));
  CHECK_FALSE(r.ratio.bounded);
  CHECK(r.advice.find("virtbench calibrate") != std::string::npos);
  CHECK(c.regressions == 0);
  CHECK(c.undecided > 0);
  bool noted = false;
  for (auto& n : c.notes)
    noted = noted || n.find("noise unknown") != std::string::npos;
  CHECK(noted);
}

TEST_CASE("--noise iterations: the old model, on two real runs and a 20% slower CPU") {
  CompareOptions o;
  o.noise = NoiseModel::iterations;
  auto a = fixture("native-a");
  auto same = compare_results(a, fixture("native-b"), o);
  CHECK(same.regressions == 0);
  auto slower = compare_results(a, fixture("native-a-cpu-20pct-slower"), o);
  // exp2's iterations vary by 3%: 20% is decided. exp1's vary by 8% (an outlier among
  // five): with the two-sided test and Holm's equal weights over the call's 24 metrics it
  // was only undecided (adjusted p 0.039); one-sided, with the 4 headline metrics sharing
  // 90% of the weight, its p 0.00085 adjusts to 0.0029, so it is decided too.
  auto& r = row(slower, "exp2-cpu-20000", "metrics.events_per_sec");
  CHECK(r.verdict == verdict::regressed);
  CHECK(r.noise == "iterations");
  CHECK(r.ratio.estimate == doctest::Approx(0.8).epsilon(1e-4));
  CHECK(r.ratio.high < 1);
  CHECK(r.p_adjusted >= r.p);
  auto& r1 = row(slower, "exp1-cpu-2000", "metrics.events_per_sec");
  CHECK(r1.verdict == verdict::regressed);
  CHECK(r1.ratio.high < 1); // a regressed metric's interval lies wholly on the worse side
  CHECK(slower.regressions == 2);
  CHECK(slower.family > 10); // every performance metric of the call is in Holm's family
  CHECK(slower.family_headlines == 4);
  CHECK(r.weight == doctest::Approx(0.9 / 4));
  // Without the headline weighting (every metric the same weight) exp1 is undecided again.
  CompareOptions equal = o;
  equal.headline_weight = static_cast<double>(slower.family_headlines) / static_cast<double>(slower.family);
  auto unweighted = compare_results(a, fixture("native-a-cpu-20pct-slower"), equal);
  CHECK(row(unweighted, "exp1-cpu-2000", "metrics.events_per_sec").verdict == verdict::undecided);
  auto faster = compare_results(a, fixture("native-a-cpu-20pct-faster"), o);
  CHECK(row(faster, "exp2-cpu-20000", "metrics.events_per_sec").verdict == verdict::improved);
  CHECK(faster.regressions == 0);
}

TEST_CASE("history as the noise model: drift between runs widens the interval") {
  auto a = fixture("native-a");
  auto lookback = drifting_lookback(a);
  auto spread = lookback.spread("exp2-cpu-20000", "native", "metrics.events_per_sec", Basis::absolute);
  REQUIRE(spread);
  CHECK(spread->runs == 5);
  CHECK(spread->drift_var() > 0);
  auto slower = compare_results(a, scaled(a, "", 0.7, 8), {}, &lookback);
  auto& r = row(slower, "exp2-cpu-20000", "metrics.events_per_sec");
  CHECK(r.noise == "history (5 runs)");
  // Both runs are draws from the lookback's distribution of runs: 2 s² in all.
  CHECK(r.between_var + r.within_var == doctest::Approx(2 * spread->var_log));
  CHECK(r.df == doctest::Approx(4));
  CHECK(r.verdict == verdict::regressed);
  // The same build, 1% apart: no regression at all.
  auto same = compare_results(a, scaled(a, "", 0.99, 9), {}, &lookback);
  CHECK(same.regressions == 0);
  // The interval is wider than the iterations alone would make it.
  CompareOptions it;
  it.noise = NoiseModel::iterations;
  auto narrow = compare_results(a, scaled(a, "", 0.7, 8), it, &lookback);
  auto& n = row(narrow, "exp2-cpu-20000", "metrics.events_per_sec");
  CHECK(n.ratio.high - n.ratio.low < r.ratio.high - r.ratio.low);
}

TEST_CASE("virtualized platforms: the ratio to native cancels the host's drift") {
  auto a = fixture("three-platforms");
  // The whole host 10% slower in the candidate: native's absolute figures moved (noise
  // unknown without history), docker's and qemu's ratios to native did not.
  auto c = compare_results(a, scaled(a, "", 0.9, 1), {});
  CHECK(c.regressions == 0);
  CHECK(row(c, "exp1-cpu-2000", "metrics.events_per_sec").verdict == verdict::noise_unknown);
  for (auto* p : {"docker", "qemu"}) {
    auto& r = row(c, "exp2-cpu-20000", "metrics.events_per_sec", p);
    CHECK(r.basis == Basis::native_ratio);
    CHECK(r.noise == "iterations");
    CHECK(r.ratio.estimate == doctest::Approx(1).epsilon(1e-9));
    CHECK(r.verdict != verdict::regressed);
  }
  // qemu alone 20% slower: regressed on its ratio to native, even with the host drifting.
  auto q = compare_results(a, scaled(scaled(a, "", 0.95, 2), "qemu", 0.8), {});
  auto& r = row(q, "exp2-cpu-20000", "metrics.events_per_sec", "qemu");
  CHECK(r.verdict == verdict::regressed);
  CHECK(r.ratio.estimate == doctest::Approx(0.8).epsilon(1e-9));
  CHECK(row(q, "exp2-cpu-20000", "metrics.events_per_sec", "docker").verdict != verdict::regressed);
  // --no-native-ratio: absolute figures, so qemu's noise is unknown too.
  CompareOptions abs;
  abs.native_ratio = false;
  auto absolute = compare_results(a, scaled(a, "qemu", 0.8, 3), abs);
  CHECK(row(absolute, "exp1-cpu-2000", "metrics.events_per_sec", "qemu").verdict == verdict::noise_unknown);
}

TEST_CASE("undecided: says how many iterations would likely decide it") {
  CompareOptions o;
  o.noise = NoiseModel::iterations;
  auto a = fixture("three-platforms");
  // qemu 6% slower on fileio, whose iterations vary by several percent: not decidable from 3+3.
  auto c = compare_results(a, scaled(a, "qemu", 0.94, 1), o);
  std::size_t undecided = 0;
  for (auto& r : c.rows)
    if (r.verdict == verdict::undecided) {
      ++undecided;
      CHECK_MESSAGE(!r.advice.empty(), r.experiment << " " << r.platform << " " << r.def->path);
      if (r.more_iterations)
        CHECK(r.more_iterations > r.cand.n);
    }
  CHECK(undecided > 0);
  CHECK(c.undecided >= undecided);
}

TEST_CASE("--test mann-whitney: exact ranks; 5 against 5 iterations can never pass weighted Holm at alpha 0.01") {
  CompareOptions o;
  o.noise = NoiseModel::iterations;
  o.test = TestKind::mann_whitney;
  auto a = fixture("three-platforms");
  auto c = compare_results(a, scaled(a, "qemu", 0.5, 1), o);
  auto& r = row(c, "exp1-cpu-2000", "metrics.events_per_sec", "qemu");
  REQUIRE(r.rank.valid);
  CHECK(r.rank.exact);
  // One-sided now (towards worse, the way it moved): 1 / C(10, 5), the smallest there is;
  // two-sided it was 2 / C(10, 5). Still above alpha × 0.9 / (the headline metrics).
  CHECK(r.rank.alternative == Alternative::less);
  CHECK(r.rank.p == doctest::Approx(1.0 / 252).epsilon(1e-12));
  CHECK(r.verdict != verdict::regressed);
  CHECK(r.verdict == verdict::undecided);
}

TEST_CASE("--against history: the candidate against the lookback's distribution") {
  auto a = fixture("native-a");
  auto lookback = drifting_lookback(a);
  auto c = compare_with_history(scaled(a, "", 0.7, 8), lookback, {});
  auto& r = row(c, "exp2-cpu-20000", "metrics.events_per_sec");
  CHECK(r.base_runs == 5);
  CHECK(r.verdict == verdict::regressed);
  CHECK(c.regressions >= 1);
  auto same = compare_with_history(scaled(a, "", 1.005, 7), lookback, {});
  CHECK(same.regressions == 0);
  // Too few earlier runs: a clear error, not a verdict.
  Lookback two;
  two.add_run(analyze(a), "x");
  auto b = fixture("native-b");
  two.add_run(analyze(b), "y");
  CHECK_THROWS_WITH_AS(compare_with_history(a, two, {}), doctest::Contains("virtbench calibrate"), UsageError);
}

TEST_CASE("all-equal values and non-positive values: a verdict that says so, never a crash") {
  auto a = fixture("native-a");
  CompareOptions o;
  o.noise = NoiseModel::iterations;
  auto c = compare_results(a, a, o);
  CHECK(c.regressions == 0);
  // fileio's latency min is 0.00 ms in every iteration: equal on both sides.
  auto& min = row(c, "exp3-fileio-rndrw", "metrics.latency_ms.min");
  CHECK(min.verdict == verdict::no_change);
  auto text = render_comparison_text(c, o, "A", "A");
  CHECK(text.find("Verdict: no regression") != std::string::npos);
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
  CHECK(lookback_mismatch(b, a) == "a different suite");
  CHECK(lookback_mismatch(fixture("native-b"), a).empty());
}

TEST_CASE("JUnit: a failure per regression, skipped for undecided, escaped text") {
  CompareOptions o;
  o.noise = NoiseModel::iterations;
  auto c = compare_results(fixture("native-a"), fixture("native-a-cpu-20pct-slower"), o);
  auto xml = render_comparison_junit(c, o, "base <&>", "cand \"x\"");
  CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0) == 0);
  CHECK(xml.find("<testsuite name=\"virtbench.exp1-cpu-2000.native\"") != std::string::npos);
  CHECK(xml.find("type=\"regression\"") != std::string::npos);
  CHECK(xml.find("base &lt;&amp;&gt;") != std::string::npos);
  CHECK(xml.find("cand &quot;x&quot;") != std::string::npos);
  auto count = [&](const std::string& s) {
    std::size_t n = 0;
    for (auto p = xml.find(s); p != std::string::npos; p = xml.find(s, p + 1))
      ++n;
    return n;
  };
  CHECK(count("<failure ") == c.regressions);
}

TEST_CASE("fingerprints: a different cache mode or accelerator is listed, run-specific paths are not") {
  REQUIRE_MESSAGE(find_driver("qemu"), "this test needs the qemu driver built in (meson -Dplatforms with qemu)");
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
