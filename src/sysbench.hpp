#pragma once
// sysbench 1.0.x: the workloads virtbench runs, the command lines that run them, and a
// parser of their output. The parser is a pure function: text in, metrics or an error out.

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench {

enum class Workload { cpu, fileio };

std::string_view workload_name(Workload w);

// What one `sysbench ... run` reported. A field the output did not contain stays empty.
struct Metrics {
  std::optional<double> events_per_sec;
  std::optional<double> total_time_s;
  std::optional<double> total_events;
  std::optional<double> latency_min_ms, latency_avg_ms, latency_max_ms, latency_p95_ms, latency_sum_ms;
  std::optional<double> reads_per_s, writes_per_s, fsyncs_per_s;
  std::optional<double> read_mib_s, written_mib_s;
};

// Parses the output of `sysbench cpu run` or `sysbench fileio run` (1.0.x). Throws
// Error when a field the workload must report is missing or malformed; the message
// quotes the offending lines (or the output's tail, when the field is absent).
Metrics parse_sysbench_output(std::string_view text, Workload workload);

// The metrics in the results.json shape: events_per_sec, total_time_s, latency_ms{...}, ...
boost::json::object metrics_to_json(const Metrics& m);

// The first line of `sysbench --version`, e.g. "sysbench 1.0.20".
std::string parse_sysbench_version(std::string_view text);

} // namespace virtbench
