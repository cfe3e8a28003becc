#pragma once
// `virtbench compare`: every metric of a candidate run against a base run, with the
// change, its confidence interval, Welch's t-test and a verdict a CI job can act on.

#include "catalog.hpp"
#include "stats.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace virtbench {

struct CompareOptions {
  double max_regression_pct = 5; // a change smaller than this is "no change", whatever p says
  double alpha = 0.05;           // significance level of Welch's t-test
};

namespace verdict {
inline constexpr const char* regressed = "regressed";
inline constexpr const char* improved = "improved";
inline constexpr const char* no_change = "no change";
inline constexpr const char* insufficient = "insufficient data";
// Informative metrics (catalog performance == false) never regress; they move.
inline constexpr const char* higher = "higher (info)";
inline constexpr const char* lower = "lower (info)";
} // namespace verdict

struct MetricChange {
  std::string experiment;
  std::string platform;
  const MetricDef* def = nullptr;
  SampleStats base, cand;
  Interval ratio; // mean(cand) / mean(base), Fieller 1 − alpha interval
  WelchTest test;
  std::string verdict;
};

struct Comparison {
  std::vector<MetricChange> rows;
  std::vector<std::string> notes; // platforms or metrics only one side has
  std::size_t regressions = 0;    // performance metrics with verdict "regressed"
};

// The verdict for one metric. Regressed/improved need p < alpha and a change beyond
// max_regression_pct in the worse/better direction (by the catalog's higher_is_better);
// fewer than two values on a side, or no variation at all with different means, is
// "insufficient data".
std::string decide_verdict(const MetricDef& def, const SampleStats& base, const SampleStats& cand,
                           const WelchTest& test, const CompareOptions& options);

// Compares two results documents. Throws UsageError when their suites differ (naming the
// experiments that differ) or they share no platform.
Comparison compare_results(const boost::json::object& base, const boost::json::object& cand,
                           const CompareOptions& options);

// Differences between the two runs' fingerprints in anything that changes performance:
// per platform (accelerator, machine and CPU model, cache and aio mode, limits, storage
// driver, cgroup version, engine/QEMU versions, sysbench binary, image) and per host (CPU,
// memory, kernel, governor, transparent huge pages, mitigations). Each entry reads
// "qemu.cache_mode: none -> writeback". Empty when the runs are comparable.
std::vector<std::string> fingerprint_differences(const boost::json::object& base, const boost::json::object& cand);

// A fixed-width table with a closing line saying what the exit code will be and why.
std::string render_comparison_text(const Comparison& c, const CompareOptions& options, const std::string& base_label,
                                   const std::string& cand_label);

// The same as JSON (for CI tooling).
std::string render_comparison_json(const Comparison& c, const CompareOptions& options, const std::string& base_label,
                                   const std::string& cand_label);

} // namespace virtbench
