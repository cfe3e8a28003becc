#include "progress.hpp"

#include <fmt/format.h>

#include <cmath>

namespace virtbench {

EtaModel::EtaModel(const Suite& suite, std::vector<Step> plan) : m_plan(std::move(plan)) {
  for (auto& e : suite.experiments) {
    m_time_s.push_back(e.time_s);
    m_fileio.push_back(e.workload == Workload::fileio);
  }
}

double EtaModel::nominal_s(std::size_t experiment) const { return m_time_s.at(experiment); }

double EtaModel::default_overhead_s(std::size_t experiment) const {
  return m_fileio.at(experiment) ? k_default_fileio_overhead_s : k_default_step_overhead_s;
}

void EtaModel::record(const Step& step, double seconds) {
  auto& m = m_measured[{step.platform, step.experiment}];
  m.first += seconds;
  m.second += 1;
  // Only cpu steps teach the platform's overhead: fileio's prepare and cleanup scale with
  // the data set, not with the platform's per-step cost.
  if (!m_fileio.at(step.experiment)) {
    auto& o = m_overhead[step.platform];
    o.first += seconds - nominal_s(step.experiment);
    o.second += 1;
  }
}

double EtaModel::estimate_s(const Step& step) const {
  if (auto it = m_measured.find({step.platform, step.experiment}); it != m_measured.end())
    return it->second.first / it->second.second;
  double base = nominal_s(step.experiment);
  if (m_fileio.at(step.experiment))
    return base + default_overhead_s(step.experiment);
  if (auto it = m_overhead.find(step.platform); it != m_overhead.end())
    return base + std::max(0.0, it->second.first / it->second.second);
  double sum = 0;
  int n = 0;
  for (auto& [platform, o] : m_overhead) {
    sum += o.first;
    n += o.second;
  }
  return base + (n ? std::max(0.0, sum / n) : default_overhead_s(step.experiment));
}

double EtaModel::remaining_s(std::size_t next, const std::vector<bool>& failed) const {
  double total = 0;
  for (auto i = next; i < m_plan.size(); ++i) {
    auto& step = m_plan[i];
    if (step.platform < failed.size() && failed[step.platform])
      continue;
    total += estimate_s(step);
  }
  return total;
}

double EtaModel::extra_rounds_s(const std::vector<int>& rounds_left, std::size_t platform_count,
                                const std::vector<bool>& failed) const {
  double total = 0;
  for (std::size_t e = 0; e < rounds_left.size() && e < m_time_s.size(); ++e) {
    if (rounds_left[e] <= 0)
      continue;
    for (std::size_t p = 0; p < platform_count; ++p)
      if (p >= failed.size() || !failed[p])
        total += rounds_left[e] * estimate_s(Step{e, p, 0, 0, 0});
  }
  return total;
}

std::string format_duration(double seconds) {
  auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  if (s < 60)
    return fmt::format("{}s", s);
  if (s < 3600)
    return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400)
    return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d{:02}h", s / 86400, s % 86400 / 3600);
}

} // namespace virtbench
