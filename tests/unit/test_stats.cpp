// Statistics against independently computed reference values.
//
// Sources: R's ?t.test example on the `sleep` data (Student 1908) prints, for the Welch
// test, t = -1.8608, df = 17.776, p-value = 0.07939, and for group 1 alone the 95% CI
// -0.5297804 2.0297804. The digits beyond R's come from tests/data/results/stats_reference.py,
// which builds the t distribution from mpmath's incomplete beta function (no Boost, no
// SciPy). Medians, MADs and outliers are worked out by hand in the comments.
#include "stats.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace virtbench;

namespace {
const std::vector<double> k_sleep1 = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
const std::vector<double> k_sleep2 = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
} // namespace

TEST_CASE("t quantiles match published tables") {
  // mpmath: 4.30265272974946, 2.77644510519779, 2.26215716279820 (tables: 4.303, 2.776, 2.262)
  CHECK(t_critical(2, 0.95) == doctest::Approx(4.30265272974946).epsilon(1e-12));
  CHECK(t_critical(4, 0.95) == doctest::Approx(2.77644510519779).epsilon(1e-12));
  CHECK(t_critical(9, 0.95) == doctest::Approx(2.26215716279820).epsilon(1e-12));
  CHECK(t_critical(INFINITY, 0.95) == doctest::Approx(1.959963984540054).epsilon(1e-12));
}

TEST_CASE("describe_sample: R's t.test(sleep$extra[1:10]) numbers") {
  auto s = describe_sample(k_sleep1);
  CHECK(s.n == 10);
  CHECK(s.mean == doctest::Approx(0.75).epsilon(1e-12));
  CHECK(s.stddev == doctest::Approx(1.78900965775916).epsilon(1e-12));
  CHECK(s.ci_low == doctest::Approx(-0.529780413526232).epsilon(1e-10));
  CHECK(s.ci_high == doctest::Approx(2.02978041352623).epsilon(1e-10));
  // sorted: -1.6 -1.2 -0.2 -0.1 0.0 0.7 0.8 2.0 3.4 3.7 → median (0.0 + 0.7) / 2
  CHECK(s.median == doctest::Approx(0.35));
  CHECK(s.min == -1.6);
  CHECK(s.max == 3.7);
  CHECK(s.cv == doctest::Approx(1.78900965775916 / 0.75).epsilon(1e-12));
  CHECK(s.noisy());
  // |x - 0.35| sorted: 0.35 0.35 0.45 0.45 0.55 1.55 1.65 1.95 3.05 3.35 → MAD 1.05;
  // limit 3 × 1.4826 × 1.05 = 4.67: the farthest, 3.35, is within.
  CHECK(s.mad == doctest::Approx(1.05));
  CHECK(s.outliers.empty());
}

TEST_CASE("describe_sample: one value has no spread and no interval") {
  auto s = describe_sample({42.0});
  CHECK(s.n == 1);
  CHECK(s.mean == 42.0);
  CHECK(s.stddev == 0);
  CHECK_FALSE(s.has_ci());
  CHECK(s.ci_low == 42.0);
  CHECK(s.ci_high == 42.0);
  CHECK_FALSE(s.noisy());
  CHECK(describe_sample({}).n == 0);
}

TEST_CASE("outliers: the MAD rule flags, with a 1% floor and nothing when MAD is 0") {
  // median 10.05; |x - median| = 0.05 0.15 0.15 0.05 0.05 3.95 → MAD (0.05 + 0.15) / 2 = 0.1
  // limit max(3 × 1.4826 × 0.1, 1% × 10.05) = 0.44478: only 14 (index 5) is beyond.
  auto s = describe_sample({10, 10.2, 9.9, 10.1, 10.0, 14});
  CHECK(s.median == doctest::Approx(10.05));
  CHECK(s.mad == doctest::Approx(0.1));
  CHECK(s.outliers == std::vector<std::size_t>{5});
  // Jitter within 1% of the median is never an outlier, however small the MAD.
  CHECK(describe_sample({2.0001, 2.0001, 2.0002, 2.0001, 2.0009}).outliers.empty());
  // MAD 0: the rule has no scale.
  CHECK(describe_sample({5, 5, 5, 5, 9}).outliers.empty());
}

TEST_CASE("CV: 10% is the noisy line") {
  // mean 100, sample sd of {90, 110} = sqrt(200) = 14.14 → CV 14%
  CHECK(describe_sample({90, 110}).noisy());
  // {99, 101}: sd sqrt(2) = 1.41 → CV 1.4%
  CHECK_FALSE(describe_sample({99, 101}).noisy());
}

TEST_CASE("Welch's t-test: R's sleep example") {
  auto w = welch_t_test(k_sleep1, k_sleep2);
  REQUIRE(w.valid);
  CHECK(w.t == doctest::Approx(1.86081346748685).epsilon(1e-10)); // R: -1.8608 (groups the other way)
  CHECK(w.df == doctest::Approx(17.7764735161785).epsilon(1e-10)); // R: 17.776
  CHECK(w.p == doctest::Approx(0.0793941401873581).epsilon(1e-8)); // R: 0.07939
  auto swapped = welch_t_test(k_sleep2, k_sleep1);
  CHECK(swapped.t == doctest::Approx(-w.t));
  CHECK(swapped.p == doctest::Approx(w.p));
}

TEST_CASE("Welch's t-test: too little data or no variation is not a test") {
  CHECK_FALSE(welch_t_test({1.0}, {1.0, 2.0}).valid);
  CHECK_FALSE(welch_t_test({3, 3, 3}, {4, 4, 4}).valid);
  // One side constant: the other side's variance carries it (df = n - 1 = 2).
  auto w = welch_t_test({10, 10, 10}, {11, 12, 13});
  REQUIRE(w.valid);
  CHECK(w.df == doctest::Approx(2));
  // t = (12 - 10) / sqrt(1/3) = 3.4641; two-sided p for df 2: 1 - t/sqrt(t^2+2) = 0.074180
  CHECK(w.t == doctest::Approx(3.46410161513775));
  CHECK(w.p == doctest::Approx(1 - 3.46410161513775 / std::sqrt(12.0 + 2)).epsilon(1e-10));
}

TEST_CASE("Fieller interval for a ratio of means") {
  // General case (mpmath, tests/data/results/stats_reference.py): native / TCG events/s.
  std::vector<double> native = {52110.3, 51874.9, 52402.7, 51988.1, 52230.6};
  std::vector<double> tcg = {7512.4, 7490.8, 7555.1, 7431.9, 7528.3};
  auto r = ratio_of_means(native, tcg);
  REQUIRE(r.bounded);
  CHECK(r.estimate == doctest::Approx(6.94608259925104).epsilon(1e-12));
  CHECK(r.low == doctest::Approx(6.89206947672733).epsilon(1e-9));
  CHECK(r.high == doctest::Approx(7.00069946645732).epsilon(1e-9));

  // Exact denominator (no variance): the interval is the numerator's t interval ÷ b.
  // {9, 10, 11}: mean 10, se 1/sqrt(3), t(0.975, 2) = 4.30265272974946.
  auto exact_den = ratio_of_means({9, 10, 11}, {4, 4, 4});
  REQUIRE(exact_den.bounded);
  double h = 4.30265272974946 / std::sqrt(3.0);
  CHECK(exact_den.low == doctest::Approx((10 - h) / 4).epsilon(1e-10));
  CHECK(exact_den.high == doctest::Approx((10 + h) / 4).epsilon(1e-10));

  // Exact numerator: [a / (b + t·se_b), a / (b − t·se_b)], the closed form of the quadratic.
  auto exact_num = ratio_of_means({4, 4, 4}, {9, 10, 11});
  REQUIRE(exact_num.bounded);
  CHECK(exact_num.low == doctest::Approx(4 / (10 + h)).epsilon(1e-10));
  CHECK(exact_num.high == doctest::Approx(4 / (10 - h)).epsilon(1e-10));

  // A denominator whose interval includes 0 gives no bounded interval.
  auto unbounded = ratio_of_means({1, 2, 3}, {-1, 0.5, 1.5});
  CHECK_FALSE(unbounded.bounded);
  // One value on a side: an estimate, no interval.
  auto single = ratio_of_means({6.0}, {2.0, 2.2});
  CHECK(single.estimate == doctest::Approx(6 / 2.1));
  CHECK_FALSE(single.bounded);
}
