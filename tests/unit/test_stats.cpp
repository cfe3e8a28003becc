// Statistics against independently computed reference values.
//
// Sources: R's ?t.test example on the `sleep` data (Student 1908) prints, for the Welch
// test, t = -1.8608, df = 17.776, p-value = 0.07939, and for group 1 alone the 95% CI
// -0.5297804 2.0297804. The digits beyond R's come from tests/data/results/stats_reference.py,
// which builds the t distribution from mpmath's incomplete beta function (no Boost, no
// SciPy). Medians, MADs and outliers are worked out by hand in the comments.
#include "stats.hpp"

#include "sleep_data.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

using namespace virtbench;

using test_data::k_sleep1;
using test_data::k_sleep2;

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

TEST_CASE("positive data: the interval of the mean is on the log scale and never reaches 0") {
  // The quick suite's qemu fileio once printed 741.98 (-438.17–1922.1) reads/s. mpmath
  // (stats_reference.py): mean × exp(± t(0.975, 4) · cv / √5).
  std::vector<double> v = {741.98, 412.5, 1230.4, 655.0, 670.0};
  auto s = describe_sample(v);
  CHECK(s.ci_log_scale);
  CHECK(s.mean == doctest::Approx(741.976));
  CHECK(s.ci_low == doctest::Approx(449.160071818163).epsilon(1e-10));
  CHECK(s.ci_high == doctest::Approx(1225.68415831689).epsilon(1e-10));
  CHECK(s.ci_low > 0);
  // A zero or negative value: Student t on the raw values, as before.
  auto raw = describe_sample(k_sleep1);
  CHECK_FALSE(raw.ci_log_scale);
}

TEST_CASE("ratio_interval: log scale for positive data, always bounded with two values a side") {
  std::vector<double> native = {52110.3, 51874.9, 52402.7, 51988.1, 52230.6};
  std::vector<double> tcg = {7512.4, 7490.8, 7555.1, 7431.9, 7528.3};
  auto r = ratio_interval(native, tcg);
  REQUIRE(r.bounded);
  // mpmath: 6.94608259925104 (6.89198141374837–7.00060847224153), close to Fieller's
  // 6.89206947672733–7.00069946645732 for data this tight.
  CHECK(r.estimate == doctest::Approx(6.94608259925104).epsilon(1e-12));
  CHECK(r.low == doctest::Approx(6.89198141374837).epsilon(1e-9));
  CHECK(r.high == doctest::Approx(7.00060847224153).epsilon(1e-9));
  // Fieller is unbounded here (the denominator's t interval includes 0); the log scale is not.
  std::vector<double> noisy = {100, 5, 300, 2, 50};
  CHECK_FALSE(ratio_of_means({10, 11, 12}, noisy).bounded);
  auto log_r = ratio_interval({10, 11, 12}, noisy);
  REQUIRE(log_r.bounded);
  CHECK(log_r.low > 0);
  CHECK(log_r.low < log_r.estimate);
  CHECK(log_r.high > log_r.estimate);
  // One value: no interval, and why.
  auto single = ratio_interval({6.0}, {2.0, 2.2});
  CHECK_FALSE(single.bounded);
  CHECK(single.why_unbounded.find("two or more iterations") != std::string::npos);
  CHECK(ratio_of_means({1, 2, 3}, {-1, 0.5, 1.5}).why_unbounded.find("includes 0") != std::string::npos);
}

TEST_CASE("Mann–Whitney U: exact p-values match R and full enumeration") {
  // R ?wilcox.test (Hollander & Wolfe 1973, p. 69): W = 35, one-sided p = 0.1272.
  // Enumerating all 3003 labellings (stats_reference.py): two-sided p = 0.254412254412254.
  std::vector<double> x = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
  std::vector<double> y = {1.15, 0.88, 0.90, 0.74, 1.21};
  auto m = mann_whitney_u(y, x);
  REQUIRE(m.valid);
  CHECK(m.exact);
  CHECK(m.u == 35);
  CHECK(m.p == doctest::Approx(0.254412254412254).epsilon(1e-12));
  CHECK(mann_whitney_u(x, y).p == doctest::Approx(m.p).epsilon(1e-12));
  // 5 against 5, fully separated: the smallest two-sided p there is, 2 / C(10, 5) = 2/252.
  auto sep = mann_whitney_u({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  CHECK(sep.exact);
  CHECK(sep.u == 25);
  CHECK(sep.p == doctest::Approx(2.0 / 252).epsilon(1e-12));
}

TEST_CASE("Mann–Whitney U: ties use the normal approximation with tie and continuity corrections") {
  // stats_reference.py mw_normal (R: wilcox.test(a, b, exact = FALSE)): U = 24.5, p = 0.0933772436051155.
  auto m = mann_whitney_u({1, 2, 2, 3, 4}, {2, 3, 4, 4, 5, 6});
  REQUIRE(m.valid);
  CHECK_FALSE(m.exact);
  CHECK(m.u == 24.5);
  CHECK(m.p == doctest::Approx(0.0933772436051155).epsilon(1e-10));
  CHECK(mann_whitney_u({3, 3}, {3, 3}).p == 1);
  CHECK_FALSE(mann_whitney_u({}, {1}).valid);
}

TEST_CASE("p-value adjustment: Holm and Benjamini–Hochberg as R's p.adjust") {
  // By hand: sorted 0.005 0.01 0.03 0.04 → Holm ×4 ×3 ×2 ×1 = 0.02 0.03 0.06 0.04 → cummax
  // 0.02 0.03 0.06 0.06; BH ×4/1 ×4/2 ×4/3 ×4/4 = 0.02 0.02 0.04 0.04 → cummin from the top.
  std::vector<double> p = {0.01, 0.04, 0.03, 0.005};
  auto holm = adjust_p_values(p, Correction::holm);
  CHECK(holm[0] == doctest::Approx(0.03));
  CHECK(holm[1] == doctest::Approx(0.06));
  CHECK(holm[2] == doctest::Approx(0.06));
  CHECK(holm[3] == doctest::Approx(0.02));
  auto bh = adjust_p_values(p, Correction::bh);
  CHECK(bh[0] == doctest::Approx(0.02));
  CHECK(bh[1] == doctest::Approx(0.04));
  CHECK(bh[2] == doctest::Approx(0.04));
  CHECK(bh[3] == doctest::Approx(0.02));
  CHECK(adjust_p_values(p, Correction::none) == p);

  // Benjamini & Hochberg (1995), section 4.1: 15 p-values; at q = 0.05 BH rejects the 4
  // smallest, Holm (like Bonferroni) the 3 smallest.
  std::vector<double> bh95 = {0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
                              0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000};
  auto count_below = [](const std::vector<double>& v) { return std::count_if(v.begin(), v.end(), [](double x) { return x < 0.05; }); };
  CHECK(count_below(adjust_p_values(bh95, Correction::bh)) == 4);
  CHECK(count_below(adjust_p_values(bh95, Correction::holm)) == 3);
  CHECK(adjust_p_values({}, Correction::holm).empty());
}

TEST_CASE("t_test_of: a difference with its standard error") {
  // t = 2 / 0.5 = 4, df 10: two-sided p = I_{10/26}(5, 1/2) = 0.00251833262473669 (mpmath; R: 2 * pt(-4, 10))
  auto w = t_test_of(2, 0.5, 10);
  REQUIRE(w.valid);
  CHECK(w.t == 4);
  CHECK(w.p == doctest::Approx(0.00251833262473669).epsilon(1e-10));
  CHECK(t_test_of(1.96, 1, INFINITY).p == doctest::Approx(0.05).epsilon(1e-3));
  CHECK_FALSE(t_test_of(1, 0, 5).valid);
  CHECK_FALSE(t_test_of(NAN, 1, 5).valid);
}
