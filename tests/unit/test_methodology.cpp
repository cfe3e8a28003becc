#include "methodology.hpp"
#include "registry.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace virtbench;

namespace {

// The section as the report has it: methodology_items(), one bullet each.
std::string methodology_text(const boost::json::object& results) {
  std::string text;
  for (auto& item : methodology_items(results))
    text += "- " + item + "\n";
  return text;
}

} // namespace

namespace {

boost::json::object results() {
  return boost::json::parse(R"json({
    "schema": "virtbench/results/v1", "virtbench_version": "v0-test", "command": ["virtbench", "run"],
    "order": "interleaved", "seed": 42, "drop_caches": true, "sample_interval_ms": 200,
    "suite": {"name": "s", "experiments": [{"name": "io", "workload": "fileio", "warmup": 0}]},
    "platforms": [
      {"name": "native", "fileio_storage": "host directory /x (ext4)",
       "channel_overhead": {"n": 20, "median_ms": 1.5, "p90_ms": 2.5}},
      {"name": "qemu", "accel": "tcg", "accel_reason": "no vmx/svm", "channel_overhead": {"n": 20, "median_ms": 30.25, "p90_ms": 41.0}}],
    "runs": [
      {"platform": "native", "experiment": "io", "round": 1,
       "cache_drops": [{"where": "host", "verified": true, "cached_after_kib": 100}],
       "cpu": {"frozen_platforms_cpu_pct": {"qemu": 0.4}}},
      {"platform": "qemu", "experiment": "io", "round": 1,
       "cache_drops": [{"where": "guest", "verified": false}, {"where": "host", "verified": true}]},
      {"platform": "qemu", "experiment": "io", "round": 2},
      {"platform": "native", "experiment": "io", "round": 2,
       "cpu": {"frozen_platforms_cpu_pct": {"qemu": 0.9}}}],
    "warnings": ["io on native: the page cache dominates"]
  })json").as_object();
}

} // namespace

TEST_CASE("the methodology section states order, seed, drops, storage, channel and accelerator from the results") {
  auto md = methodology_text(results());
  CHECK(md.find("shuffled order (seed 42, 2 distinct orders over 2 rounds)") != std::string::npos);
  CHECK(md.find("guest: 0 of 1 drops verified; host: 2 of 2 drops verified") != std::string::npos);
  CHECK(md.find("fileio files on host directory /x (ext4)") != std::string::npos);
  CHECK(md.find("took 30.25 ms (median of 20, p90 41.00 ms)") != std::string::npos);
  CHECK(md.find("accelerator tcg (no vmx/svm)") != std::string::npos);
  CHECK(md.find("while frozen it used at most 0.90% of one host CPU") != std::string::npos);
  CHECK(md.find("**Warning**: io on native: the page cache dominates") != std::string::npos);
  CHECK(md.find("virtbench v0-test") != std::string::npos);
  // Each driver's own words (registry), for the platforms of this run only.
  REQUIRE_MESSAGE(find_driver("qemu"), "this test needs the qemu driver built in (meson -Dplatforms with qemu)");
  CHECK(md.find("frozen (qemu: QMP `stop`)") != std::string::npos);
  CHECK(md.find("the host (native); the guest and the host (with `cache=none`") != std::string::npos);
  CHECK(md.find("the workload's own CPU seconds (native); QEMU's threads (qemu)") != std::string::npos);
  CHECK(md.find("Engine API") == std::string::npos);
}

TEST_CASE("a results file with fields of the wrong type gives a shorter section, not an exception") {
  auto r = results();
  r["suite"] = "not an object";
  r["platforms"] = boost::json::array{1, "x"};
  r["runs"].as_array().push_back(7);
  r["drop_caches"] = "yes";
  std::vector<std::string> items;
  CHECK_NOTHROW(items = methodology_items(r));
  CHECK(items.size() > 3);
}

TEST_CASE("grouped runs and runs without cache drops say so") {
  auto r = results();
  r["order"] = "grouped";
  r["drop_caches"] = false;
  auto md = methodology_text(r);
  CHECK(md.find("grouped: all of one platform's iterations") != std::string::npos);
  CHECK(md.find("were not dropped (`--no-drop-caches`)") != std::string::npos);
}

TEST_CASE("the methodology section says how many rounds each adaptive experiment took and why it stopped") {
  auto r = boost::json::parse(R"json({
    "order": "interleaved", "seed": 1, "drop_caches": false, "sample_interval_ms": 200,
    "suite": {"name": "s", "experiments": [{"name": "c", "workload": "cpu", "warmup": 0}]},
    "platforms": [{"name": "native"}],
    "adaptive": {"target_ci_pct": 2.5, "max_iterations": 6, "experiments": {
      "c": {"planned": 3, "max_iterations": 6, "rounds": 4, "stopped": "target met", "half_width_pct": {"native": 1.234}},
      "f": {"planned": 3, "max_iterations": 6, "rounds": 6, "stopped": "max iterations",
            "half_width_pct": {"native": 4.5, "qemu": null}}}},
    "runs": [{"platform": "native", "experiment": "c", "round": 1}]
  })json").as_object();
  auto md = methodology_text(r);
  CHECK(md.find("**Adaptive iterations** (`--target-ci 2.5`)") != std::string::npos);
  CHECK(md.find("wider than ±2.5% (on the log scale: t · cv / √n) of that mean, up to 6 measured rounds") != std::string::npos);
  CHECK(md.find("c took 4 of 3 planned, up to 6 (target met: native ±1.23%)") != std::string::npos);
  CHECK(md.find("f took 6 of 3 planned, up to 6 (max iterations: native ±4.50%, qemu unknown)") != std::string::npos);
  r.erase("adaptive");
  CHECK(methodology_text(r).find("Adaptive") == std::string::npos);
}
