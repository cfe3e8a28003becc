#pragma once
// The run: start every platform, then for each experiment and round measure each
// platform in turn (the others frozen), appending every record as it is produced;
// stop every platform at the end, also on error or Ctrl-C.

#include "platform.hpp"
#include "suite.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace virtbench {

enum class Order { interleaved, grouped };

// One measured (or warm-up) iteration of one experiment on one platform.
struct Step {
  std::size_t experiment = 0;
  std::size_t platform = 0;
  int round = 0;     // 1-based, warm-up rounds first
  int iteration = 0; // 1-based among measured iterations; 0 for warm-ups
  int warmup = 0;    // 1-based warm-up number; 0 for measured iterations
};

// The order of all steps. interleaved: experiment by experiment, round by round, the
// platforms shuffled per round from `seed`; grouped: platform by platform, as the
// assignment did. Pure, so the schedule is testable and reproducible from the seed.
std::vector<Step> plan_steps(const Suite& suite, std::size_t platform_count, Order order, std::uint64_t seed);

struct RunConfig {
  Suite suite;
  std::vector<std::string> platforms;
  std::filesystem::path out_dir;
  bool drop_caches = true;
  Order order = Order::interleaved;
  std::uint64_t seed = 0;
  std::chrono::milliseconds sample_interval{200};
  std::vector<std::string> command_line; // recorded in results.json
  PlatformOptions platform_options;
};

// Refuses impossible plans before any platform starts, with one line per problem
// (UsageError, exit 2): a fileio data set larger than the free space where a platform
// will write it (needed and free bytes, the path); a plan estimated to take more than a
// day, unless `assume_yes`. `free_bytes` answers for a path (statvfs; replaceable in tests).
void preflight(const RunConfig& config, bool assume_yes,
               const std::function<std::uint64_t(const std::filesystem::path&)>& free_bytes = {});

// Runs the suite and writes DIR/results.json, raw outputs and DIR/report.md.
// Returns the exit code: 0 all iterations succeeded, 1 some failed, 130 interrupted.
awaitable<int> run_suite(RunConfig config);

} // namespace virtbench
