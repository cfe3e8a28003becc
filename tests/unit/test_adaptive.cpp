// Adaptive iterations (--target-ci): the stop rule, the extra rounds' schedule, the ETA
// of rounds not planned yet (the methodology's words on them: test_methodology.cpp).
#include "progress.hpp"
#include "runner.hpp"
#include "suite.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

using namespace virtbench;

TEST_CASE("the half-width is the 95% interval's on the log scale, t · cv / √n, in percent") {
  // mean 100, s = sqrt(2), cv = s / 100, t(0.975, 4) = 2.776445: 2.776445 · 0.0141421 / √5 = 1.7560 %
  CHECK(*ci_half_width_pct({100, 102, 98, 100, 100}) == doctest::Approx(1.7560).epsilon(1e-4));
  // two values: t(0.975, 1) = 12.7062, cv / √2 = 1 / 11 (what Student t's half-width / mean is too)
  CHECK(*ci_half_width_pct({10, 12}) == doctest::Approx(100 * 12.7062 / 11).epsilon(1e-4));
  CHECK(*ci_half_width_pct({5, 5, 5}) == 0);
  CHECK_FALSE(ci_half_width_pct({}).has_value());
  CHECK_FALSE(ci_half_width_pct({42}).has_value());
  CHECK_FALSE(ci_half_width_pct({0, 0}).has_value()); // no mean to be relative to
  // Not all positive: Student t's (high − low) / 2 / mean; t(0.975, 2) = 4.302653, sd 2, mean 2
  CHECK(*ci_half_width_pct({0, 2, 4}) == doctest::Approx(100 * 4.302653 * 2 / std::sqrt(3.0) / 2).epsilon(1e-4));
}

TEST_CASE("an experiment stops when every live platform meets the target, or at its maximum") {
  using H = std::vector<std::optional<double>>;
  // Every platform within ±2 %: stop, even before the maximum.
  CHECK(adaptive_stop(H{1.5, 2.0}, 3, 2.0, 9) == AdaptiveStop::target_met);
  // One platform above: another round, until the maximum.
  CHECK_FALSE(adaptive_stop(H{1.5, 2.01}, 3, 2.0, 9).has_value());
  CHECK_FALSE(adaptive_stop(H{1.5, 2.01}, 8, 2.0, 9).has_value());
  CHECK(adaptive_stop(H{1.5, 2.01}, 9, 2.0, 9) == AdaptiveStop::max_iterations);
  // Met at the maximum: the target is the reason.
  CHECK(adaptive_stop(H{1.0}, 9, 2.0, 9) == AdaptiveStop::target_met);
  // A platform with fewer than two values has no interval yet: not met.
  CHECK_FALSE(adaptive_stop(H{1.0, std::nullopt}, 2, 2.0, 4).has_value());
  CHECK(adaptive_stop(H{1.0, std::nullopt}, 4, 2.0, 4) == AdaptiveStop::max_iterations);
  // Only live platforms are passed; none left: stop.
  CHECK(adaptive_stop(H{}, 2, 2.0, 4) == AdaptiveStop::platforms_failed);
  CHECK(adaptive_stop_name(AdaptiveStop::target_met) == "target met");
  CHECK(adaptive_stop_name(AdaptiveStop::max_iterations) == "max iterations");
  CHECK(adaptive_stop_name(AdaptiveStop::platforms_failed) == "platforms failed");
  CHECK(adaptive_stop_name(AdaptiveStop::interrupted) == "interrupted");
}

TEST_CASE("an extra round holds every platform once, shuffled reproducibly from the seed") {
  auto a = plan_extra_round(1, 5, 4, 3, 42);
  auto b = plan_extra_round(1, 5, 4, 3, 42);
  REQUIRE(a.size() == 3);
  std::set<std::size_t> platforms;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].experiment == 1);
    CHECK(a[i].round == 5);
    CHECK(a[i].iteration == 4);
    CHECK(a[i].warmup == 0);
    CHECK(a[i].platform == b[i].platform);
    platforms.insert(a[i].platform);
  }
  CHECK(platforms == std::set<std::size_t>{0, 1, 2});
  // Rounds and seeds give different orders, not always the same one.
  std::set<std::vector<std::size_t>> orders;
  for (int round = 1; round <= 10; ++round) {
    auto r = plan_extra_round(0, round, round, 3, 7);
    orders.insert({r[0].platform, r[1].platform, r[2].platform});
  }
  CHECK(orders.size() > 1);
}

TEST_CASE("the ETA counts the adaptive rounds that may still come, and grows with the plan") {
  auto suite = parse_suite("name = \"t\"\niterations = 2\n[[experiment]]\nname = \"c\"\nworkload = \"cpu\"\n"
                           "time = 10\nwarmup = 0\n",
                           "t.toml");
  auto plan = plan_steps(suite, 2, Order::interleaved, 1);
  EtaModel eta(suite, plan);
  CHECK(eta.remaining_s(0) == doctest::Approx(4 * 12.0));
  // Up to 3 more rounds on 2 platforms at 12 s; a failed platform's are left out.
  CHECK(eta.extra_rounds_s({3}, 2) == doctest::Approx(3 * 2 * 12.0));
  CHECK(eta.extra_rounds_s({3}, 2, {true, false}) == doctest::Approx(3 * 12.0));
  CHECK(eta.extra_rounds_s({0}, 2) == 0);
  // A round added: the plan is longer, and what was measured still counts.
  eta.record(plan[0], 20);
  auto more = plan_extra_round(0, 3, 3, 2, 1);
  plan.insert(plan.end(), more.begin(), more.end());
  eta.set_plan(plan);
  CHECK(eta.remaining_s(4) == doctest::Approx(eta.estimate_s(more[0]) + eta.estimate_s(more[1])));
}

TEST_CASE("preflight estimates an adaptive plan at its longest") {
  auto suite = parse_suite("name = \"t\"\niterations = 2\n[[experiment]]\nname = \"c\"\nworkload = \"cpu\"\n"
                           "time = 3600\nwarmup = 0\n",
                           "t.toml");
  RunConfig config;
  config.suite = suite;
  config.platforms = {"native"};
  // 2 rounds of an hour: fine; up to 30 rounds: more than a day.
  CHECK_NOTHROW(preflight(config, false, [](const std::filesystem::path&) { return std::uint64_t{1} << 40; }));
  config.target_ci_pct = 1;
  config.max_iterations = 30;
  CHECK(config.max_rounds(suite.experiments[0]) == 30);
  CHECK_THROWS_WITH(preflight(config, false, [](const std::filesystem::path&) { return std::uint64_t{1} << 40; }),
                    doctest::Contains("estimated to take up to"));
  config.max_iterations.reset();
  CHECK(config.max_rounds(suite.experiments[0]) == 6); // 3 × iterations
  config.target_ci_pct = 0;
  CHECK(config.max_rounds(suite.experiments[0]) == 2);
}
