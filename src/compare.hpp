#pragma once
// `virtbench compare`: every metric of a candidate run against a base run (or the
// history's distribution), with the change, its interval, a test under the noise model of
// noise.hpp, multiple-testing correction across the call, and a verdict a CI job can act on.

#include "catalog.hpp"
#include "noise.hpp"
#include "stats.hpp"

#include <boost/json/object.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace virtbench {

enum class NoiseModel {
  automatic,  // history where it has the series, else iterations for ratios to native, else unknown
  iterations, // the iterations alone, as if runs did not drift (overconfident; the old model)
};
enum class TestKind { welch, mann_whitney };

struct CompareOptions {
  double max_regression_pct = 5; // a change smaller than this is "no change", whatever p says
  double alpha = 0.01;           // family-wise (holm) or false-discovery (bh) level of the call, one-sided
  Correction correction = Correction::holm;
  // The headline metrics' (events/s, reads/s) share of the correction's weight; the other
  // performance metrics share the rest (weighted Holm / BH, stats.hpp).
  double headline_weight = 0.9;
  TestKind test = TestKind::welch;
  NoiseModel noise = NoiseModel::automatic;
  bool native_ratio = true; // compare virtualized platforms on their ratio to native
};

namespace verdict {
inline constexpr const char* regressed = "regressed";
inline constexpr const char* improved = "improved";
inline constexpr const char* no_change = "no change";
inline constexpr const char* undecided = "undecided: run more";
inline constexpr const char* noise_unknown = "noise unknown";
inline constexpr const char* insufficient = "insufficient data";
// Informative metrics (catalog performance == false) never regress; they move.
inline constexpr const char* higher = "higher (info)";
inline constexpr const char* lower = "lower (info)";
} // namespace verdict

struct MetricChange {
  std::string experiment;
  std::string platform;
  const MetricDef* def = nullptr;
  bool headline = false;  // the experiment's headline metric (events/s, reads/s)
  SampleStats base, cand; // the raw values' statistics (base: the lookback's pooled iterations)
  Basis basis = Basis::absolute;
  std::string noise;      // "history (12 runs)", "iterations", "unknown"; empty for informative metrics
  std::size_t base_runs = 1; // runs behind the base side (> 1 with --against history)
  double between_var = 0; // log-scale variance of the change from the spread between runs, beyond within_var
  double within_var = 0;  // ... from the iterations of the two runs
  double df = 0;
  Interval ratio;         // cand / base of the compared figure, with its 1 − 2·alpha interval (each end a one-sided 1 − alpha bound)
  WelchTest test;         // on the log-scale change with the noise model's variance, one-sided the way it moved
  MannWhitney rank;       // on the iterations (--test mann-whitney), one-sided the way it moved
  double p = NAN;         // the one-sided p-value in the direction the figure moved (NaN: no test)
  double p_worse = NAN;   // one-sided p of "worse" (the regressed family) ...
  double p_better = NAN;  // ... and of "better" (the improved family)
  double weight = 0;      // its weight in the family (the family's weights sum to 1)
  double p_adjusted = NAN; // p_worse or p_better (the way it moved) adjusted in its family
  std::size_t more_iterations = 0; // for undecided: iterations per run that would likely decide it (0: unknown)
  std::string advice;     // for undecided and noise unknown: what would decide it
  std::string verdict;
};

struct Comparison {
  std::vector<MetricChange> rows;
  std::vector<std::string> notes; // platforms or metrics only one side has, the noise model's gaps
  std::size_t regressions = 0;    // performance metrics with verdict "regressed"
  std::size_t undecided = 0;      // ... "undecided: run more" or "noise unknown"
  std::size_t family = 0;         // tests in the multiple-testing family
  std::size_t family_headlines = 0; // ... of them headline metrics
  std::size_t lookback_runs = 0;  // earlier runs the noise model drew on
};

// The verdict for one performance metric from the change of its figure (log scale,
// candidate over base), the 1 − 2·alpha interval of that change (each end a one-sided
// 1 − alpha bound) and its family-adjusted one-sided p-value in the direction it moved.
// Regressed/improved need adjusted p < alpha and a change beyond max_regression_pct in
// the worse/better direction (by the catalog's higher_is_better); undecided when the
// interval's worse end reaches a regression beyond the threshold but the test does not
// decide it; otherwise no change (at level alpha, no regression beyond the threshold).
std::string decide_verdict(const MetricDef& def, double log_change, double log_low, double log_high,
                           double p_adjusted, const CompareOptions& options);

// Compares two results documents, with the spread between runs from `lookback` (may be
// null). Throws UsageError when their suites differ (naming the experiments that differ)
// or they share no platform.
Comparison compare_results(const boost::json::object& base, const boost::json::object& cand,
                           const CompareOptions& options, const Lookback* lookback = nullptr);

// Compares a candidate with the distribution of earlier runs (the lookback's series
// means and spread) instead of one base run. Throws UsageError when no series has
// k_min_lookback_runs runs.
Comparison compare_with_history(const boost::json::object& cand, const Lookback& lookback, const CompareOptions& options);

// Whether an earlier run may serve in the candidate's lookback: same suite (experiments
// and their arguments) and no fingerprint difference. Empty when it may; else why not.
std::string lookback_mismatch(const boost::json::object& earlier, const boost::json::object& candidate);

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

// JUnit XML (the Jenkins/Ant form CI systems read): one testcase per performance metric,
// a failure for each regression, skipped for undecided and noise unknown.
std::string render_comparison_junit(const Comparison& c, const CompareOptions& options, const std::string& base_label,
                                    const std::string& cand_label);

} // namespace virtbench
