// report.csv: one row per run record, for spreadsheets.
#include "report.hpp"
#include "report_model.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

namespace virtbench {

namespace {

// Column name → dotted path in a run record ("" for the computed cache-drop columns).
// Stable: new columns go at the end; README.md ("results as CSV") documents each.
const std::vector<std::pair<std::string, std::string>>& columns() {
  static const std::vector<std::pair<std::string, std::string>> k_columns = {
      {"platform", "platform"},
      {"experiment", "experiment"},
      {"workload", ""},
      {"iteration", "iteration"},
      {"round", "round"},
      {"warmup", "warmup"},
      {"started_at", "started_at"},
      {"exit_code", "exit_code"},
      {"error", "error"},
      {"wall_s", "wall_s"},
      {"events_per_sec", "metrics.events_per_sec"},
      {"total_time_s", "metrics.total_time_s"},
      {"total_events", "metrics.total_events"},
      {"latency_min_ms", "metrics.latency_ms.min"},
      {"latency_avg_ms", "metrics.latency_ms.avg"},
      {"latency_p95_ms", "metrics.latency_ms.p95"},
      {"latency_max_ms", "metrics.latency_ms.max"},
      {"reads_per_s", "metrics.reads_per_s"},
      {"writes_per_s", "metrics.writes_per_s"},
      {"fsyncs_per_s", "metrics.fsyncs_per_s"},
      {"read_mib_s", "metrics.read_mib_s"},
      {"written_mib_s", "metrics.written_mib_s"},
      {"host_user_pct", "cpu.host.user_pct"},
      {"host_kernel_pct", "cpu.host.kernel_pct"},
      {"host_iowait_pct", "cpu.host.iowait_pct"},
      {"host_steal_pct", "cpu.host.steal_pct"},
      {"host_guest_pct", "cpu.host.guest_pct"},
      {"host_idle_pct", "cpu.host.idle_pct"},
      {"guest_user_pct", "cpu.guest.user_pct"},
      {"guest_kernel_pct", "cpu.guest.kernel_pct"},
      {"guest_iowait_pct", "cpu.guest.iowait_pct"},
      {"guest_steal_pct", "cpu.guest.steal_pct"},
      {"guest_idle_pct", "cpu.guest.idle_pct"},
      {"process_user_s", "cpu.platform_process.user_s"},
      {"process_kernel_s", "cpu.platform_process.kernel_s"},
      {"cache_drops", ""},
      {"cached_before_kib", ""},
      {"cached_after_kib", ""},
      {"raw", "raw"},
      {"batch", "batch"},
  };
  return k_columns;
}

const boost::json::value* at_path(const boost::json::object& o, std::string_view path) {
  const boost::json::object* obj = &o;
  while (true) {
    auto dot = path.find('.');
    auto* v = obj->if_contains(path.substr(0, dot));
    if (!v || dot == std::string_view::npos)
      return v;
    if (!v->is_object())
      return nullptr;
    obj = &v->get_object();
    path.remove_prefix(dot + 1);
  }
}

} // namespace

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos)
    return s;
  std::string out = "\"";
  for (char c : s)
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

const std::vector<std::string>& csv_columns() {
  static const std::vector<std::string> k_names = [] {
    std::vector<std::string> names;
    for (auto& [name, path] : columns())
      names.push_back(name);
    return names;
  }();
  return k_names;
}

std::string render_csv(const boost::json::object& results) {
  std::map<std::string, std::string> workloads;
  if (auto* suite = results.if_contains("suite"); suite && suite->is_object())
    if (auto* exps = suite->get_object().if_contains("experiments"); exps && exps->is_array())
      for (auto& e : exps->get_array())
        if (e.is_object())
          workloads[json_text(e.get_object().if_contains("name"))] = json_text(e.get_object().if_contains("workload"));

  // A matrix run: each record's driver and variant parameters, one column per axis
  // ("param_vcpus"), after the fixed columns.
  std::map<std::string, const boost::json::object*> infos;
  std::vector<std::string> axes;
  if (auto* ps = results.if_contains("platforms"); ps && ps->is_array())
    for (auto& pv : ps->get_array())
      if (pv.is_object()) {
        infos[json_text(pv.get_object().if_contains("name"))] = &pv.get_object();
        for (auto& [k, v] : variant_params(&pv.get_object()))
          if (std::find(axes.begin(), axes.end(), k) == axes.end())
            axes.push_back(k);
      }

  std::string out;
  for (auto& name : csv_columns())
    out += (out.empty() ? "" : ",") + name;
  if (!axes.empty()) {
    out += ",driver";
    for (auto& axis : axes)
      out += "," + csv_field("param_" + axis);
  }
  out += "\r\n";
  for (auto& rv : results.at("runs").as_array()) {
    if (!rv.is_object())
      continue;
    auto& r = rv.get_object();
    // Cache drops: how many, and Cached summed over them (before and after).
    std::string drops, before, after;
    if (auto* d = r.if_contains("cache_drops"); d && d->is_array()) {
      double b = 0, a = 0;
      bool have = false;
      for (auto& dv : d->get_array())
        if (dv.is_object()) {
          auto* bv = dv.get_object().if_contains("cached_before_kib");
          auto* av = dv.get_object().if_contains("cached_after_kib");
          if (bv && av && bv->is_number() && av->is_number()) {
            b += bv->to_number<double>();
            a += av->to_number<double>();
            have = true;
          }
        }
      drops = std::to_string(d->get_array().size());
      if (have) {
        before = fmt::format("{}", b);
        after = fmt::format("{}", a);
      }
    }
    std::string line;
    bool first = true;
    for (auto& [name, path] : columns()) {
      std::string field;
      if (name == "workload")
        field = workloads[json_text(r.if_contains("experiment"))];
      else if (name == "cache_drops")
        field = drops;
      else if (name == "cached_before_kib")
        field = before;
      else if (name == "cached_after_kib")
        field = after;
      else if (auto* v = at_path(r, path); v && !v->is_object() && !v->is_array())
        field = json_text(v);
      line += (first ? "" : ",") + csv_field(field);
      first = false;
    }
    if (!axes.empty()) {
      auto name = json_text(r.if_contains("platform"));
      auto it = infos.find(name);
      auto* info = it == infos.end() ? nullptr : it->second;
      line += "," + csv_field(platform_driver(info, name));
      auto params = variant_params(info);
      for (auto& axis : axes) {
        auto p = std::find_if(params.begin(), params.end(), [&](auto& x) { return x.first == axis; });
        line += "," + csv_field(p == params.end() ? "" : p->second);
      }
    }
    out += line + "\r\n";
  }
  return out;
}

} // namespace virtbench
