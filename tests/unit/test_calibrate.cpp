// `virtbench calibrate`'s between-run noise, from A/A runs' results documents.
#include "calibrate.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace virtbench;

namespace {

// One run: native and qemu on experiment c (cpu), two measured iterations each.
boost::json::object run(double native1, double native2, double qemu1, double qemu2) {
  return boost::json::parse(fmt::format(R"json({{
    "suite": {{"name": "s", "experiments": [{{"name": "c", "workload": "cpu", "args": [], "iterations": 2}}]}},
    "host": {{"hostname": "h1"}},
    "platforms": [{{"name": "native"}}, {{"name": "qemu"}}],
    "runs": [
      {{"platform": "native", "experiment": "c", "iteration": 0, "warmup": 1, "metrics": {{"events_per_sec": 1}}}},
      {{"platform": "native", "experiment": "c", "iteration": 1, "metrics": {{"events_per_sec": {}}}}},
      {{"platform": "native", "experiment": "c", "iteration": 2, "metrics": {{"events_per_sec": {}}}}},
      {{"platform": "qemu", "experiment": "c", "iteration": 1, "metrics": {{"events_per_sec": {}}}}},
      {{"platform": "qemu", "experiment": "c", "iteration": 2, "metrics": {{"events_per_sec": {}}}}},
      {{"platform": "qemu", "experiment": "c", "iteration": 3, "error": "boom"}}]
  }})json", native1, native2, qemu1, qemu2)).as_object();
}

} // namespace

TEST_CASE("calibration: mean of run means, between-run CV, and the CV of the ratio to native") {
  // Run means: native 100, 110, 90 (mean 100, sd 10: CV 10 %); qemu 20, 22, 18 (the same
  // shape: its ratio to native is 0.2 in every run, so that CV is 0).
  std::vector<boost::json::object> runs{run(99, 101, 19, 21), run(110, 110, 22, 22), run(80, 100, 18, 18)};
  auto rows = calibration_rows(runs);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].experiment == "c");
  CHECK(rows[0].platform == "native");
  CHECK(rows[0].metric == "metrics.events_per_sec");
  CHECK(rows[0].runs == 3);
  CHECK(rows[0].mean == doctest::Approx(100));
  CHECK(*rows[0].cv == doctest::Approx(0.10));
  CHECK_FALSE(rows[0].ratio_cv.has_value());
  CHECK(rows[1].platform == "qemu");
  CHECK(rows[1].mean == doctest::Approx(20));
  CHECK(*rows[1].cv == doctest::Approx(0.10));
  CHECK(*rows[1].ratio_mean == doctest::Approx(0.2));
  CHECK(*rows[1].ratio_cv == doctest::Approx(0).epsilon(1e-9));

  auto table = render_calibration(rows, 3);
  CHECK(table.find("between-run noise over 3 run(s)") == 0);
  CHECK(table.find("mean of run means") != std::string::npos);
  CHECK(table.find("10.00%") != std::string::npos);
  CHECK(table.find("0.2000") != std::string::npos);
  CHECK(calibration_suite(runs) == "s");
  CHECK(calibration_host(runs) == "h1");
}

TEST_CASE("calibration with one run has no between-run CV, and says so with a dash") {
  auto rows = calibration_rows({run(100, 100, 20, 20)});
  REQUIRE(rows.size() == 2);
  CHECK_FALSE(rows[0].cv.has_value());
  CHECK(*rows[1].ratio_mean == doctest::Approx(0.2));
  CHECK_FALSE(rows[1].ratio_cv.has_value());
  CHECK(render_calibration(rows, 1).find("–") != std::string::npos);
  CHECK(render_calibration({}, 0).find("no measured values") != std::string::npos);
}
