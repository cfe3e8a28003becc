// Change points (binary segmentation, pooled t on log values, permutation p, Welch interval) on synthetic
// series with known steps.
//
// The noisy series are 1% Gaussian noise around a level from Python's
// random.Random(seed).gauss, rounded to two decimals; tests/data/results/changepoint_reference.py
// makes them and computes the expected shift and its Welch interval with mpmath (no Boost).
// The published reference is R's ?t.test example on the `sleep` data (Student 1908):
// t.test(extra ~ group, data = sleep) prints "95 percent confidence interval: -3.3654832
// 0.2054832" for mean(group 1) - mean(group 2).
#include "changepoint.hpp"

#include "util/error.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace virtbench;

namespace {
// random.Random(1): 12 values around 100, then 12 around 90.
const std::vector<double> k_step = {101.29, 101.45, 100.07, 99.24, 98.91, 100.03, 98.98, 98.56,
                                    100.2,  100.13, 100.55, 99.09, 90.0,  89.94,  88.64, 90.48,
                                    90.29,  92.15,  90.18,  89.87, 91.11, 90.18,  90.82, 89.67};
// random.Random(24): 24 values around 100.
const std::vector<double> k_flat = {99.55,  98.14,  101.47, 103.25, 100.51, 101.4,  101.41, 100.92,
                                    100.91, 101.27, 99.73,  98.32,  98.13,  100.72, 100.49, 99.96,
                                    97.49,  99.73,  99.93,  98.92,  99.17,  102.33, 101.45, 100.86};
// random.Random(36): 10 around 100, 10 around 90, 10 around 105.
const std::vector<double> k_two_steps = {98.64,  102.52, 102.17, 99.43,  100.51, 98.02,  101.4,  100.0,
                                         100.02, 101.62, 88.95,  90.48,  88.86,  89.69,  91.19,  87.75,
                                         89.08,  91.35,  90.69,  89.42,  105.88, 105.86, 105.12, 103.73,
                                         105.66, 106.5,  104.01, 106.95, 105.69, 106.23};
const std::vector<double> k_sleep1 = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
const std::vector<double> k_sleep2 = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
} // namespace

TEST_CASE("a 10% step is found where it is, with its size and interval") {
  auto found = find_change_points(k_step);
  CHECK(found.checked == ChangePoints::Checked::yes);
  CHECK(found.not_checked.empty());
  REQUIRE(found.changes.size() == 1);
  auto& c = found.changes[0];
  CHECK(c.index == 12);
  // changepoint_reference.py: before 99.8709799255, after 90.2738338273, ratio
  // 0.903904556605 (0.89674860898–0.911117607844), t -26.3614980394 (pooled and Welch agree
  // with 12 values a side), df 21.9995924733.
  CHECK(c.before == doctest::Approx(99.8709799255).epsilon(1e-10));
  CHECK(c.after == doctest::Approx(90.2738338273).epsilon(1e-10));
  CHECK(c.ratio == doctest::Approx(0.903904556605).epsilon(1e-10));
  CHECK(c.ratio_low == doctest::Approx(0.89674860898).epsilon(1e-10));
  CHECK(c.ratio_high == doctest::Approx(0.911117607844).epsilon(1e-10));
  CHECK(c.t == doctest::Approx(-26.3614980394).epsilon(1e-9));
  CHECK(c.ratio_low < 0.9);
  CHECK(c.ratio_high > 0.9);
  // Perfectly separated halves: only the permutations that keep them apart reach |t| = 26.
  CHECK(c.p < 0.01);
  CHECK(c.p >= 1.0 / 1001);
}

TEST_CASE("the same input gives the same output; the seed only moves p") {
  auto a = find_change_points(k_step);
  auto b = find_change_points(k_step);
  REQUIRE(a.changes.size() == 1);
  REQUIRE(b.changes.size() == 1);
  CHECK(a.changes[0].p == b.changes[0].p);
  CHECK(a.changes[0].ratio == b.changes[0].ratio);
  ChangePointOptions other;
  other.seed = 7;
  auto c = find_change_points(k_step, other);
  REQUIRE(c.changes.size() == 1);
  CHECK(c.changes[0].index == 12);
  CHECK(c.changes[0].ratio == a.changes[0].ratio);
}

TEST_CASE("a flat noisy series has no change point") {
  auto found = find_change_points(k_flat);
  CHECK(found.not_checked.empty());
  CHECK(found.changes.empty());
}

TEST_CASE("two steps give two change points, each sized against its neighbours") {
  auto found = find_change_points(k_two_steps);
  REQUIRE(found.changes.size() == 2);
  CHECK(found.changes[0].index == 10);
  CHECK(found.changes[1].index == 20);
  CHECK(found.changes[0].ratio == doctest::Approx(0.9).epsilon(0.02));
  CHECK(found.changes[1].ratio == doctest::Approx(105.0 / 90).epsilon(0.02));
  for (auto& c : found.changes)
    CHECK(c.p < 0.01);
}

TEST_CASE("the shift's interval is Welch's on the log values: R's sleep example") {
  // Log values g1 then g2 + 5: the interval of the log shift is R's, negated, plus 5.
  std::vector<double> series;
  for (double v : k_sleep1)
    series.push_back(std::exp(v));
  for (double v : k_sleep2)
    series.push_back(std::exp(v + 5));
  auto found = find_change_points(series);
  REQUIRE(found.changes.size() == 1);
  auto& c = found.changes[0];
  CHECK(c.index == 10);
  CHECK(std::log(c.ratio) == doctest::Approx(5 + 1.58).epsilon(1e-12));
  CHECK(std::log(c.ratio_low) == doctest::Approx(5 - 0.2054832).epsilon(1e-7));
  CHECK(std::log(c.ratio_high) == doctest::Approx(5 + 3.3654832).epsilon(1e-7));
}

TEST_CASE("a series too short to split is not checked, and says why") {
  auto found = find_change_points({100, 101, 99, 90, 91});
  CHECK(found.changes.empty());
  CHECK(found.checked == ChangePoints::Checked::too_short);
  CHECK(found.not_checked == "5 values: fewer than the 6 needed (3 on each side of a change)");
  CHECK(find_change_points({100}).not_checked == "1 value: fewer than the 6 needed (3 on each side of a change)");
  CHECK(!find_change_points({}).not_checked.empty());
  ChangePointOptions wide;
  wide.min_segment = 5;
  CHECK(find_change_points(k_step, wide).changes.size() == 1);
  CHECK(find_change_points(std::vector<double>(k_step.begin(), k_step.begin() + 9), wide).not_checked ==
        "9 values: fewer than the 10 needed (5 on each side of a change)");
}

TEST_CASE("all-equal values have no change point, and say why") {
  auto found = find_change_points(std::vector<double>(12, 42.5));
  CHECK(found.changes.empty());
  CHECK(found.checked == ChangePoints::Checked::all_equal);
  CHECK(found.not_checked == "all 12 values are equal");
}

TEST_CASE("constant levels that differ: an exact shift") {
  std::vector<double> levels = {10, 10, 10, 10, 10, 10, 20, 20, 20, 20, 20, 20};
  auto found = find_change_points(levels);
  REQUIRE(found.changes.size() == 1);
  auto& c = found.changes[0];
  CHECK(c.index == 6);
  CHECK(std::isinf(c.t));
  CHECK(c.ratio == doctest::Approx(2));
  CHECK(c.ratio_low == c.ratio);
  CHECK(c.ratio_high == c.ratio);
  // Of the C(12, 6) = 924 arrangements, 2 separate the levels: p ≈ (1 + 1000 · 2/924) / 1001.
  CHECK(c.p < 0.01);
  // With 4 + 4 values, 2 of C(8, 4) = 70 arrangements: p ≈ 0.03, not below 0.01.
  CHECK(find_change_points({10, 10, 10, 10, 20, 20, 20, 20}).changes.empty());
}

TEST_CASE("NaN, infinite, zero or negative values are refused, naming the value") {
  auto refuses = [](std::vector<double> v, const char* message) {
    try {
      find_change_points(v);
      FAIL("no error for ", message);
    } catch (const UsageError& e) {
      CHECK(std::string(e.what()).find(message) != std::string::npos);
    }
  };
  auto with = [](double bad) {
    auto v = k_step;
    v[5] = bad;
    return v;
  };
  refuses(with(std::numeric_limits<double>::quiet_NaN()), "value 5 of 24 is nan");
  refuses(with(INFINITY), "value 5 of 24 is inf");
  refuses(with(0), "value 5 of 24 is 0");
  refuses(with(-3), "value 5 of 24 is -3");
}

TEST_CASE("options that cannot work are refused") {
  ChangePointOptions o;
  o.min_segment = 1;
  CHECK_THROWS_AS(find_change_points(k_step, o), UsageError);
  o = {};
  o.permutations = 50; // the smallest p is 1/51 > 0.01
  CHECK_THROWS_AS(find_change_points(k_step, o), UsageError);
  o = {};
  o.alpha = 0;
  CHECK_THROWS_AS(find_change_points(k_step, o), UsageError);
}
