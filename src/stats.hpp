#pragma once
// Statistics of repeated measurements: descriptive statistics with a Student-t
// confidence interval and flagged outliers, the ratio of two means with a Fieller
// interval, and Welch's t-test. Distributions come from Boost.Math.

#include <cstddef>
#include <vector>

namespace virtbench {

// A coefficient of variation above this calls a sample noisy in reports.
inline constexpr double k_noisy_cv = 0.10;
// Outlier rule: a value farther than this many scaled MADs from the median, where the
// scaled MAD is 1.4826 × median(|x − median|) (a robust estimate of the standard
// deviation for normal data). Flagged in reports, never dropped.
inline constexpr double k_outlier_mads = 3.0;
inline constexpr double k_mad_scale = 1.4826;
// ... and farther than this fraction of the median, so that measurement jitter in a
// nearly constant series (total time 2.0001 s vs 2.0003 s) is not called an outlier.
inline constexpr double k_outlier_min_relative = 0.01;

struct SampleStats {
  std::size_t n = 0;
  double mean = 0;
  double median = 0;
  double stddev = 0; // sample standard deviation (n - 1); 0 when n < 2
  double cv = 0;     // stddev / |mean|; 0 when n < 2 or mean == 0
  double min = 0, max = 0;
  double ci_low = 0, ci_high = 0; // confidence interval of the mean (Student t); = mean when n < 2
  double mad = 0;                 // unscaled median absolute deviation
  std::vector<std::size_t> outliers; // indices of values outside median ± max(3 × 1.4826 × MAD, 1% of |median|)

  bool noisy() const { return n > 1 && cv > k_noisy_cv; }
  bool has_ci() const { return n > 1; }
};

// Descriptive statistics of `values`, with a `confidence` (e.g. 0.95) interval of the mean.
SampleStats describe_sample(const std::vector<double>& values, double confidence = 0.95);

// Two-sided Student-t quantile: t such that P(|T_df| <= t) = confidence.
double t_critical(double df, double confidence);

// A point estimate with an interval. `bounded` is false when the data cannot bound it
// (too few values, or a denominator not clearly away from zero): then low/high are 0.
struct Interval {
  double estimate = 0;
  double low = 0, high = 0;
  bool bounded = false;
};

// mean(numerator) / mean(denominator) for two independent samples with a Fieller
// interval (unequal variances; Welch–Satterthwaite degrees of freedom at the estimate).
// Needs two or more values in each sample for an interval.
Interval ratio_of_means(const std::vector<double>& numerator, const std::vector<double>& denominator,
                        double confidence = 0.95);

struct WelchTest {
  double t = 0;  // (mean(b) - mean(a)) / standard error
  double df = 0; // Welch–Satterthwaite
  double p = 1;  // two-sided
  bool valid = false; // false when either sample has fewer than 2 values or neither varies
};

// Welch's unequal-variances t-test of mean(b) against mean(a).
WelchTest welch_t_test(const std::vector<double>& a, const std::vector<double>& b);

} // namespace virtbench
