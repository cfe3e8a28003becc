#pragma once
// Statistics of repeated measurements: descriptive statistics with a confidence
// interval (on the log scale for positive data) and flagged outliers, the ratio of two
// means with an interval, Welch's t-test, the Mann–Whitney U test (exact for small
// samples), each two-sided or one-sided, and Holm / Benjamini–Hochberg adjusted p-values,
// optionally weighted. Distributions come from Boost.Math.

#include <cstddef>
#include <string>
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
  // Confidence interval of the mean; = mean when n < 2. For positive data (throughput,
  // latency) it is computed on the log scale, mean × exp(± t · cv / √n) (the delta
  // method), so it never includes 0 or negative values; otherwise Student t.
  double ci_low = 0, ci_high = 0;
  bool ci_log_scale = false;
  double mad = 0;                 // unscaled median absolute deviation
  std::vector<std::size_t> outliers; // indices of values outside median ± max(3 × 1.4826 × MAD, 1% of |median|)

  bool noisy() const { return n > 1 && cv > k_noisy_cv; }
  bool has_ci() const { return n > 1; }
};

// Descriptive statistics of `values`, with a `confidence` (e.g. 0.95) interval of the mean.
SampleStats describe_sample(const std::vector<double>& values, double confidence = 0.95);

// Two-sided Student-t quantile: t such that P(|T_df| <= t) = confidence. (The one-sided
// 1 − a quantile is t_critical(df, 1 − 2a).)
double t_critical(double df, double confidence);

// Which way a test of b against a looks: two-sided, or one-sided for b less / greater
// than a (R's alternative = "less" / "greater" with x = b, y = a).
enum class Alternative { two_sided, less, greater };

// A point estimate with an interval. `bounded` is false when the data cannot bound it
// (too few values, or a denominator not clearly away from zero): then low/high are 0
// and `why_unbounded` says why and what would bound it.
struct Interval {
  double estimate = 0;
  double low = 0, high = 0;
  bool bounded = false;
  std::string why_unbounded;
};

// mean(numerator) / mean(denominator) for two independent samples with a Fieller
// interval (unequal variances; Welch–Satterthwaite degrees of freedom at the estimate).
// Needs two or more values in each sample for an interval.
Interval ratio_of_means(const std::vector<double>& numerator, const std::vector<double>& denominator,
                        double confidence = 0.95);

// mean(numerator) / mean(denominator) with an interval that respects the data: for
// positive samples on the log scale, log(a/b) ± t · √(cv_a²/n_a + cv_b²/n_b) with
// Welch–Satterthwaite degrees of freedom (always bounded with two or more values a
// side, never ≤ 0); otherwise Fieller's (ratio_of_means).
Interval ratio_interval(const std::vector<double>& numerator, const std::vector<double>& denominator,
                        double confidence = 0.95);

struct WelchTest {
  double t = 0;  // (mean(b) - mean(a)) / standard error
  double df = 0; // Welch–Satterthwaite
  double p = 1;  // for `alternative`: two-sided 2 P(T > |t|), less P(T <= t), greater P(T >= t)
  Alternative alternative = Alternative::two_sided;
  bool valid = false; // false when either sample has fewer than 2 values or neither varies
};

// Welch's unequal-variances t-test of mean(b) against mean(a). As R's t.test(b, a,
// alternative = ...).
WelchTest welch_t_test(const std::vector<double>& a, const std::vector<double>& b,
                       Alternative alternative = Alternative::two_sided);

// A test of a difference with a known standard error and degrees of freedom: t =
// difference / se; two-sided p = 2 P(T_df > |t|), less P(T_df <= t), greater P(T_df >= t)
// (R's pt(); df infinite: the normal distribution).
WelchTest t_test_of(double difference, double se, double df, Alternative alternative = Alternative::two_sided);

struct MannWhitney {
  double u = 0;       // U of b: the number of pairs (a_i, b_j) with b_j > a_i, ties counting 1/2
  double p = 1;       // for `alternative`: less P(U <= u), greater P(U >= u), two-sided twice the smaller tail
  Alternative alternative = Alternative::two_sided;
  bool exact = false; // exact distribution (no ties, small samples); else normal with tie correction
  bool valid = false; // false when a side is empty
};

// The Mann–Whitney U (Wilcoxon rank-sum) test of b against a, as R's wilcox.test(b, a,
// alternative = ...) (its W is this U). Exact p-value when there are no ties and
// n_a · n_b <= 2500; otherwise the normal approximation with the tie correction and a
// continuity correction (as R's wilcox.test(exact = FALSE)).
MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b,
                           Alternative alternative = Alternative::two_sided);

enum class Correction { holm, bh, none };

// Adjusted p-values for a family of tests, in the input's order: Holm's step-down
// (family-wise error), Benjamini–Hochberg's step-up (false discovery rate) or none.
// As R's p.adjust(p, "holm" | "BH" | "none") when `weights` is empty (equal weights).
// With weights (one per p-value, >= 0, not all 0; their scale does not matter):
// - Holm's weighted step-down (Holm 1979): order by p_i / w_i and reject H_(j) while
//   p_(j) / w_(j) <= alpha / (sum of the weights not yet rejected); the adjusted value is
//   max over k <= j of min(1, p_(k) · Σ_{l >= k} w_(l) / w_(k)). It keeps the family-wise
//   error at alpha under any dependence; a hypothesis of weight w is first tested at
//   alpha · w / Σw.
// - BH weighted as Genovese, Roeder & Wasserman (2006): weights scaled to mean 1, BH's
//   step-up on p_i / w_i.
// A weight of 0 gives an adjusted p of 1 (never rejected). Throws Error when the sizes
// differ or a weight is negative or not finite.
std::vector<double> adjust_p_values(const std::vector<double>& p, Correction c,
                                    const std::vector<double>& weights = {});

} // namespace virtbench
