#pragma once
// The run: start every platform, then for each experiment and round measure each
// platform in turn (the others frozen), appending every record as it is produced;
// stop every platform at the end, also on error or Ctrl-C.

#include "host.hpp"
#include "matrix.hpp"
#include "platform.hpp"
#include "suite.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  int batch = 0;     // 1-based batch of a run in batches (--max-live); 0 in a run of one batch
};

// The order of all steps. interleaved: experiment by experiment, round by round, the
// platforms shuffled per round from `seed`; grouped: platform by platform, as the
// assignment did. Pure, so the schedule is testable and reproducible from the seed.
std::vector<Step> plan_steps(const Suite& suite, std::size_t platform_count, Order order, std::uint64_t seed);

// The plan of a run in batches (form_batches(): each a list of platform indices): each
// batch's plan_steps() in turn (its shuffles seeded from `seed` and the batch), with global
// platform indices and `batch` set. A platform in several batches (native, each batch's
// baseline) continues its iteration, warm-up and round numbers from batch to batch. One
// batch: plan_steps() itself.
std::vector<Step> plan_batched_steps(const Suite& suite, const std::vector<std::vector<std::size_t>>& batches,
                                     Order order, std::uint64_t seed);

// One more interleaved round of `experiment` for adaptive iterations: every platform once,
// shuffled from a generator seeded by (`seed`, experiment, round), so the schedule stays
// reproducible from the seed and the number of rounds each experiment took.
std::vector<Step> plan_extra_round(std::size_t experiment, int round, int iteration, std::size_t platform_count,
                                   std::uint64_t seed);

// Why an adaptive experiment got no further round (results.json "adaptive"; the methodology).
enum class AdaptiveStop { target_met, max_iterations, platforms_failed, interrupted };
// "target met", "max iterations", "platforms failed", "interrupted"
std::string_view adaptive_stop_name(AdaptiveStop stop);

// The half-width of the 95% interval of the mean of `values` in percent: describe_sample's
// interval on the log scale, mean × exp(± t · cv / √n), has half-width t · cv / √n there
// (Student t's relative half-width); for data that is not all positive, (high − low) / 2 /
// mean. nullopt with fewer than two values or a mean <= 0.
std::optional<double> ci_half_width_pct(const std::vector<double>& values);

// The stop rule of adaptive iterations, after `measured_rounds` rounds: the target is met
// when every live platform's headline half-width (nullopt: not known yet) is at most
// `target_ci_pct`; else max iterations once `measured_rounds` >= `max_iterations`; with no
// live platform left, platforms failed. nullopt: run another round.
std::optional<AdaptiveStop> adaptive_stop(const std::vector<std::optional<double>>& live_half_widths_pct,
                                          int measured_rounds, double target_ci_pct, int max_iterations);

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
  // Each platform's option values (the drivers' options: defaults, the suite's
  // [platform.NAME], the command line), put into its PlatformOptions::values.
  std::map<std::string, OptionValues> platform_values;
  // The options `name` is made with: platform_options and its values.
  PlatformOptions options_for(const std::string& name) const;
  // Adaptive iterations (--target-ci, --max-iterations): after an experiment's planned
  // rounds, another interleaved round while a live platform's headline metric has a 95%
  // interval half-width above target_ci_pct % of its mean. 0: off.
  double target_ci_pct = 0;
  std::optional<int> max_iterations; // measured rounds at most; nullopt: 3 × the experiment's iterations
  // Creates the platforms of the preflight and the run, given the name in `platforms` (a
  // variant's: "qemu[vcpus=1]"); empty: the registry's make_platform of the driver.
  // (The seam for tests: a fake platform needs no root, engine or VM.)
  std::function<std::unique_ptr<Platform>(const std::string& name, const PlatformOptions& options)> make_platform;

  // A matrix run's variants by their name in `platforms`; a platform without a matrix has none.
  std::map<std::string, Variant> variants;
  // At most this many VMs and containers up at once (--max-live, else from host RAM); 0:
  // every platform at once. `max_live_reason` says where it came from (the methodology).
  std::size_t max_live = 0;
  std::string max_live_reason;
  // The host's memory for the preflight's matrix check; 0: this host's (/proc/meminfo).
  std::uint64_t host_memory_bytes = 0;
  // The host the run measures (--host: a remote one, host.hpp); nullptr: this one
  // (local_host()). Its describe() is results.json's "host", its /proc/stat the host sampler's.
  Host* host = nullptr;
  Host& measured_host() const;

  bool adaptive() const { return target_ci_pct > 0; }
  // The driver platform `name` is made by: a variant's, else the name itself.
  std::string driver_of(const std::string& name) const;
  // Whether `name` is a VM or a container (Driver::isolated): counted against max_live.
  bool counts_as_live(const std::string& name) const;
  // The batches of platform indices the run measures in turn (form_batches on max_live).
  std::vector<std::vector<std::size_t>> batches() const;
  // The most measured rounds `e` may take (its iterations when not adaptive).
  int max_rounds(const Experiment& e) const;
  // The platform `name` from make_platform, or the registry when that is empty.
  std::unique_ptr<Platform> create_platform(const std::string& name, const PlatformOptions& options) const;
};

// Refuses impossible plans before any platform starts, with one line per problem
// (UsageError, exit 2): a matrix variant with more memory than the host has (less 2 GiB);
// a fileio data set larger than the free space where a platform
// will write it (needed and free bytes, the path); a plan estimated to take more than a
// day (adaptive: every experiment at its maximum rounds), unless `assume_yes`. `free_bytes` answers for a path
// (the measured host's Host::free_bytes; replaceable in tests).
void preflight(const RunConfig& config, bool assume_yes,
               const std::function<std::uint64_t(const std::filesystem::path&)>& free_bytes = {});

// Runs the suite and writes DIR/results.json, raw outputs and DIR/report.md.
// Returns the exit code: 0 all iterations succeeded, 1 some failed, 130 interrupted.
awaitable<int> run_suite(RunConfig config);

} // namespace virtbench
