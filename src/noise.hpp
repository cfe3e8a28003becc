#pragma once
// The noise model behind `compare`: what is compared for each metric, and how much it
// moves between two runs of the same build.
//
// Iterations within one run vary less than runs do: the host's speed drifts between runs.
// Two sources put that drift back:
// - the interleaved native baseline is a control measured in the same rounds, so a
//   virtualized platform's metric is compared as its ratio to native (Basis::native_ratio):
//   host drift moves both sides of the ratio and mostly cancels;
// - the history: earlier runs of the same series (host, suite, setup, experiment,
//   platform, metric; the lookback) give the spread between runs directly.
// Every figure is on the log scale: throughput and latency are positive and their noise
// is multiplicative, so changes are ratios and intervals never reach 0.

#include "report_model.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace virtbench {

enum class Basis { absolute, native_ratio };

const char* basis_name(Basis b); // "absolute", "ratio to native"

// One run's figure for one metric.
struct RunFigure {
  double log_value = 0;  // log(mean), or log(mean / native's mean) on the native_ratio basis
  double within_var = 0; // its squared standard error from the run's own iterations (delta method)
  double df = 0;         // degrees of freedom of within_var (Welch–Satterthwaite for a ratio)
  std::size_t n = 0;     // iterations of the platform
  std::vector<double> log_iterations; // each iteration's log(value) (minus log(native's mean))
};

// The figure of `platform`'s `metric` in `a` on `basis`. Empty when the values are
// missing (native's too, for a ratio) or a value is not positive.
std::optional<RunFigure> run_figure(const Analysis& a, const std::string& experiment, const std::string& platform,
                                    const std::string& metric, Basis basis);

// The spread of one series over earlier runs.
struct Spread {
  std::size_t runs = 0;
  double mean_log = 0;   // mean of the runs' log figures
  double var_log = 0;    // their sample variance: between runs, iteration noise included
  double within_var = 0; // the runs' mean within-run variance
  // The drift's own variance τ² (between-run variance beyond what the iterations explain).
  double drift_var() const { return var_log > within_var ? var_log - within_var : 0; }
  std::vector<double> log_iterations; // every run's iterations, pooled (for a rank test)
};

// Fewer earlier runs than this give no estimate of the drift (df = runs − 1 ≥ 2).
inline constexpr std::size_t k_min_lookback_runs = 3;

// Earlier runs of one setup, as series of figures.
class Lookback {
public:
  // Adds one earlier run (the caller chooses them: same host, suite and fingerprint).
  void add_run(const Analysis& a, const std::string& run_id);
  // The spread of a series; empty with fewer than k_min_lookback_runs runs.
  std::optional<Spread> spread(const std::string& experiment, const std::string& platform, const std::string& metric,
                               Basis basis) const;
  // Runs of a series (also when too few for a spread).
  std::size_t runs(const std::string& experiment, const std::string& platform, const std::string& metric,
                   Basis basis) const;
  const std::vector<std::string>& run_ids() const { return m_run_ids; }

private:
  std::map<std::string, std::vector<RunFigure>> m_series;
  std::vector<std::string> m_run_ids;
};

} // namespace virtbench
