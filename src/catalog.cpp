#include "catalog.hpp"

namespace virtbench {

const std::vector<MetricDef>& metric_catalog() {
  static const std::vector<MetricDef> k_catalog = {
      {"metrics.events_per_sec", "events/s", true, true},
      {"metrics.total_time_s", "total time (s)", false, false},
      {"metrics.latency_ms.min", "latency min (ms)", false, true},
      {"metrics.latency_ms.avg", "latency avg (ms)", false, true},
      {"metrics.latency_ms.max", "latency max (ms)", false, true},
      {"metrics.latency_ms.p95", "latency 95th percentile (ms)", false, true},
      {"metrics.reads_per_s", "reads/s", true, true},
      {"metrics.writes_per_s", "writes/s", true, true},
      {"metrics.fsyncs_per_s", "fsyncs/s", true, true},
      {"metrics.read_mib_s", "read (MiB/s)", true, true},
      {"metrics.written_mib_s", "written (MiB/s)", true, true},
      {"cpu.host.user_pct", "host user %", false, false},
      {"cpu.host.kernel_pct", "host kernel %", false, false},
      {"cpu.host.iowait_pct", "host iowait %", false, false},
      {"cpu.guest.user_pct", "guest user %", false, false},
      {"cpu.guest.kernel_pct", "guest kernel %", false, false},
      {"cpu.guest.iowait_pct", "guest iowait %", false, false},
      {"cpu.platform_process.user_s", "process user (s)", false, false},
      {"cpu.platform_process.kernel_s", "process kernel (s)", false, false},
  };
  return k_catalog;
}

std::string_view headline_metric(std::string_view workload) {
  return workload == "cpu" ? "metrics.events_per_sec" : "metrics.reads_per_s";
}

std::optional<double> metric_value(const boost::json::object& run, std::string_view path) {
  const boost::json::object* obj = &run;
  while (true) {
    auto dot = path.find('.');
    auto key = path.substr(0, dot);
    auto* v = obj->if_contains(key);
    if (!v)
      return std::nullopt;
    if (dot == std::string_view::npos) {
      if (v->is_number())
        return v->to_number<double>();
      return std::nullopt;
    }
    if (!v->is_object())
      return std::nullopt;
    obj = &v->get_object();
    path.remove_prefix(dot + 1);
  }
}

const MetricDef* find_metric(std::string_view path) {
  for (auto& m : metric_catalog())
    if (m.path == path)
      return &m;
  return nullptr;
}

} // namespace virtbench
