#include "stats.hpp"

#include "util/error.hpp"

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

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

// P(T_df <= t) and P(T_df >= t); df infinite: the normal distribution.
double stats_t_lower_tail(double t, double df) {
  if (!std::isfinite(df))
    return boost::math::cdf(boost::math::normal_distribution<double>(), t);
  return boost::math::cdf(boost::math::students_t_distribution<double>(df), t);
}

double stats_t_upper_tail(double t, double df) {
  if (!std::isfinite(df))
    return boost::math::cdf(boost::math::complement(boost::math::normal_distribution<double>(), t));
  return boost::math::cdf(boost::math::complement(boost::math::students_t_distribution<double>(df), t));
}

double stats_t_p_value(double t, double df, Alternative alternative) {
  switch (alternative) {
  case Alternative::less:
    return stats_t_lower_tail(t, df);
  case Alternative::greater:
    return stats_t_upper_tail(t, df);
  case Alternative::two_sided:
    break;
  }
  return std::min(1.0, 2 * stats_t_upper_tail(std::abs(t), df));
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
    double t = t_critical(static_cast<double>(s.n - 1), confidence);
    double root_n = std::sqrt(static_cast<double>(s.n));
    if (s.min > 0) {
      double half = t * s.cv / root_n; // the standard error of log(mean), by the delta method
      s.ci_low = s.mean * std::exp(-half);
      s.ci_high = s.mean * std::exp(half);
      s.ci_log_scale = true;
    } else {
      double half = t * s.stddev / root_n;
      s.ci_low = s.mean - half;
      s.ci_high = s.mean + half;
    }
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
  if (numerator.size() < 2 || denominator.size() < 2) {
    r.why_unbounded = "one value on a side: run two or more iterations for an interval";
    return r;
  }
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
  if (qa <= 0) { // the denominator's mean is not clearly non-zero: the set is unbounded
    r.why_unbounded = "the denominator's interval includes 0: more iterations (or less noise) would bound it";
    return r;
  }
  double disc = t * t * (a * a * vb + b * b * va - t * t * va * vb);
  double root = std::sqrt(std::max(disc, 0.0));
  r.low = (a * b - root) / qa;
  r.high = (a * b + root) / qa;
  r.bounded = true;
  return r;
}

Interval ratio_interval(const std::vector<double>& numerator, const std::vector<double>& denominator,
                        double confidence) {
  bool positive = !numerator.empty() && !denominator.empty() &&
                  std::all_of(numerator.begin(), numerator.end(), [](double v) { return v > 0; }) &&
                  std::all_of(denominator.begin(), denominator.end(), [](double v) { return v > 0; });
  if (!positive || numerator.size() < 2 || denominator.size() < 2)
    return ratio_of_means(numerator, denominator, confidence);
  Interval r;
  double a = mean_of(numerator), b = mean_of(denominator);
  r.estimate = a / b;
  double na = static_cast<double>(numerator.size()), nb = static_cast<double>(denominator.size());
  // Squared standard errors of log(mean), by the delta method: var(x̄) / x̄².
  double ua = variance_of(numerator, a) / (na * a * a);
  double ub = variance_of(denominator, b) / (nb * b * b);
  double df = ua + ub > 0 ? (ua + ub) * (ua + ub) / (ua * ua / (na - 1) + ub * ub / (nb - 1))
                          : std::numeric_limits<double>::infinity();
  double half = t_critical(df, confidence) * std::sqrt(ua + ub);
  r.low = r.estimate * std::exp(-half);
  r.high = r.estimate * std::exp(half);
  r.bounded = true;
  return r;
}

WelchTest t_test_of(double difference, double se, double df, Alternative alternative) {
  WelchTest w;
  w.alternative = alternative;
  if (!(se > 0) || !std::isfinite(difference) || !(df > 0))
    return w;
  w.t = difference / se;
  w.df = df;
  w.p = stats_t_p_value(w.t, df, alternative);
  w.valid = true;
  return w;
}

MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b, Alternative alternative) {
  MannWhitney m;
  m.alternative = alternative;
  if (a.empty() || b.empty())
    return m;
  std::size_t na = a.size(), nb = b.size();
  bool ties = false;
  for (double x : a)
    for (double y : b) {
      if (y > x)
        m.u += 1;
      else if (y == x) {
        m.u += 0.5;
        ties = true;
      }
    }
  std::vector<double> all(a);
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  ties = ties || std::adjacent_find(all.begin(), all.end()) != all.end();
  m.valid = true;
  double mean_u = static_cast<double>(na * nb) / 2;
  if (!ties && na * nb <= 2500) {
    // Number of arrangements with each U, by the recurrence c(u; n, m) = c(u − m; n − 1, m)
    // + c(u; n, m − 1) over how the largest value is labelled (Mann & Whitney 1947).
    std::size_t max_u = na * nb;
    // ways[j][u] for samples of size (i, j), built up over i.
    std::vector<std::vector<double>> ways(nb + 1, std::vector<double>(max_u + 1, 0));
    for (std::size_t j = 0; j <= nb; ++j)
      ways[j][0] = 1; // i = 0: only U = 0
    for (std::size_t i = 1; i <= na; ++i) {
      std::vector<std::vector<double>> next(nb + 1, std::vector<double>(max_u + 1, 0));
      next[0][0] = 1;
      for (std::size_t j = 1; j <= nb; ++j)
        for (std::size_t u = 0; u <= i * j; ++u)
          // The largest value is a's (it beats none of b: U of b unchanged) or b's (it beats all i of a).
          next[j][u] = ways[j][u] + (u >= i ? next[j - 1][u - i] : 0);
      ways = std::move(next);
    }
    auto& dist = ways[nb];
    double total = std::accumulate(dist.begin(), dist.end(), 0.0);
    // P(U <= u) over the lower tail; by symmetry P(U >= u) = P(U <= max_u − u).
    auto lower = [&](double u) {
      double tail = 0;
      for (std::size_t k = 0; static_cast<double>(k) <= u; ++k)
        tail += dist[k];
      return tail / total;
    };
    if (alternative == Alternative::less)
      m.p = lower(m.u);
    else if (alternative == Alternative::greater)
      m.p = lower(static_cast<double>(max_u) - m.u);
    else
      m.p = std::min(1.0, 2 * lower(std::min(m.u, static_cast<double>(max_u) - m.u))); // the smaller tail
    m.exact = true;
    return m;
  }
  // Normal approximation; variance with the tie correction Σ(t³ − t) over tied groups.
  double n = static_cast<double>(na + nb);
  double tie_sum = 0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j] == all[i])
      ++j;
    double t = static_cast<double>(j - i);
    tie_sum += t * t * t - t;
    i = j;
  }
  double var_u = static_cast<double>(na * nb) / 12 * ((n + 1) - tie_sum / (n * (n - 1)));
  if (var_u <= 0) {
    m.p = 1; // every value equal
    return m;
  }
  boost::math::normal_distribution<double> normal;
  double sd = std::sqrt(var_u);
  // Continuity correction towards the mean, on the side the alternative looks at (as R).
  if (alternative == Alternative::less)
    m.p = boost::math::cdf(normal, (m.u - mean_u + 0.5) / sd);
  else if (alternative == Alternative::greater)
    m.p = boost::math::cdf(boost::math::complement(normal, (m.u - mean_u - 0.5) / sd));
  else
    m.p = std::min(1.0, 2 * boost::math::cdf(boost::math::complement(normal, std::max((std::abs(m.u - mean_u) - 0.5) / sd, 0.0))));
  return m;
}

std::vector<double> adjust_p_values(const std::vector<double>& p, Correction c, const std::vector<double>& weights) {
  std::size_t m = p.size();
  std::vector<double> out(p);
  if (c == Correction::none || m == 0)
    return out;
  if (!weights.empty() && weights.size() != m)
    throw Error("adjust_p_values: " + std::to_string(weights.size()) + " weights for " + std::to_string(m) + " p-values");
  std::vector<double> w = weights.empty() ? std::vector<double>(m, 1.0) : weights;
  for (double x : w)
    if (!(x >= 0) || !std::isfinite(x))
      throw Error("adjust_p_values: a weight is negative or not finite");
  double total = std::accumulate(w.begin(), w.end(), 0.0);
  if (!(total > 0))
    throw Error("adjust_p_values: every weight is 0");
  // p_i / w_i, the order both procedures go by (a weight of 0: never rejected).
  std::vector<double> q(m);
  for (std::size_t i = 0; i < m; ++i)
    q[i] = w[i] > 0 ? p[i] / w[i] : std::numeric_limits<double>::infinity();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto x, auto y) { return q[x] < q[y]; });
  if (c == Correction::holm) {
    // Step-down: the k-th in order against the weight not yet rejected, Σ_{l >= k} w_(l),
    // kept non-decreasing. Equal weights: the k-th smallest (0-based) times (m − k).
    std::vector<double> rest(m + 1, 0.0);
    for (std::size_t k = m; k-- > 0;)
      rest[k] = rest[k + 1] + w[order[k]];
    double running = 0;
    for (std::size_t k = 0; k < m; ++k) {
      double v = std::isfinite(q[order[k]]) ? std::min(1.0, q[order[k]] * rest[k]) : 1.0;
      running = std::max(running, v);
      out[order[k]] = running;
    }
  } else {
    // Step-up on p_i / w_i with the weights scaled to mean 1: the k-th smallest (1-based)
    // times m / k, kept non-increasing from the top. Equal weights: BH's own.
    double md = static_cast<double>(m);
    double scale = total / md; // w_i / scale has mean 1
    double running = 1;
    for (std::size_t k = m; k-- > 0;) {
      running = std::min(running, md / static_cast<double>(k + 1) * q[order[k]] * scale);
      out[order[k]] = std::min(1.0, running);
    }
  }
  return out;
}

WelchTest welch_t_test(const std::vector<double>& a, const std::vector<double>& b, Alternative alternative) {
  WelchTest w;
  w.alternative = alternative;
  if (a.size() < 2 || b.size() < 2)
    return w;
  double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  double ma = mean_of(a), mb = mean_of(b);
  double va = variance_of(a, ma) / na, vb = variance_of(b, mb) / nb;
  if (va + vb == 0)
    return w; // neither sample varies: no scale to judge a difference against
  w.t = (mb - ma) / std::sqrt(va + vb);
  w.df = (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
  w.p = stats_t_p_value(w.t, w.df, alternative);
  w.valid = true;
  return w;
}

} // namespace virtbench
