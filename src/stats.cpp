#include "stats.hpp"

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace virtbench {

namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double variance_of(const std::vector<double>& v, double mean) {
  double ss = 0;
  for (double x : v)
    ss += (x - mean) * (x - mean);
  return ss / static_cast<double>(v.size() - 1);
}

} // namespace

double t_critical(double df, double confidence) {
  double upper = 1 - (1 - confidence) / 2;
  if (!std::isfinite(df))
    return boost::math::quantile(boost::math::normal_distribution<double>(), upper);
  return boost::math::quantile(boost::math::students_t_distribution<double>(df), upper);
}

SampleStats describe_sample(const std::vector<double>& values, double confidence) {
  SampleStats s;
  s.n = values.size();
  if (values.empty())
    return s;
  s.mean = mean_of(values);
  s.median = median_of(values);
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  s.min = *lo;
  s.max = *hi;
  s.ci_low = s.ci_high = s.mean;
  std::vector<double> deviations;
  for (double v : values)
    deviations.push_back(std::abs(v - s.median));
  s.mad = median_of(deviations);
  if (s.n > 1) {
    s.stddev = std::sqrt(variance_of(values, s.mean));
    s.cv = s.mean != 0 ? s.stddev / std::abs(s.mean) : 0;
    double half = t_critical(static_cast<double>(s.n - 1), confidence) * s.stddev / std::sqrt(static_cast<double>(s.n));
    s.ci_low = s.mean - half;
    s.ci_high = s.mean + half;
  }
  // With MAD = 0 (most values equal) the rule has no scale: nothing is flagged.
  double limit = std::max(k_outlier_mads * k_mad_scale * s.mad, k_outlier_min_relative * std::abs(s.median));
  if (s.mad > 0)
    for (std::size_t i = 0; i < values.size(); ++i)
      if (std::abs(values[i] - s.median) > limit)
        s.outliers.push_back(i);
  return s;
}

Interval ratio_of_means(const std::vector<double>& numerator, const std::vector<double>& denominator,
                        double confidence) {
  Interval r;
  if (numerator.empty() || denominator.empty())
    return r;
  double a = mean_of(numerator), b = mean_of(denominator);
  if (b == 0)
    return r;
  r.estimate = a / b;
  if (numerator.size() < 2 || denominator.size() < 2)
    return r;
  double na = static_cast<double>(numerator.size()), nb = static_cast<double>(denominator.size());
  double va = variance_of(numerator, a) / na; // squared standard errors of the means
  double vb = variance_of(denominator, b) / nb;
  double theta = r.estimate;
  // Welch–Satterthwaite degrees of freedom of (mean_a - theta * mean_b).
  double num = (va + theta * theta * vb) * (va + theta * theta * vb);
  double den = va * va / (na - 1) + std::pow(theta, 4) * vb * vb / (nb - 1);
  double df = den > 0 ? num / den : std::numeric_limits<double>::infinity();
  double t = t_critical(df, confidence);
  // Fieller: the theta with (a - theta b)^2 <= t^2 (va + theta^2 vb), a quadratic in theta.
  double qa = b * b - t * t * vb;
  if (qa <= 0)
    return r; // the denominator's mean is not clearly non-zero: the set is unbounded
  double disc = t * t * (a * a * vb + b * b * va - t * t * va * vb);
  double root = std::sqrt(std::max(disc, 0.0));
  r.low = (a * b - root) / qa;
  r.high = (a * b + root) / qa;
  r.bounded = true;
  return r;
}

WelchTest welch_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  WelchTest w;
  if (a.size() < 2 || b.size() < 2)
    return w;
  double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  double ma = mean_of(a), mb = mean_of(b);
  double va = variance_of(a, ma) / na, vb = variance_of(b, mb) / nb;
  if (va + vb == 0)
    return w; // neither sample varies: no scale to judge a difference against
  w.t = (mb - ma) / std::sqrt(va + vb);
  w.df = (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
  boost::math::students_t_distribution<double> dist(w.df);
  w.p = 2 * boost::math::cdf(boost::math::complement(dist, std::abs(w.t)));
  w.valid = true;
  return w;
}

} // namespace virtbench
