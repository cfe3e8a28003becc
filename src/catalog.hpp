#pragma once
// The metrics a run record can carry, where they sit in results.json, and which way is
// better. Reports, statistics and compare all read records through this one table.

#include <boost/json/object.hpp>

#include <optional>
#include <string_view>
#include <vector>

namespace virtbench {

struct MetricDef {
  std::string_view path;   // dotted path inside a run record: "metrics.latency_ms.p95"
  std::string_view label;  // for tables: "latency 95th percentile (ms)"
  bool higher_is_better;   // events/s: true; latency: false
  bool performance;        // a workload figure (false: CPU accounting, informative only)
};

// Every metric, in the order report tables list them (the seed report's rows first).
const std::vector<MetricDef>& metric_catalog();

// The metric a summary shows for a workload: events/s for cpu, reads/s for fileio.
std::string_view headline_metric(std::string_view workload);

// The value at a dotted path of a run record, if present and a number.
std::optional<double> metric_value(const boost::json::object& run, std::string_view path);

const MetricDef* find_metric(std::string_view path);

} // namespace virtbench
