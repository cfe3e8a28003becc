#include "noise.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace virtbench {

namespace {

std::string series_key(const std::string& experiment, const std::string& platform, const std::string& metric,
                       Basis basis) {
  return experiment + '\n' + platform + '\n' + metric + '\n' + basis_name(basis);
}

bool all_positive(const std::vector<double>& v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](double x) { return x > 0 && std::isfinite(x); });
}

} // namespace

const char* basis_name(Basis b) { return b == Basis::native_ratio ? "ratio to native" : "absolute"; }

std::optional<RunFigure> run_figure(const Analysis& a, const std::string& experiment, const std::string& platform,
                                    const std::string& metric, Basis basis) {
  auto* cell = a.find(platform, experiment);
  auto* series = cell ? cell->metric(metric) : nullptr;
  if (!series || !all_positive(series->values))
    return std::nullopt;
  auto& s = series->stats;
  RunFigure f;
  f.n = s.n;
  // var(log x̄) ≈ var(x̄) / x̄² = cv² / n.
  f.within_var = s.n > 1 ? s.cv * s.cv / static_cast<double>(s.n) : 0;
  f.df = static_cast<double>(s.n) - 1;
  double offset = 0;
  if (basis == Basis::native_ratio) {
    auto* ncell = a.find("native", experiment);
    auto* nseries = ncell ? ncell->metric(metric) : nullptr;
    if (platform == "native" || !nseries || !all_positive(nseries->values))
      return std::nullopt;
    auto& ns = nseries->stats;
    offset = std::log(ns.mean);
    double nv = ns.n > 1 ? ns.cv * ns.cv / static_cast<double>(ns.n) : 0;
    double total = f.within_var + nv;
    double den = (s.n > 1 ? f.within_var * f.within_var / f.df : 0) +
                 (ns.n > 1 ? nv * nv / (static_cast<double>(ns.n) - 1) : 0);
    f.df = den > 0 ? total * total / den : std::numeric_limits<double>::infinity();
    f.within_var = total;
  }
  f.log_value = std::log(s.mean) - offset;
  for (double v : series->values)
    f.log_iterations.push_back(std::log(v) - offset);
  return f;
}

void Lookback::add_run(const Analysis& a, const std::string& run_id) {
  m_run_ids.push_back(run_id);
  for (auto& cell : a.cells)
    for (auto& [path, series] : cell.metrics) {
      if (!series.def->performance)
        continue;
      for (auto basis : {Basis::absolute, Basis::native_ratio})
        if (auto f = run_figure(a, cell.experiment->name, cell.platform, path, basis))
          m_series[series_key(cell.experiment->name, cell.platform, path, basis)].push_back(std::move(*f));
    }
}

std::size_t Lookback::runs(const std::string& experiment, const std::string& platform, const std::string& metric,
                           Basis basis) const {
  auto it = m_series.find(series_key(experiment, platform, metric, basis));
  return it == m_series.end() ? 0 : it->second.size();
}

std::optional<Spread> Lookback::spread(const std::string& experiment, const std::string& platform,
                                       const std::string& metric, Basis basis) const {
  auto it = m_series.find(series_key(experiment, platform, metric, basis));
  if (it == m_series.end() || it->second.size() < k_min_lookback_runs)
    return std::nullopt;
  auto& figures = it->second;
  Spread s;
  s.runs = figures.size();
  double k = static_cast<double>(s.runs);
  for (auto& f : figures) {
    s.mean_log += f.log_value / k;
    s.within_var += f.within_var / k;
    s.log_iterations.insert(s.log_iterations.end(), f.log_iterations.begin(), f.log_iterations.end());
  }
  for (auto& f : figures)
    s.var_log += (f.log_value - s.mean_log) * (f.log_value - s.mean_log) / (k - 1);
  return s;
}

} // namespace virtbench
