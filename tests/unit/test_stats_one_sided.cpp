// One-sided tests and weighted p-value adjustment against independently computed references.
//
// Every number here comes from tests/data/results/one_sided_reference.py (its output is
// one_sided_reference.out beside it): the t distribution from mpmath's regularized
// incomplete beta function (as R's pt() gives it), the exact Mann–Whitney distribution by
// enumerating every labelling of the pooled sample (as R's wilcox.test(exact = TRUE)), and
// weighted Holm / BH adjusted p-values as the smallest alpha at which the sequential
// rejection rule itself rejects (found by bisection; not the max/cummax formula the code
// uses). Published cross-checks are named beside each value.
#include "stats.hpp"

#include "sleep_data.hpp"

#include "util/error.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace virtbench;

using test_data::k_sleep1;
using test_data::k_sleep2;

TEST_CASE("one-sided t: the tails R's pt() gives") {
  // pt(-4, 10) = pt(4, 10, lower.tail = FALSE) = 0.0012591663123683461, half of the
  // two-sided 0.00251833262473669 test_stats.cpp checks.
  auto less = t_test_of(-2, 0.5, 10, Alternative::less);
  REQUIRE(less.valid);
  CHECK(less.t == -4);
  CHECK(less.alternative == Alternative::less);
  CHECK(less.p == doctest::Approx(0.0012591663123683461).epsilon(1e-10));
  CHECK(t_test_of(2, 0.5, 10, Alternative::greater).p == doctest::Approx(0.0012591663123683461).epsilon(1e-10));
  // The other way: pt(4, 10) = 0.99874083368763165.
  CHECK(t_test_of(2, 0.5, 10, Alternative::less).p == doctest::Approx(0.99874083368763165).epsilon(1e-12));
  CHECK(t_test_of(-2, 0.5, 10, Alternative::greater).p == doctest::Approx(0.99874083368763165).epsilon(1e-12));
  // Textbook one-sided critical values: t_{0.05, 10} = 1.812, t_{0.01, 4} = 3.747
  // (mpmath: P(T_10 > 1.812461123) = 0.0499999999846, P(T_4 > 3.746947388) = 0.00999999999982).
  CHECK(t_test_of(1.812461123, 1, 10, Alternative::greater).p == doctest::Approx(0.049999999984636719).epsilon(1e-9));
  CHECK(t_test_of(3.746947388, 1, 4, Alternative::greater).p == doctest::Approx(0.0099999999998193897).epsilon(1e-9));
  // ... and the one-sided quantile is t_critical at 1 − 2a.
  CHECK(t_critical(10, 0.90) == doctest::Approx(1.812461123).epsilon(1e-9));
  CHECK(t_critical(4, 0.98) == doctest::Approx(3.746947388).epsilon(1e-9));
  // df infinite: the normal distribution, pnorm(-2.5) = 0.0062096653257761352.
  CHECK(t_test_of(-2.5, 1, INFINITY, Alternative::less).p == doctest::Approx(0.0062096653257761352).epsilon(1e-10));
  // The default stays two-sided.
  CHECK(t_test_of(2, 0.5, 10).p == doctest::Approx(2 * 0.0012591663123683461).epsilon(1e-10));
  CHECK_FALSE(t_test_of(1, 0, 5, Alternative::less).valid);
}

TEST_CASE("one-sided Welch: R's t.test(extra ~ group, data = sleep, alternative = \"less\")") {
  // R prints t = -1.8608, df = 17.776, p-value = 0.0397 (group 1 against group 2); here
  // group 2 against group 1, so the same test is "greater": 0.039697070093679069 (mpmath).
  auto greater = welch_t_test(k_sleep1, k_sleep2, Alternative::greater);
  REQUIRE(greater.valid);
  CHECK(greater.t == doctest::Approx(1.86081346748685).epsilon(1e-10));
  CHECK(greater.df == doctest::Approx(17.7764735161785).epsilon(1e-10));
  CHECK(greater.p == doctest::Approx(0.039697070093679069).epsilon(1e-8));
  CHECK(welch_t_test(k_sleep1, k_sleep2, Alternative::less).p ==
        doctest::Approx(0.96030292990632093).epsilon(1e-8));
  CHECK(welch_t_test(k_sleep2, k_sleep1, Alternative::less).p ==
        doctest::Approx(0.039697070093679069).epsilon(1e-8));
}

TEST_CASE("one-sided exact Mann–Whitney: R's wilcox.test(x, y, alternative, exact = TRUE)") {
  // R's ?wilcox.test example (Hollander & Wolfe 1973, p. 69): wilcox.test(x, y,
  // alternative = "greater") prints W = 35, p-value = 0.1272; enumeration: 382/3003.
  // mann_whitney_u(a, b) is R's wilcox.test(b, a): its U is R's W.
  std::vector<double> x = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
  std::vector<double> y = {1.15, 0.88, 0.90, 0.74, 1.21};
  auto greater = mann_whitney_u(y, x, Alternative::greater);
  REQUIRE(greater.valid);
  CHECK(greater.exact);
  CHECK(greater.u == 35);
  CHECK(greater.p == doctest::Approx(382.0 / 3003).epsilon(1e-12));
  CHECK(mann_whitney_u(y, x, Alternative::less).p == doctest::Approx(2693.0 / 3003).epsilon(1e-12));
  // wilcox.test(y, x, "less"): W = 15, the same tail.
  auto swapped = mann_whitney_u(x, y, Alternative::less);
  CHECK(swapped.u == 15);
  CHECK(swapped.p == doctest::Approx(382.0 / 3003).epsilon(1e-12));
  // Textbook table for n1 = n2 = 5 (one-tailed 0.05: U <= 4; 0.025: U <= 2):
  // wilcox.test(c(1,2,3,4,9), c(5,6,7,8,10), "less"): W = 4, P(W <= 4) = 12/252.
  auto table = mann_whitney_u({5, 6, 7, 8, 10}, {1, 2, 3, 4, 9}, Alternative::less);
  CHECK(table.u == 4);
  CHECK(table.p == doctest::Approx(12.0 / 252).epsilon(1e-12));
  CHECK(mann_whitney_u({5, 6, 7, 8, 10}, {1, 2, 3, 4, 9}, Alternative::greater).p ==
        doctest::Approx(245.0 / 252).epsilon(1e-12));
  // W = 5: less 19/252, greater 240/252.
  CHECK(mann_whitney_u({3, 5, 8, 9, 10}, {1, 2, 4, 6, 7}, Alternative::less).p == doctest::Approx(19.0 / 252).epsilon(1e-12));
  CHECK(mann_whitney_u({3, 5, 8, 9, 10}, {1, 2, 4, 6, 7}, Alternative::greater).p ==
        doctest::Approx(240.0 / 252).epsilon(1e-12));
  // Unequal sizes, 4 against 6: W = 4, less 12/210, greater 203/210.
  std::vector<double> x4 = {2.1, 3.5, 0.4, 1.7}, y6 = {2.9, 4.4, 5.0, 3.1, 6.2, 1.9};
  CHECK(mann_whitney_u(y6, x4, Alternative::less).u == 4);
  CHECK(mann_whitney_u(y6, x4, Alternative::less).p == doctest::Approx(12.0 / 210).epsilon(1e-12));
  CHECK(mann_whitney_u(y6, x4, Alternative::greater).p == doctest::Approx(203.0 / 210).epsilon(1e-12));
  // Fully separated 5 against 5: one-sided 1/252, the smallest there is.
  CHECK(mann_whitney_u({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}, Alternative::greater).p == doctest::Approx(1.0 / 252).epsilon(1e-12));
}

TEST_CASE("one-sided Mann–Whitney with ties: R's wilcox.test(exact = FALSE), continuity-corrected") {
  // wilcox.test(c(2,3,4,4,5,6), c(1,2,2,3,4), alternative, exact = FALSE): W = 24.5,
  // greater 0.046688621802557763 (half the two-sided 0.0933772436051155), less 0.96885830443126871.
  auto greater = mann_whitney_u({1, 2, 2, 3, 4}, {2, 3, 4, 4, 5, 6}, Alternative::greater);
  REQUIRE(greater.valid);
  CHECK_FALSE(greater.exact);
  CHECK(greater.u == 24.5);
  CHECK(greater.p == doctest::Approx(0.046688621802557763).epsilon(1e-10));
  CHECK(mann_whitney_u({1, 2, 2, 3, 4}, {2, 3, 4, 4, 5, 6}, Alternative::less).p ==
        doctest::Approx(0.96885830443126871).epsilon(1e-10));
}

TEST_CASE("weighted Holm: equal weights are R's p.adjust(p, \"holm\"), unequal ones Holm (1979)'s rule") {
  std::vector<double> p = {0.01, 0.04, 0.03, 0.005};
  // Equal weights of any scale: R's p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02.
  for (auto& w : {std::vector<double>{}, std::vector<double>{1, 1, 1, 1}, std::vector<double>{0.25, 0.25, 0.25, 0.25}}) {
    auto holm = adjust_p_values(p, Correction::holm, w);
    CHECK(holm[0] == doctest::Approx(0.03));
    CHECK(holm[1] == doctest::Approx(0.06));
    CHECK(holm[2] == doctest::Approx(0.06));
    CHECK(holm[3] == doctest::Approx(0.02));
  }
  // Worked from the rule: p = 0.02 0.011 0.004 0.3, w = 0.4 0.4 0.1 0.1 (Σ 1).
  // p/w = 0.05 0.0275 0.04 3 → order H2, H3, H1, H4; weight left 1, 0.6, 0.5, 0.1.
  // At alpha 0.05: H2 0.0275 <= 0.05/1; H3 0.04 <= 0.05/0.6; H1 0.05 <= 0.05/0.5; H4 3 > 0.05/0.1.
  // Adjusted: 0.011·1/0.4 = 0.0275, 0.004·0.6/0.1 = 0.024 → 0.0275 (cummax), 0.02·0.5/0.4 =
  // 0.025 → 0.0275, 0.3·0.1/0.1 = 0.3. (Unweighted Holm: 0.04 0.033 0.016 0.3.)
  auto w = adjust_p_values({0.02, 0.011, 0.004, 0.3}, Correction::holm, {0.4, 0.4, 0.1, 0.1});
  CHECK(w[0] == doctest::Approx(0.0275));
  CHECK(w[1] == doctest::Approx(0.0275));
  CHECK(w[2] == doctest::Approx(0.0275));
  CHECK(w[3] == doctest::Approx(0.3));
  // Two heavy hypotheses among six: w = 3 3 1 1 1 1 (Σ 10). Adjusted 0.001·10/3, 0.008·7/3,
  // then 0.039·4 = 0.156, which bounds the rest (0.123, 0.084, 0.06 below it).
  auto six = adjust_p_values({0.001, 0.008, 0.039, 0.041, 0.042, 0.06}, Correction::holm, {3, 3, 1, 1, 1, 1});
  CHECK(six[0] == doctest::Approx(0.00333333333333333));
  CHECK(six[1] == doctest::Approx(0.0186666666666667));
  for (std::size_t i = 2; i < 6; ++i)
    CHECK(six[i] == doctest::Approx(0.156));
  // A weight of 0 is never rejected; the others share the whole alpha.
  auto zero = adjust_p_values({0.0001, 0.02}, Correction::holm, {0, 1});
  CHECK(zero[0] == 1);
  CHECK(zero[1] == doctest::Approx(0.02));
  CHECK_THROWS_AS(adjust_p_values({0.1, 0.2}, Correction::holm, {1}), Error);
  CHECK_THROWS_AS(adjust_p_values({0.1, 0.2}, Correction::holm, {1, -1}), Error);
  CHECK_THROWS_AS(adjust_p_values({0.1, 0.2}, Correction::holm, {0, 0}), Error);
  // No correction ignores the weights.
  CHECK(adjust_p_values(p, Correction::none, {1, 2, 3, 4}) == p);
}

TEST_CASE("weighted Benjamini–Hochberg (Genovese, Roeder & Wasserman 2006)") {
  // Equal weights: R's p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02 0.04 0.04 0.02.
  auto bh = adjust_p_values({0.01, 0.04, 0.03, 0.005}, Correction::bh, {2, 2, 2, 2});
  CHECK(bh[0] == doctest::Approx(0.02));
  CHECK(bh[1] == doctest::Approx(0.04));
  CHECK(bh[2] == doctest::Approx(0.04));
  CHECK(bh[3] == doctest::Approx(0.02));
  // w = 0.4 0.4 0.1 0.1 scaled to mean 1: 1.6 1.6 0.4 0.4; p/w = 0.0125 0.006875 0.01 0.75.
  // Sorted 0.006875 0.01 0.0125 0.75, × 4/k: 0.0275 0.02 0.016667 0.75 → cummin from the top.
  auto w = adjust_p_values({0.02, 0.011, 0.004, 0.3}, Correction::bh, {0.4, 0.4, 0.1, 0.1});
  CHECK(w[0] == doctest::Approx(0.0166666666666667));
  CHECK(w[1] == doctest::Approx(0.0166666666666667));
  CHECK(w[2] == doctest::Approx(0.0166666666666667));
  CHECK(w[3] == doctest::Approx(0.75));
  // w = 3 3 1 1 1 1: 0.00333333 0.0133333 then 0.084 0.084 0.084 and 0.1 at the top.
  auto six = adjust_p_values({0.001, 0.008, 0.039, 0.041, 0.042, 0.06}, Correction::bh, {3, 3, 1, 1, 1, 1});
  CHECK(six[0] == doctest::Approx(0.00333333333333333));
  CHECK(six[1] == doctest::Approx(0.0133333333333333));
  CHECK(six[2] == doctest::Approx(0.084));
  CHECK(six[3] == doctest::Approx(0.084));
  CHECK(six[4] == doctest::Approx(0.084));
  CHECK(six[5] == doctest::Approx(0.1));
}
