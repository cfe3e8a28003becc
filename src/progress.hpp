#pragma once
// How long a run will take: an estimate of the whole plan before it starts (for the
// preflight) and of what is left while it runs (the ETA on every progress line), from the
// plan and the step times measured so far. Pure arithmetic, no clocks.

#include "runner.hpp"
#include "suite.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace virtbench {

// Seconds a step is assumed to take beyond its workload's --time when nothing has been
// measured yet (thaw, samplers, results, freeze; fileio's prepare and cleanup).
inline constexpr double k_default_step_overhead_s = 2.0;
inline constexpr double k_default_fileio_overhead_s = 10.0;

class EtaModel {
public:
  EtaModel(const Suite& suite, std::vector<Step> plan);

  // The plan grew (adaptive rounds); what was measured so far still counts.
  void set_plan(std::vector<Step> plan) { m_plan = std::move(plan); }

  // A step of the plan finished (or failed) after `seconds`.
  void record(const Step& step, double seconds);

  // Seconds the steps plan[next..] are estimated to take, leaving out the platforms in
  // `failed` (their remaining steps are skipped).
  double remaining_s(std::size_t next, const std::vector<bool>& failed = {}) const;

  // Seconds the adaptive rounds not planned yet could add at most: `rounds_left[e]` more
  // rounds of experiment e on each of `platform_count` platforms, leaving out the failed.
  double extra_rounds_s(const std::vector<int>& rounds_left, std::size_t platform_count,
                        const std::vector<bool>& failed = {}) const;

  // The estimate for one step: the mean of the same (platform, experiment) steps measured
  // so far; else the workload's time plus this platform's mean overhead beyond its
  // workloads' times; else plus the mean overhead of all platforms; else the defaults.
  double estimate_s(const Step& step) const;

private:
  double nominal_s(std::size_t experiment) const;
  double default_overhead_s(std::size_t experiment) const;

  std::vector<double> m_time_s;   // per experiment: its workload's --time
  std::vector<bool> m_fileio;     // per experiment
  std::vector<Step> m_plan;
  std::map<std::pair<std::size_t, std::size_t>, std::pair<double, int>> m_measured; // (platform, experiment) -> sum, n
  std::map<std::size_t, std::pair<double, int>> m_overhead;                         // platform -> sum, n
};

// "45s", "3m10s", "2h05m", "3d04h": the ETA's spelling.
std::string format_duration(double seconds);

} // namespace virtbench
