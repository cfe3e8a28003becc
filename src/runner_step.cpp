#include "runner_step.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace virtbench {

std::vector<std::string> fileio_files(const Experiment& e) {
  int n = 128;
  if (auto v = e.option("file-num"))
    n = std::max(1, std::atoi(v->c_str()));
  std::vector<std::string> files;
  for (int i = 0; i < n; ++i)
    files.push_back(fmt::format("test_file.{}", i));
  return files;
}

std::vector<std::string> fincore_argv(const Experiment& e) {
  std::vector<std::string> argv{"fincore", "--bytes", "--noheadings", "--raw", "--output", "RES"};
  for (auto& f : fileio_files(e))
    argv.push_back(f);
  return argv;
}

std::uint64_t sum_fincore_bytes(const std::string& out) {
  std::uint64_t total = 0;
  std::size_t pos = 0;
  while (pos < out.size()) {
    auto nl = out.find('\n', pos);
    auto line = out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? out.size() : nl + 1;
    if (!line.empty())
      total += std::stoull(line);
  }
  return total;
}

DropCheck verify_drops(const std::vector<CacheDrop>& drops, std::uint64_t own_resident_kib, bool has_guest_view,
                       std::uint64_t data_set_bytes) {
  DropCheck check;
  auto data_kib = data_set_bytes / 1024;
  auto limit_kib = std::max<std::uint64_t>(data_kib / 100, 64);
  std::string own_view = has_guest_view ? "guest" : "host";
  for (auto& d : drops) {
    boost::json::object o{{"where", d.where},
                          {"cached_before_kib", d.cached_before_kib},
                          {"cached_after_kib", d.cached_after_kib}};
    std::optional<std::uint64_t> resident = d.resident_after_kib;
    if (d.where == own_view)
      resident = own_resident_kib;
    if (!d.holds_data_set) {
      o["holds_data_set"] = false; // nothing to verify: this cache never held the files
    } else if (resident) {
      o["resident_after_kib"] = *resident;
      o["verified"] = *resident <= limit_kib;
      if (*resident > limit_kib)
        check.warnings.push_back(
            fmt::format("{}: {} KiB of the {} KiB data set still cached after the drop", d.where, *resident, data_kib));
    }
    check.drops.push_back(std::move(o));
  }
  return check;
}

boost::json::object cpu_record(const MeasuredRun& m) {
  boost::json::object cpu;
  if (m.host_split)
    cpu["host"] = cpu_split_to_json(*m.host_split);
  if (m.guest_split)
    cpu["guest"] = cpu_split_to_json(*m.guest_split);
  std::optional<CpuSeconds> charged = m.result.process_cpu;
  if (m.accounting_before && m.accounting_after)
    charged = CpuSeconds{m.accounting_after->user_s - m.accounting_before->user_s,
                         m.accounting_after->kernel_s - m.accounting_before->kernel_s};
  if (charged)
    cpu["platform_process"] = {{"user_s", std::round(charged->user_s * 1000) / 1000},
                               {"kernel_s", std::round(charged->kernel_s * 1000) / 1000}};
  // What the platforms waiting their turn (frozen) cost the host meanwhile, in % of one CPU.
  boost::json::object frozen;
  for (auto& [name, before] : m.frozen_before)
    if (auto after = m.frozen_after.find(name); after != m.frozen_after.end() && m.measured_s > 0)
      frozen[name] = std::round(10000 * ((after->second.user_s + after->second.kernel_s) -
                                         (before.user_s + before.kernel_s)) / m.measured_s) / 100;
  if (!frozen.empty())
    cpu["frozen_platforms_cpu_pct"] = std::move(frozen);
  cpu["samples"] = m.host_samples;
  if (!m.host_sampler_error.empty())
    cpu["host_sampler_error"] = m.host_sampler_error;
  if (!m.guest_sampler_error.empty())
    cpu["guest_sampler_error"] = m.guest_sampler_error;
  return cpu;
}

boost::json::object step_record(const StepOutcome& outcome) {
  const auto& step = outcome.step;
  boost::json::object run{{"platform", outcome.platform},
                          {"experiment", outcome.experiment},
                          {"iteration", step.iteration},
                          {"round", step.round},
                          {"started_at", outcome.started_at}};
  if (step.warmup)
    run["warmup"] = step.warmup;
  if (step.batch)
    run["batch"] = step.batch;
  if (outcome.prepared)
    run["prepared"] = true;
  if (!outcome.data_set_from.empty())
    run["data_set_from"] = outcome.data_set_from;
  if (outcome.drops) {
    if (!outcome.drops->warnings.empty())
      run["cache_drop_warning"] = outcome.drops->warnings.back();
    run["cache_drops"] = outcome.drops->drops;
  }
  if (auto& m = outcome.measured) {
    run["raw"] = m->raw;
    run["exit_code"] = m->result.exit_code;
    run["wall_s"] = std::round(m->result.wall_s * 1e4) / 1e4;
    run["cpu"] = cpu_record(*m);
  }
  if (outcome.metrics)
    run["metrics"] = *outcome.metrics;
  if (outcome.error)
    run["error"] = *outcome.error;
  return run;
}

} // namespace virtbench
