// The ETA arithmetic and the preflight's refusals (exit 2 before anything starts).
#include "progress.hpp"
#include "registry.hpp"
#include "runner.hpp"
#include "suite.hpp"
#include "util/error.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

using namespace virtbench;

namespace {

const char* const k_two_experiments = R"(name = "t"
iterations = 2
[[experiment]]
name = "c"
workload = "cpu"
cpu-max-prime = 2000
time = 10
warmup = 0
[[experiment]]
name = "f"
workload = "fileio"
threads = 1
file-total-size = "64M"
file-test-mode = "rndrw"
time = 5
)";

std::string usage_error_of(const RunConfig& config, bool yes, std::uint64_t free) {
  try {
    preflight(config, yes, [free](const std::filesystem::path&) { return free; });
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

} // namespace

TEST_CASE("format_duration spells seconds, minutes, hours and days") {
  CHECK(format_duration(0) == "0s");
  CHECK(format_duration(44.6) == "45s");
  CHECK(format_duration(190) == "3m10s");
  CHECK(format_duration(3600 + 5 * 60 + 59) == "1h05m");
  CHECK(format_duration(3 * 86400 + 4 * 3600 + 120) == "3d04h");
  CHECK(format_duration(-3) == "0s");
}

TEST_CASE("the ETA starts from the plan's nominal times and learns from measured steps") {
  auto suite = parse_suite(k_two_experiments, "t.toml");
  // Two platforms, grouped: platform 0's c1 c2 f1 f2, then platform 1's.
  auto plan = plan_steps(suite, 2, Order::grouped, 1);
  REQUIRE(plan.size() == 8);
  EtaModel eta(suite, plan);
  // Nothing measured: cpu steps 10 s + 2 s, fileio steps 5 s + 10 s.
  CHECK(eta.remaining_s(0) == doctest::Approx(4 * 12.0 + 4 * 15.0));

  // Platform 0's first cpu step took 11 s: its other cpu step is estimated at 11 s, and
  // platform 1 (nothing measured) borrows platform 0's 1 s overhead.
  eta.record(plan[0], 11);
  CHECK(eta.estimate_s(plan[1]) == doctest::Approx(11));
  CHECK(eta.estimate_s(plan[4]) == doctest::Approx(11));
  // fileio steps keep their default until one is measured ...
  CHECK(eta.estimate_s(plan[2]) == doctest::Approx(15));
  eta.record(plan[2], 30);
  CHECK(eta.estimate_s(plan[3]) == doctest::Approx(30));
  // ... and a fileio step teaches nothing about the platform's cpu overhead.
  CHECK(eta.estimate_s(plan[4]) == doctest::Approx(11));
  CHECK(eta.remaining_s(3) == doctest::Approx(30 + 11 + 11 + 15 + 15));

  // Platform 1 measured: its own figure wins over the borrowed one.
  eta.record(plan[4], 20);
  CHECK(eta.estimate_s(plan[5]) == doctest::Approx(20));
  CHECK(eta.estimate_s(plan[1]) == doctest::Approx(11));

  // A failed platform's remaining steps are not waited for.
  CHECK(eta.remaining_s(5, {false, true}) == doctest::Approx(0));
  CHECK(eta.remaining_s(1, {true, false}) == doctest::Approx(20 + 20 + 15 + 15));
  CHECK(eta.remaining_s(8) == 0);
}

TEST_CASE("preflight refuses a fileio data set larger than the free space, naming path, needed and free bytes") {
  RunConfig config;
  config.suite = parse_suite(k_two_experiments, "t.toml");
  config.platforms = {"native"};
  config.platform_options.data_dir = std::filesystem::temp_directory_path() / "vb-preflight-data";
  auto scratch = std::filesystem::temp_directory_path() / "vb-preflight-scratch";
  config.platform_options.values.set("scratch-dir", scratch.string());
  std::uint64_t data = 64ull << 20;

  CHECK(usage_error_of(config, false, data) == "no error");
  auto message = usage_error_of(config, false, data - 1);
  CHECK(message.find("preflight: the fileio data set of experiment f (64.0 MiB)") != std::string::npos);
  CHECK(message.find("native in " + scratch.string()) != std::string::npos);
  CHECK(message.find("needs 67108864 bytes") != std::string::npos);
  CHECK(message.find("67108863 bytes") != std::string::npos);
  CHECK(message.find('\n') == std::string::npos); // one line per problem

  // Every platform holds its copy of the data set through the experiment: with native on
  // the same filesystem, the VM's scratch disk makes it twice.
  REQUIRE_MESSAGE(find_driver("qemu"), "this test needs the qemu driver built in (meson -Dplatforms with qemu)");
  config.platforms = {"native", "qemu"};
  config.platform_options.runtime_dir = std::filesystem::temp_directory_path();
  CHECK(usage_error_of(config, false, 2 * data) == "no error");
  message = usage_error_of(config, false, 2 * data - 1);
  CHECK(message.find("needs 134217728 bytes") != std::string::npos);
  CHECK(message.find("qemu in " + std::filesystem::temp_directory_path().string()) != std::string::npos);
}

TEST_CASE("preflight refuses a plan longer than a day unless --yes") {
  RunConfig config;
  config.suite = parse_suite(k_two_experiments, "t.toml");
  config.platforms = {"native"};
  config.platform_options.data_dir = std::filesystem::temp_directory_path();
  override_suite(config.suite, 500, 100); // 1000 steps of 100+ s
  auto message = usage_error_of(config, false, ~0ull);
  CHECK(message.find("preflight: the plan is estimated to take 1d") != std::string::npos);
  CHECK(message.find("(1000 steps on 1 platform(s)); pass --yes") != std::string::npos);
  CHECK(usage_error_of(config, true, ~0ull) == "no error");
  override_suite(config.suite, 5, 10);
  CHECK(usage_error_of(config, false, ~0ull) == "no error");
}
