#pragma once
// results.json grouped for reports: per platform × experiment, the measured iterations
// (no warm-ups, no failed runs) and every catalog metric's values and statistics, plus
// each platform's overhead relative to `native`. Markdown, HTML, compare and history
// all read results through this one view.
//
// An Analysis points into the results document it was made from: keep that alive.

#include "catalog.hpp"
#include "stats.hpp"

#include <boost/json/object.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace virtbench {

struct ExperimentInfo {
  std::string name;
  std::string workload;             // "cpu", "fileio"
  std::vector<std::string> args;    // sysbench arguments as recorded
  std::string headline;             // catalog path of the metric a summary shows
};

struct MetricSeries {
  const MetricDef* def = nullptr;
  std::vector<int> iterations; // iteration numbers of `values`, in order
  std::vector<double> values;
  SampleStats stats;
  // True when iteration `iterations[i]` is flagged an outlier.
  bool is_outlier(std::size_t i) const;
};

struct Cell {
  std::string platform;
  const ExperimentInfo* experiment = nullptr;
  // Every non-warm-up record by iteration (failed ones too, for the per-iteration table).
  std::map<int, const boost::json::object*> records;
  std::size_t failed = 0;                      // records with "error" (excluded from statistics)
  std::map<std::string, MetricSeries> metrics; // by catalog path; only metrics with values

  const MetricSeries* metric(std::string_view path) const;
};

struct Analysis {
  Analysis() = default;
  Analysis(const Analysis&) = delete; // cells point into `experiments`
  Analysis& operator=(const Analysis&) = delete;
  Analysis(Analysis&&) = default;
  Analysis& operator=(Analysis&&) = default;

  std::vector<std::string> platforms; // results.json "platforms" order, then any seen only in runs
  std::vector<ExperimentInfo> experiments;
  std::vector<Cell> cells; // platform-major, experiments in suite order; only cells with records

  const Cell* find(std::string_view platform, std::string_view experiment) const;
  const boost::json::object* platform_info(std::string_view platform) const;
  const boost::json::object* doc = nullptr;
};

// A matrix variant's parameters (its results entry's "variant": axis -> value, in the
// run's axis order); empty for a platform entry without one (and for results before the matrix).
std::vector<std::pair<std::string, std::string>> variant_params(const boost::json::object* info);

// The driver of a platform entry: its "platform", else its name (results before the matrix).
std::string platform_driver(const boost::json::object* info, std::string_view name);

// What compare and history match platforms on: the driver and the variant's parameters
// sorted by axis, "qemu[scratch-format=qcow2,vcpus=1]"; the driver's name without them. Two
// runs that name a variant differently but gave it the same parameters match.
std::string platform_key(const boost::json::object* info, std::string_view name);

// Groups and describes a results document (see load_results()).
Analysis analyze(const boost::json::object& results);

// analyze() with every platform named by its platform_key(): what compare, history and
// calibrate match runs on (a variant by its driver and parameters, not by its name).
Analysis analyze_by_params(const boost::json::object& results);

// Per driver, the axes its variants in `results` have ("qemu" -> {"scratch-format", "vcpus"}).
std::map<std::string, std::vector<std::string>> variant_axes(const boost::json::object& results);

// How many times slower `platform` is than `baseline` on a metric (> 1: slower, < 1:
// faster), oriented by the catalog's higher_is_better, with a 95% interval (log scale for
// positive values, see ratio_interval()).
// Empty when either side has no values.
std::optional<Interval> slowdown(const MetricSeries& baseline, const MetricSeries& platform);

// "6.95× slower (6.89–7.00)", "1.05× faster (1.02–1.08)", "1.01× (0.97–1.05), within noise".
std::string describe_slowdown(const Interval& slowdown);

// A number for tables: ~4 significant digits, no exponent for everyday magnitudes.
std::string format_number(double v);

// String value of a JSON member (numbers serialized), empty when absent.
std::string json_text(const boost::json::value* v);

} // namespace virtbench
