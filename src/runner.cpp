#include "runner.hpp"

#include "registry.hpp"

#include "catalog.hpp"
#include "host.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "results.hpp"
#include "runner_step.hpp"
#include "sampler.hpp"
#include "stats.hpp"
#include "util/error.hpp"
#include "util/failure.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "version.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/experimental/parallel_group.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <sys/stat.h>
#include <cerrno>
#include <cstring>

namespace virtbench {

namespace fs = std::filesystem;

std::vector<Step> plan_steps(const Suite& suite, std::size_t platform_count, Order order, std::uint64_t seed) {
  std::vector<Step> steps;
  std::mt19937_64 rng(seed);
  auto rounds_of = [&](std::size_t e, auto&& emit) {
    const auto& exp = suite.experiments[e];
    for (int r = 1; r <= exp.warmup + exp.iterations; ++r)
      emit(r, r <= exp.warmup ? 0 : r - exp.warmup, r <= exp.warmup ? r : 0);
  };
  if (order == Order::grouped) {
    for (std::size_t p = 0; p < platform_count; ++p)
      for (std::size_t e = 0; e < suite.experiments.size(); ++e)
        rounds_of(e, [&](int round, int iteration, int warmup) { steps.push_back({e, p, round, iteration, warmup}); });
    return steps;
  }
  std::vector<std::size_t> platforms(platform_count);
  for (std::size_t e = 0; e < suite.experiments.size(); ++e) {
    rounds_of(e, [&](int round, int iteration, int warmup) {
      for (std::size_t p = 0; p < platform_count; ++p)
        platforms[p] = p;
      std::shuffle(platforms.begin(), platforms.end(), rng);
      for (auto p : platforms)
        steps.push_back({e, p, round, iteration, warmup});
    });
  }
  return steps;
}

std::vector<Step> plan_batched_steps(const Suite& suite, const std::vector<std::vector<std::size_t>>& batches,
                                     Order order, std::uint64_t seed) {
  if (batches.size() == 1) {
    auto steps = plan_steps(suite, batches.front().size(), order, seed);
    for (auto& s : steps)
      s.platform = batches.front()[s.platform];
    return steps;
  }
  std::vector<Step> steps;
  std::map<std::size_t, int> earlier; // platform -> batches it was in so far
  for (std::size_t b = 0; b < batches.size(); ++b) {
    auto& batch = batches[b];
    for (auto s : plan_steps(suite, batch.size(), order, seed + b)) {
      s.platform = batch[s.platform];
      auto& exp = suite.experiments[s.experiment];
      int k = earlier[s.platform];
      if (s.iteration)
        s.iteration += k * exp.iterations;
      if (s.warmup)
        s.warmup += k * exp.warmup;
      s.round += static_cast<int>(b) * (exp.warmup + exp.iterations);
      s.batch = static_cast<int>(b) + 1;
      steps.push_back(s);
    }
    for (auto p : batch)
      ++earlier[p];
  }
  return steps;
}

std::vector<Step> plan_extra_round(std::size_t experiment, int round, int iteration, std::size_t platform_count,
                                   std::uint64_t seed) {
  // Its own generator: the planned rounds' shuffles (plan_steps) stay what they were.
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(experiment), static_cast<std::uint32_t>(round)};
  std::mt19937_64 rng(seq);
  std::vector<std::size_t> platforms(platform_count);
  for (std::size_t p = 0; p < platform_count; ++p)
    platforms[p] = p;
  std::shuffle(platforms.begin(), platforms.end(), rng);
  std::vector<Step> steps;
  for (auto p : platforms)
    steps.push_back({experiment, p, round, iteration, 0});
  return steps;
}

std::string_view adaptive_stop_name(AdaptiveStop stop) {
  switch (stop) {
  case AdaptiveStop::target_met:
    return "target met";
  case AdaptiveStop::max_iterations:
    return "max iterations";
  case AdaptiveStop::platforms_failed:
    return "platforms failed";
  case AdaptiveStop::interrupted:
    break;
  }
  return "interrupted";
}

std::optional<double> ci_half_width_pct(const std::vector<double>& values) {
  auto s = describe_sample(values);
  if (!s.has_ci() || !(s.mean > 0))
    return std::nullopt;
  // On the log scale the interval is mean × exp(± t · cv / √n): its half-width there.
  if (s.ci_log_scale)
    return 100 * std::log(s.ci_high / s.mean);
  return 100 * (s.ci_high - s.ci_low) / 2 / s.mean;
}

std::optional<AdaptiveStop> adaptive_stop(const std::vector<std::optional<double>>& live_half_widths_pct,
                                          int measured_rounds, double target_ci_pct, int max_iterations) {
  if (live_half_widths_pct.empty())
    return AdaptiveStop::platforms_failed;
  if (std::all_of(live_half_widths_pct.begin(), live_half_widths_pct.end(),
                  [&](auto& h) { return h && *h <= target_ci_pct; }))
    return AdaptiveStop::target_met;
  if (measured_rounds >= max_iterations)
    return AdaptiveStop::max_iterations;
  return std::nullopt;
}

int RunConfig::max_rounds(const Experiment& e) const {
  if (!adaptive())
    return e.iterations;
  return max_iterations ? *max_iterations : 3 * e.iterations;
}

std::string RunConfig::driver_of(const std::string& name) const {
  auto it = variants.find(name);
  return it == variants.end() ? name : it->second.driver;
}

bool RunConfig::counts_as_live(const std::string& name) const {
  auto* d = find_driver(driver_of(name));
  return !d || d->isolated;
}

std::vector<std::vector<std::size_t>> RunConfig::batches() const {
  std::vector<bool> capped;
  for (auto& p : platforms)
    capped.push_back(counts_as_live(p));
  return form_batches(capped, max_live);
}

namespace {

// A matrix variant: the driver's platform under the variant's name, its results entry
// saying which driver and parameters it is.
class VariantPlatform : public Platform {
public:
  VariantPlatform(Variant variant, std::unique_ptr<Platform> inner)
      : m_variant(std::move(variant)), m_inner(std::move(inner)) {}

  std::string name() const override { return m_variant.name; }
  awaitable<void> start() override { return m_inner->start(); }
  awaitable<void> stop() override { return m_inner->stop(); }
  awaitable<void> freeze() override { return m_inner->freeze(); }
  awaitable<void> thaw() override { return m_inner->thaw(); }
  awaitable<ExecResult> exec(ExecRequest request) override { return m_inner->exec(std::move(request)); }
  awaitable<std::string> read_file(std::string path) override { return m_inner->read_file(std::move(path)); }
  awaitable<std::vector<CacheDrop>> drop_caches() override { return m_inner->drop_caches(); }
  awaitable<std::optional<CpuSeconds>> host_accounting() override { return m_inner->host_accounting(); }
  bool has_guest_view() const override { return m_inner->has_guest_view(); }
  std::string scratch_dir() const override { return m_inner->scratch_dir(); }
  std::optional<HostStorage> fileio_host_storage() const override { return m_inner->fileio_host_storage(); }
  boost::json::object describe() const override {
    auto d = m_inner->describe();
    for (auto& [k, v] : variant_identity(m_variant))
      d[k] = v;
    return d;
  }

private:
  Variant m_variant;
  std::unique_ptr<Platform> m_inner;
};

} // namespace

std::unique_ptr<Platform> RunConfig::create_platform(const std::string& name, const PlatformOptions& options) const {
  auto platform = make_platform ? make_platform(name, options) : virtbench::make_platform(driver_of(name), options);
  if (auto it = variants.find(name); it != variants.end())
    return std::make_unique<VariantPlatform>(it->second, std::move(platform));
  return platform;
}

namespace {

// The directory itself, or the nearest parent that exists (scratch directories are made later).
fs::path existing_parent(fs::path p) {
  p = fs::absolute(p);
  std::error_code ec;
  while (!fs::exists(p, ec) && p.has_parent_path() && p != p.parent_path())
    p = p.parent_path();
  return p;
}

std::string bytes_text(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

} // namespace

Host& RunConfig::measured_host() const { return host ? *host : local_host(); }

PlatformOptions RunConfig::options_for(const std::string& name) const {
  auto options = platform_options;
  if (auto it = platform_values.find(name); it != platform_values.end())
    options.values = it->second;
  if (variants.contains(name)) {
    // Its own VM or container: its own directory for sockets and state, its own engine names.
    auto slug = variant_slug(name);
    if (!options.runtime_dir.empty())
      options.runtime_dir /= slug;
    options.run_id += (options.run_id.empty() ? "" : "-") + slug;
  }
  return options;
}

void preflight(const RunConfig& config, bool assume_yes,
               const std::function<std::uint64_t(const std::filesystem::path&)>& free_bytes) {
  std::vector<std::string> problems;
  auto& measured = config.measured_host();
  bool remote = !measured.location().empty();
  auto free_of = free_bytes ? free_bytes : [&measured](const fs::path& p) { return measured.free_bytes(p); };

  // Matrix variants that cannot exist here: more memory than the host can give (2 GiB
  // spare), a container with more CPUs than the host's.
  if (!config.variants.empty()) {
    std::uint64_t host_memory = config.host_memory_bytes;
    if (!host_memory) {
      auto host = describe_host();
      if (auto* m = host.if_contains("memory_bytes"); m && m->is_number())
        host_memory = m->to_number<std::uint64_t>();
    }
    for (auto& name : config.platforms) {
      if (!config.variants.contains(name) || !config.counts_as_live(name))
        continue;
      auto& values = config.platform_values.at(name);
      if (values.has("memory") && host_memory) {
        auto bytes = static_cast<std::uint64_t>(values.integer("memory")) << 20;
        if (bytes + k_spare_memory_bytes > host_memory)
          problems.push_back(fmt::format("preflight: {}: memory {} does not fit this host's {} with 2 GiB to spare; "
                                         "lower its memory axis to at most {} MiB",
                                         name, bytes_text(bytes), bytes_text(host_memory),
                                         host_memory > k_spare_memory_bytes ? (host_memory - k_spare_memory_bytes) >> 20 : 0));
      }
    }
  }

  // Free space: every platform holds the data set from its first iteration of an
  // experiment to its last, interleaved with the others, so per filesystem the largest
  // data set is needed once for every platform that writes there.
  const Experiment* largest = nullptr;
  for (auto& e : config.suite.experiments)
    if (e.workload == Workload::fileio && (!largest || e.fileio_bytes() > largest->fileio_bytes()))
      largest = &e;
  if (largest) {
    struct Need {
      fs::path where;
      std::uint64_t bytes = 0;
      std::vector<std::string> platforms;
    };
    std::map<std::string, Need> needs; // by the directory checked
    for (auto& name : config.platforms) {
      auto platform = config.create_platform(name, config.options_for(name));
      auto storage = platform->fileio_host_storage();
      if (!storage)
        continue;
      auto where = remote ? storage->path : existing_parent(storage->path); // (the remote's: asked there)
      auto& need = needs[where.string()];
      need.where = where;
      need.platforms.push_back(fmt::format("{} in {}", name, storage->path.string()));
      need.bytes += largest->fileio_bytes();
    }
    // Directories on one filesystem share its free space.
    std::map<std::uint64_t, std::vector<Need*>> by_device;
    for (auto& [key, need] : needs) {
      struct stat st{};
      auto device = remote                                    ? by_device.size() + (1ull << 62)
                    : ::stat(need.where.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_dev)
                                                           : by_device.size() + (1ull << 62);
      by_device[device].push_back(&need);
    }
    for (auto& [device, group] : by_device) {
      std::uint64_t needed = 0;
      std::vector<std::string> who;
      for (auto* n : group) {
        needed += n->bytes;
        who.insert(who.end(), n->platforms.begin(), n->platforms.end());
      }
      auto free = free_of(group.front()->where);
      if (needed > free) {
        std::string list;
        for (auto& w : who)
          list += (list.empty() ? "" : ", ") + w;
        problems.push_back(fmt::format(
            "preflight: the fileio data set of experiment {} ({}) does not fit on the filesystem of {}: needs {} bytes "
            "({}), {} bytes ({}) free; lower file-total-size, free space there, or move it (--scratch-dir, "
            "XDG_RUNTIME_DIR)",
            largest->name, bytes_text(largest->fileio_bytes()), list, needed, bytes_text(needed), free,
            bytes_text(free)));
      }
    }
  }

  // Time: every step at its workload's time plus the default overheads; adaptive runs at
  // their longest (every experiment at its maximum rounds).
  auto longest = config.suite;
  for (auto& e : longest.experiments)
    e.iterations = config.max_rounds(e);
  auto steps = plan_batched_steps(longest, config.batches(), config.order, config.seed);
  EtaModel eta(longest, steps);
  auto estimate = eta.remaining_s(0);
  if (estimate > 86400 && !assume_yes)
    problems.push_back(fmt::format("preflight: the plan is estimated to take {}{} ({} steps on {} platform(s)); pass "
                                   "--yes to run it anyway, or lower --iterations{} or --time",
                                   config.adaptive() ? "up to " : "", format_duration(estimate), steps.size(),
                                   config.platforms.size(), config.adaptive() ? ", --max-iterations" : ""));
  if (!problems.empty()) {
    std::string text;
    for (auto& p : problems)
      text += (text.empty() ? "" : "\n") + p;
    throw UsageError(text);
  }
}

namespace {

// A platform that failed stays failed: its remaining steps are skipped.
struct PlatformSlot {
  std::unique_ptr<Platform> platform;
  bool started = false;
  bool stopped = false; // its batch is over: stopped, its results entry final
  std::string failure;
  // The fileio data set on this platform now: the experiment it belongs to. The next
  // experiment takes it over when their Experiment::data_set_key() is the same.
  std::optional<std::size_t> data_set;
};

std::string headline(const Experiment& e, const boost::json::object& metrics) {
  if (e.workload == Workload::cpu) {
    if (auto* v = metrics.if_contains("events_per_sec"))
      return fmt::format("{:.1f} events/s", v->to_number<double>());
  } else if (auto* r = metrics.if_contains("read_mib_s")) {
    return fmt::format("read {:.2f} MiB/s, written {:.2f} MiB/s", r->to_number<double>(),
                       metrics.at("written_mib_s").to_number<double>());
  }
  return "no metrics";
}

// True once Ctrl-C (or SIGTERM) cancelled the measuring coroutine: whatever failed
// after that failed because of it, and must not be recorded as a failed iteration.
awaitable<bool> cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

class Run {
public:
  explicit Run(RunConfig config) : m_config(std::move(config)), m_results(m_config.out_dir) {}

  awaitable<int> execute() {
    prepare_results();
    for (auto& name : m_config.platforms) {
      auto options = m_config.options_for(name);
      options.raw_dir = m_config.out_dir / "raw" / raw_name(name);
      if (m_config.variants.contains(name) && !options.runtime_dir.empty()) {
        fs::create_directories(options.runtime_dir);
        fs::permissions(options.runtime_dir, fs::perms::owner_all, fs::perm_options::replace);
      }
      m_slots.push_back({m_config.create_platform(name, options), false, false, {}, {}});
    }

    asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
    bool interrupted = false;
    std::exception_ptr failure;
    try {
      auto which = co_await (guarded_measure() || wait_for_signal(signals));
      if (which.index() == 0)
        failure = std::get<0>(which);
      else
        interrupted = true;
    } catch (...) {
      failure = std::current_exception();
    }
    if (interrupted)
      log("interrupted: stopping every platform; finished iterations are kept in " +
          (m_config.out_dir / "results.json").string());
    // Facts gathered during the run (QMP events, the last boot time) before the teardown.
    for (auto& slot : m_slots)
      if (slot.started && !slot.stopped && slot.failure.empty())
        refresh_platform(slot);
    co_await stop_platforms();
    signals.cancel();

    auto& doc = m_results.doc();
    if (interrupted || failure)
      close_adaptive(interrupted || is_cancellation(failure));
    doc["finished_at"] = utc_now_iso8601();
    doc["interrupted"] = interrupted;
    m_results.flush();
    write_file_atomic(m_config.out_dir / "report.md", render_markdown(doc));
    write_extra_reports(m_config.out_dir, doc, m_config.platform_options.log); // report.html, report.csv; warns, never throws

    if (failure) {
      if (is_cancellation(failure))
        co_return 130;
      log("error: " + what_of(failure));
      co_return 1;
    }
    if (interrupted)
      co_return 130;
    std::size_t failed_runs = 0;
    for (auto& r : doc["runs"].as_array())
      if (r.as_object().contains("error"))
        ++failed_runs;
    std::size_t failed_platforms = std::count_if(m_slots.begin(), m_slots.end(), [](auto& s) { return !s.failure.empty(); });
    if (failed_runs || failed_platforms) {
      log(fmt::format("finished with failures: {} failed iteration(s), {} failed platform(s); see {}", failed_runs,
                      failed_platforms, (m_config.out_dir / "results.json").string()));
      co_return 1;
    }
    co_return 0;
  }

private:
  // VIRTBENCH_TRACE=1: how long the harness's own phases take (for tools/bench-harness-time).
  void trace(const std::string& what, std::chrono::steady_clock::time_point since) {
    static const bool enabled = std::getenv("VIRTBENCH_TRACE") != nullptr;
    if (enabled)
      log(fmt::format("trace: {} {:.4f} s", what,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count()));
  }

  // The platform's folder under raw/: its name, a variant's slug ("qemu-vcpus1").
  std::string raw_name(const std::string& name) const {
    return m_config.variants.contains(name) ? variant_slug(name) : name;
  }

  void log(const std::string& line) {
    if (m_config.platform_options.log)
      m_config.platform_options.log(line);
  }

  void prepare_results() {
    auto& doc = m_results.doc();
    doc["virtbench_version"] = version();
    doc["started_at"] = utc_now_iso8601();
    boost::json::array cmd;
    for (auto& a : m_config.command_line)
      cmd.push_back(boost::json::string(a));
    doc["command"] = std::move(cmd);
    doc["host"] = m_config.measured_host().describe();
    boost::json::object suite{{"name", m_config.suite.name},
                              {"source", m_config.suite.source},
                              {"description", m_config.suite.description}};
    boost::json::array experiments;
    for (auto& e : m_config.suite.experiments) {
      boost::json::array args;
      for (auto& a : e.sysbench_args())
        args.push_back(boost::json::string(a));
      experiments.push_back({{"name", e.name},
                             {"workload", workload_name(e.workload)},
                             {"args", std::move(args)},
                             {"iterations", e.iterations},
                             {"warmup", e.warmup}});
    }
    suite["experiments"] = std::move(experiments);
    doc["suite"] = std::move(suite);
    doc["order"] = m_config.order == Order::interleaved ? "interleaved" : "grouped";
    doc["seed"] = m_config.seed;
    doc["drop_caches"] = m_config.drop_caches;
    m_batches = m_config.batches();
    if (m_batches.size() > 1 || m_config.max_live) {
      boost::json::array batches;
      for (std::size_t b = 0; b < m_batches.size(); ++b) {
        boost::json::array names;
        for (auto i : m_batches[b])
          names.push_back(boost::json::string(m_config.platforms[i]));
        batches.push_back({{"batch", b + 1}, {"platforms", std::move(names)}});
      }
      doc["batches"] = std::move(batches);
      doc["max_live"] = {{"value", m_config.max_live}, {"reason", m_config.max_live_reason}};
    }
    doc["sample_interval_ms"] = m_config.sample_interval.count();
    if (m_config.adaptive()) {
      boost::json::object adaptive{{"target_ci_pct", m_config.target_ci_pct},
                                   {"interval", "95% interval of the mean of each platform's headline metric on the "
                                                "log scale, mean × exp(± t · cv / √n); half-width 100 · t · cv / √n %"},
                                   {"experiments", boost::json::object{}}};
      if (m_config.max_iterations)
        adaptive["max_iterations"] = *m_config.max_iterations;
      else
        adaptive["max_iterations_rule"] = "3 × each experiment's iterations";
      doc["adaptive"] = std::move(adaptive);
    }
    m_results.flush();
  }

  awaitable<void> wait_for_signal(asio::signal_set& signals) {
    int signo = co_await signals.async_wait(use_awaitable);
    log(fmt::format("received {}", signo == SIGINT ? "SIGINT (Ctrl-C)" : "SIGTERM"));
  }

  // measure() with its failure as a value: Asio's `||` waits for one branch to *succeed*,
  // so a throwing measure() would otherwise wait for a signal that never comes.
  awaitable<std::exception_ptr> guarded_measure() {
    try {
      co_await measure();
    } catch (...) {
      co_return std::current_exception();
    }
    co_return nullptr;
  }

  // Stops every platform at once (a VM's shutdown need not wait for the engine's); stop()
  // never throws.
  awaitable<void> stop_platforms() {
    auto executor = co_await asio::this_coro::executor;
    using StopOp = decltype(asio::co_spawn(executor, m_slots.front().platform->stop(), asio::deferred));
    std::vector<StopOp> ops;
    for (auto& slot : m_slots)
      if (!slot.stopped) // (a batch's VMs and containers were stopped when it ended)
        ops.push_back(asio::co_spawn(executor, slot.platform->stop(), asio::deferred));
    if (!ops.empty())
      co_await asio::experimental::make_parallel_group(std::move(ops))
          .async_wait(asio::experimental::wait_for_all(), use_awaitable);
  }

  // Brings one platform up and freezes it until its turn; its failure is handed back.
  awaitable<std::exception_ptr> start_one(PlatformSlot& slot) {
    try {
      log("starting " + slot.platform->name() + " ...");
      co_await slot.platform->start();
      slot.started = true;
      co_await slot.platform->freeze();
    } catch (...) {
      co_return std::current_exception();
    }
    co_return nullptr;
  }

  // Starts the platforms in `group` one after another, each failure kept in `failures`.
  awaitable<void> start_in_turn(std::vector<std::size_t> group, std::vector<std::exception_ptr>& failures) {
    for (auto i : group) {
      failures[i] = co_await start_one(m_slots[i]);
      if (co_await cancelled())
        co_return;
    }
  }

  // Starts the platforms of batch `batch` not started yet concurrently (a VM boots while the
  // engine imports its image), so startup costs the slowest platform, not the sum (a
  // matrix's variants of one driver in turn); then measures each one's exec channel
  // alone, the others frozen. The VMs boot one after another, though: under TCG two boots
  // at once take about as long as two in turn, but each one's boot_to_ready_s would then
  // measure the other's load (and libvirt's machine cgroup competes with the qemu
  // platform's threads as one entity). A platform that fails to start fails alone.
  awaitable<void> start_platforms(std::size_t batch) {
    auto executor = co_await asio::this_coro::executor;
    auto started = std::chrono::steady_clock::now();
    std::vector<std::vector<std::size_t>> groups;
    std::vector<std::size_t> vms, which;
    for (auto i : m_batches[batch])
      if (!m_slots[i].started && m_slots[i].failure.empty())
        which.push_back(i);
    std::map<std::string, std::size_t> group_of_driver; // a matrix's variants of one driver share its engine
    for (auto i : which) {
      if (m_slots[i].platform->has_guest_view()) {
        vms.push_back(i);
        continue;
      }
      auto driver = m_config.driver_of(m_config.platforms[i]);
      if (auto it = group_of_driver.find(driver); it != group_of_driver.end()) {
        groups[it->second].push_back(i); // one after another: one image import, one private engine lock
        continue;
      }
      group_of_driver[driver] = groups.size();
      groups.push_back({i});
    }
    if (!vms.empty())
      groups.push_back(vms);
    std::vector<std::exception_ptr> failures(m_slots.size());
    using StartOp = decltype(asio::co_spawn(executor, start_in_turn({}, failures), asio::deferred));
    std::vector<StartOp> ops;
    for (auto& group : groups)
      ops.push_back(asio::co_spawn(executor, start_in_turn(group, failures), asio::deferred));
    auto [order, spawn_failures] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                       .async_wait(asio::experimental::wait_for_all(), use_awaitable);
    (void)order;
    for (auto& e : spawn_failures)
      if (e)
        std::rethrow_exception(e); // start_in_turn itself does not throw; a cancellation might
    for (auto i : which) {
      auto failure = failures[i];
      if (!failure)
        continue;
      if (is_cancellation(failure) || co_await cancelled())
        std::rethrow_exception(failure);
      fail_platform(m_slots[i], "start " + m_slots[i].platform->name() + ": " + what_of(failure));
    }
    if (co_await cancelled())
      throw_cancellation();
    auto startup_s =
        std::round(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() * 1000) / 1000;
    if (batch == 0)
      m_results.doc()["startup_s"] = startup_s;
    if (auto* batches = m_results.doc().if_contains("batches"))
      batches->as_array().at(batch).as_object()["startup_s"] = startup_s;

    for (auto i : which) {
      auto& slot = m_slots[i];
      if (!slot.started || !slot.failure.empty())
        continue;
      std::exception_ptr failure;
      try {
        co_await slot.platform->thaw();
        auto channel = co_await measure_channel(*slot.platform);
        co_await slot.platform->freeze();
        auto description = slot.platform->describe();
        description["channel_overhead"] = std::move(channel);
        if (m_batches.size() > 1 && m_config.counts_as_live(slot.platform->name()))
          description["batch"] = batch + 1;
        m_results.set_platform(std::move(description));
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        if (is_cancellation(failure) || co_await cancelled())
          std::rethrow_exception(failure);
        fail_platform(slot, "start " + slot.platform->name() + ": " + what_of(failure));
      }
      m_results.flush();
    }
  }

  // Hands the CPU from `from` (frozen) to `to` (thawed), both at once. A failure fails the
  // platform it belongs to; returns false when `to` cannot run.
  awaitable<bool> switch_to(PlatformSlot* from, PlatformSlot& to) {
    std::exception_ptr freeze_failure, thaw_failure;
    if (from && from->failure.empty()) {
      auto [f, t] = co_await (captured(from->platform->freeze()) && captured(to.platform->thaw()));
      freeze_failure = f;
      thaw_failure = t;
    } else {
      thaw_failure = co_await captured(to.platform->thaw());
    }
    // (No helper coroutine for the two cases below: GCC 12 miscompiled one taking the
    // slot and the exception_ptr, SIGILL on entry.)
    if (freeze_failure || thaw_failure) {
      bool interrupted = co_await cancelled();
      for (auto* failure : {&freeze_failure, &thaw_failure})
        if (*failure && (interrupted || is_cancellation(*failure)))
          std::rethrow_exception(*failure);
      if (freeze_failure)
        fail_platform(*from, from->platform->name() + ": " + what_of(freeze_failure));
      if (thaw_failure)
        fail_platform(to, to.platform->name() + ": " + what_of(thaw_failure));
    }
    co_return !thaw_failure;
  }

  awaitable<void> measure() {
    if (m_batches.size() > 1)
      log_batch(0);
    co_await start_platforms(0);

    warn_about_page_cache();
    auto steps = plan_batched_steps(m_config.suite, m_batches, m_config.order, m_config.seed);
    m_eta.emplace(m_config.suite, steps);
    m_measure_started = std::chrono::steady_clock::now();
    for (auto& e : m_config.suite.experiments)
      m_rounds_left.push_back(m_config.max_rounds(e) - e.iterations);
    // Where a platform's last step of an experiment is: its fileio data set goes after it.
    // An adaptive experiment's last round is known only once it has run (unless it is its
    // maximum): then the data sets go when it stops, below.
    std::vector<bool> cleanup_after(steps.size(), false);
    // (In a run in batches, at its last step of each batch: native prepares it anew in the next.)
    std::set<std::tuple<int, std::size_t, std::size_t>> seen;
    for (std::size_t i = steps.size(); i-- > 0;)
      cleanup_after[i] = seen.insert({steps[i].batch, steps[i].platform, steps[i].experiment}).second &&
                         steps[i].iteration >= m_config.max_rounds(m_config.suite.experiments[steps[i].experiment]);
    PlatformSlot* current = nullptr;
    int batch = steps.empty() ? 0 : steps.front().batch;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto step = steps[i]; // a copy: adaptive rounds grow `steps`
      m_current_experiment = step.experiment;
      if (step.batch != batch) {
        // The next batch: the last one's VMs and containers go (their entries final), the
        // next one's start; native, in every batch, stays up. Inline (GCC 12, above).
        if (current && current->failure.empty()) {
          auto f = co_await captured(current->platform->freeze());
          if (f) {
            if (is_cancellation(f) || co_await cancelled())
              std::rethrow_exception(f);
            fail_platform(*current, current->platform->name() + ": " + what_of(f));
          }
        }
        current = nullptr;
        auto& next = m_batches[static_cast<std::size_t>(step.batch - 1)];
        auto executor = co_await asio::this_coro::executor;
        using StopOp = decltype(asio::co_spawn(executor, m_slots.front().platform->stop(), asio::deferred));
        std::vector<StopOp> stops; // all at once, as at the end of the run
        std::vector<PlatformSlot*> leaving;
        for (auto p : m_batches[static_cast<std::size_t>(batch - 1)]) {
          auto& slot = m_slots[p];
          if (std::find(next.begin(), next.end(), p) != next.end() || !slot.started || slot.stopped)
            continue;
          if (slot.failure.empty())
            refresh_platform(slot);
          stops.push_back(asio::co_spawn(executor, slot.platform->stop(), asio::deferred));
          leaving.push_back(&slot);
        }
        if (!stops.empty())
          co_await asio::experimental::make_parallel_group(std::move(stops))
              .async_wait(asio::experimental::wait_for_all(), use_awaitable);
        if (co_await cancelled())
          throw_cancellation(); // (the run's end stops them again: stop() is idempotent)
        for (auto* slot : leaving)
          slot->stopped = true;
        m_results.flush();
        batch = step.batch;
        log_batch(static_cast<std::size_t>(batch - 1));
        co_await start_platforms(static_cast<std::size_t>(batch - 1));
      }
      auto& slot = m_slots[step.platform];
      if (slot.failure.empty()) {
        std::exception_ptr failure;
        try {
          bool ready = current == &slot;
          if (!ready) {
            auto* from = current;
            current = nullptr;
            auto t0 = std::chrono::steady_clock::now();
            ready = co_await switch_to(from, slot);
            trace("switch", t0);
            if (ready)
              current = &slot;
          }
          if (ready)
            co_await run_step(step, slot, i + 1, steps.size(), cleanup_after[i]);
        } catch (...) {
          failure = std::current_exception();
        }
        if (failure) {
          if (is_cancellation(failure) || co_await cancelled())
            std::rethrow_exception(failure);
          fail_platform(slot, slot.platform->name() + ": " + what_of(failure));
          if (current == &slot)
            current = nullptr;
        }
      }

      bool end_of_experiment = i + 1 == steps.size() || steps[i + 1].experiment != step.experiment;
      if (!m_config.adaptive() || !end_of_experiment)
        continue;
      const auto& exp = m_config.suite.experiments[step.experiment];
      auto more = adaptive_round_after(step);
      if (!more.empty()) {
        bool last_possible = more.front().iteration >= m_config.max_rounds(exp);
        steps.insert(steps.begin() + static_cast<std::ptrdiff_t>(i + 1), more.begin(), more.end());
        cleanup_after.insert(cleanup_after.begin() + static_cast<std::ptrdiff_t>(i + 1), more.size(), last_possible);
        m_eta->set_plan(steps);
        continue;
      }
      if (exp.workload != Workload::fileio || next_shares_data_set(step.experiment))
        continue;
      // It stopped before its maximum: the data sets its platforms still hold go now, the
      // thawed platform's first (no switch for it). Inline, not a helper (GCC 12, above).
      std::vector<std::size_t> holders;
      for (std::size_t p = 0; p < m_slots.size(); ++p)
        if (m_slots[p].failure.empty() && m_slots[p].data_set == step.experiment)
          holders.insert(&m_slots[p] == current ? holders.begin() : holders.end(), p);
      for (auto p : holders) {
        auto& holder = m_slots[p];
        std::exception_ptr failure;
        try {
          bool ready = current == &holder;
          if (!ready) {
            auto* from = current;
            current = nullptr;
            ready = co_await switch_to(from, holder);
            if (ready)
              current = &holder;
          }
          if (ready)
            co_await cleanup_data_set(holder);
        } catch (...) {
          failure = std::current_exception();
        }
        if (!failure)
          continue;
        if (is_cancellation(failure) || co_await cancelled())
          std::rethrow_exception(failure);
        bool lost = false;
        try {
          std::rethrow_exception(first_of(failure));
        } catch (const PlatformLost&) {
          lost = true;
        } catch (...) {
        }
        if (lost) {
          fail_platform(holder, holder.platform->name() + ": " + what_of(failure));
          if (current == &holder)
            current = nullptr;
        } else {
          log(fmt::format("warning: {}: removing the data set of {} failed: {}", holder.platform->name(), exp.name,
                          what_of(failure)));
        }
      }
    }
    if (current && current->failure.empty())
      co_await current->platform->freeze();
  }

  // At the end of an adaptive experiment's plan (`last` is its last step): records how it
  // stands in results.json's "adaptive" and returns its next round, or nothing once the
  // stop rule (adaptive_stop) says it is done.
  std::vector<Step> adaptive_round_after(const Step& last) {
    const auto& exp = m_config.suite.experiments[last.experiment];
    auto metric = headline_metric(workload_name(exp.workload));
    int max = m_config.max_rounds(exp);
    boost::json::object widths;
    std::vector<std::optional<double>> live;
    std::string summary;
    for (auto& slot : m_slots) {
      if (!slot.failure.empty())
        continue; // a failed platform does not hold the others back
      auto name = slot.platform->name();
      std::vector<double> values;
      for (auto& v : m_results.doc()["runs"].as_array()) {
        auto& run = v.as_object();
        if (run.contains("warmup") || run.contains("error") || run.at("experiment").as_string() != exp.name ||
            run.at("platform").as_string() != name)
          continue;
        if (auto x = metric_value(run, metric))
          values.push_back(*x);
      }
      auto h = ci_half_width_pct(values);
      live.push_back(h);
      if (h)
        widths[name] = std::round(*h * 1000) / 1000;
      else
        widths[name] = nullptr;
      summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", name, h ? fmt::format("±{:.2f}%", *h) : "unknown");
    }
    int rounds = last.iteration;
    auto stop = adaptive_stop(live, rounds, m_config.target_ci_pct, max);
    boost::json::object entry{{"planned", exp.iterations}, {"max_iterations", max}, {"rounds", rounds},
                              {"half_width_pct", std::move(widths)}};
    if (stop)
      entry["stopped"] = adaptive_stop_name(*stop);
    m_results.doc()["adaptive"].as_object()["experiments"].as_object()[exp.name] = std::move(entry);
    m_results.flush();
    if (summary.empty())
      summary = "no live platform";
    if (stop) {
      m_rounds_left[last.experiment] = 0;
      log(fmt::format("{}: {} after {} round(s): 95% interval half-width {} (target ±{:g}%)", exp.name,
                      adaptive_stop_name(*stop), rounds, summary, m_config.target_ci_pct));
      return {};
    }
    m_rounds_left[last.experiment] = max - rounds - 1;
    log(fmt::format("{}: 95% interval half-width {} (target ±{:g}%): adding round {} of up to {}", exp.name, summary,
                    m_config.target_ci_pct, rounds + 1, max));
    return plan_extra_round(last.experiment, last.round + 1, rounds + 1, m_slots.size(), m_config.seed);
  }

  // After an interrupted or failed run: the experiment it was in says so in "adaptive".
  void close_adaptive(bool interrupted) {
    if (!m_config.adaptive() || !m_current_experiment)
      return;
    const auto& exp = m_config.suite.experiments[*m_current_experiment];
    auto& experiments = m_results.doc()["adaptive"].as_object()["experiments"].as_object();
    boost::json::object entry{{"planned", exp.iterations}, {"max_iterations", m_config.max_rounds(exp)}};
    if (auto* e = experiments.if_contains(exp.name)) {
      if (e->as_object().contains("stopped"))
        return;
      entry = e->as_object();
    }
    std::int64_t rounds = 0;
    for (auto& v : m_results.doc()["runs"].as_array()) {
      auto& run = v.as_object();
      if (!run.contains("warmup") && run.at("experiment").as_string() == exp.name)
        rounds = std::max(rounds, run.at("iteration").to_number<std::int64_t>());
    }
    entry["rounds"] = rounds;
    entry["stopped"] = interrupted ? adaptive_stop_name(AdaptiveStop::interrupted) : "error";
    experiments[exp.name] = std::move(entry);
  }

  // Removes the fileio data set a platform holds.
  awaitable<void> cleanup_data_set(PlatformSlot& slot) {
    auto t0 = std::chrono::steady_clock::now();
    co_await exec_checked(*slot.platform, m_config.suite.experiments[*slot.data_set].sysbench_argv("cleanup"),
                          std::chrono::minutes(5));
    slot.data_set.reset();
    trace("cleanup", t0);
  }

  // Whether the experiment after `e` writes the same files (and so keeps e's data set).
  bool next_shares_data_set(std::size_t e) const {
    const auto& experiments = m_config.suite.experiments;
    return e + 1 < experiments.size() && experiments[e].workload == Workload::fileio &&
           experiments[e + 1].data_set_key() == experiments[e].data_set_key();
  }

  // fileio on a data set smaller than the platform's RAM, without direct I/O, measures
  // the page cache more than the storage: say so in the results (and the report).
  void warn_about_page_cache() {
    auto& doc = m_results.doc();
    boost::json::array warnings;
    for (auto& e : m_config.suite.experiments) {
      if (e.workload != Workload::fileio || e.option("file-extra-flags") == "direct")
        continue;
      std::string where;
      for (auto& slot : m_slots) {
        if (!slot.started)
          continue;
        auto d = slot.platform->describe();
        auto* mem = d.if_contains("memory_bytes");
        if (!mem)
          mem = doc["host"].as_object().if_contains("memory_bytes");
        if (!mem || !mem->is_number())
          continue;
        double ram = mem->to_number<double>();
        if (static_cast<double>(e.fileio_bytes()) < ram)
          where += fmt::format("{}{} ({:.1f} GiB)", where.empty() ? "" : ", ", slot.platform->name(), ram / (1u << 30));
      }
      if (!where.empty())
        warnings.push_back(boost::json::string(fmt::format(
            "{}: the fileio data set ({} MiB) is smaller than the RAM of {} and no direct I/O is used, so the page "
            "cache dominates; add file-extra-flags = \"direct\" to the experiment to measure storage",
            e.name, e.fileio_bytes() >> 20, where)));
    }
    if (!warnings.empty()) {
      doc["warnings"] = std::move(warnings);
      m_results.flush();
    }
  }

  // "batch 2 of 3: qemu[vcpus=2], docker[cpus=1] with native"
  void log_batch(std::size_t batch) {
    std::string live, always;
    for (auto i : m_batches[batch]) {
      auto& name = m_config.platforms[i];
      auto& list = m_config.counts_as_live(name) ? live : always;
      list += (list.empty() ? "" : ", ") + name;
    }
    log(fmt::format("batch {} of {} (at most {} VMs and containers up at once): {}{}", batch + 1, m_batches.size(),
                    m_config.max_live, live.empty() ? "no VM or container" : live,
                    always.empty() ? "" : " with " + always));
  }

  // Host CPU seconds of every other started platform (frozen while this one runs).
  awaitable<std::map<std::string, CpuSeconds>> frozen_accounting(const PlatformSlot& measured) {
    std::map<std::string, CpuSeconds> result;
    for (auto& slot : m_slots) {
      if (&slot == &measured || !slot.started || slot.stopped || !slot.failure.empty())
        continue;
      if (auto a = co_await slot.platform->host_accounting())
        result[slot.platform->name()] = *a;
    }
    co_return result;
  }

  // The cost of the channel that starts the workload (process spawn, Docker exec, agent
  // guest-exec), so nobody mistakes it for virtualization overhead.
  awaitable<boost::json::object> measure_channel(Platform& p) {
    constexpr int k_samples = 10; // its median and p90, for half the start-up time of 20
    std::vector<double> ms;
    for (int i = 0; i < k_samples; ++i) {
      ExecRequest request{{"true"}, "", std::chrono::seconds(30)};
      auto r = co_await p.exec(std::move(request));
      if (r.exit_code != 0)
        throw Error(fmt::format("measure the exec channel: `true` on {} exited with {}", p.name(), r.exit_code));
      ms.push_back(r.wall_s * 1000);
    }
    std::sort(ms.begin(), ms.end());
    auto round2 = [](double v) { return std::round(v * 100) / 100; };
    boost::json::object o{{"command", "true"},
                          {"n", k_samples},
                          {"median_ms", round2((ms[k_samples / 2 - 1] + ms[k_samples / 2]) / 2)},
                          {"min_ms", round2(ms.front())},
                          {"p90_ms", round2(ms[k_samples * 9 / 10 - 1])},
                          {"max_ms", round2(ms.back())}};
    log(fmt::format("{}: exec channel median {:.2f} ms (min {:.2f}, max {:.2f}, n={})", p.name(),
                    o["median_ms"].as_double(), o["min_ms"].as_double(), o["max_ms"].as_double(), k_samples));
    co_return o;
  }

  // Merges a platform's current describe() into its results entry (keeping what the
  // runner added, such as channel_overhead).
  void refresh_platform(PlatformSlot& slot) {
    boost::json::object entry;
    for (auto& p : m_results.doc()["platforms"].as_array())
      if (p.as_object()["name"] == boost::json::value(slot.platform->name()))
        entry = p.as_object();
    try {
      for (auto& [k, v] : slot.platform->describe())
        entry[k] = v;
    } catch (const std::exception& e) {
      log("warning: describe " + slot.platform->name() + ": " + e.what());
      return;
    }
    m_results.set_platform(std::move(entry));
  }

  void fail_platform(PlatformSlot& slot, const std::string& message) {
    slot.failure = message;
    log("error: " + message + "\n  (skipping the remaining iterations on " + slot.platform->name() + ")");
    boost::json::object entry{{"name", slot.platform->name()}};
    if (slot.started)
      entry = slot.platform->describe();
    else if (auto it = m_config.variants.find(slot.platform->name()); it != m_config.variants.end())
      entry = variant_identity(it->second);
    entry["error"] = message;
    m_results.set_platform(std::move(entry));
    m_results.flush();
  }

  // KiB of the experiment's data set in the page cache the platform's workload reads
  // through, from fincore (util-linux, in the guest image and on the host) on its files.
  awaitable<std::uint64_t> data_set_resident_kib(Platform& p, const Experiment& exp) {
    auto argv = fincore_argv(exp);
    auto r = co_await exec_checked(p, argv, std::chrono::seconds(60));
    try {
      co_return sum_fincore_bytes(r.out) / 1024;
    } catch (const std::exception&) {
      throw Error(fmt::format("{} on {}: unexpected output: {}", format_argv(argv), p.name(), tail_lines(r.out, 3)));
    }
  }

  // Runs one command of the workload; throws Error when it does not exit 0.
  awaitable<ExecResult> exec_checked(Platform& p, std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    ExecRequest request{argv, p.scratch_dir(), timeout};
    auto r = co_await p.exec(std::move(request));
    if (r.exit_code != 0 || r.timed_out) {
      std::string how = r.timed_out ? fmt::format("timed out after {} s", timeout.count() / 1000)
                                    : fmt::format("exit code {}", r.exit_code);
      throw Error(fmt::format("{} on {}: {}\n{}", format_argv(argv), p.name(), how, tail_lines(r.err + r.out, 15)));
    }
    co_return r;
  }

  // One step's lifecycle: [fileio: prepare, drop and verify], samplers around the sysbench
  // run, then its record (step_record) appended whatever happened. A failed iteration is
  // recorded and the run goes on; PlatformLost is rethrown (the caller fails the platform);
  // a cancellation is rethrown unrecorded.
  awaitable<void> run_step(const Step& step, PlatformSlot& slot, std::size_t done, std::size_t total,
                           bool last_of_experiment) {
    Platform& p = *slot.platform;
    const auto& exp = m_config.suite.experiments[step.experiment];
    std::string label = step.warmup ? fmt::format("warm-up {}/{}", step.warmup, exp.warmup)
                        : m_config.adaptive()
                            ? fmt::format("iteration {} ({} planned, adaptive: up to {})", step.iteration, exp.iterations,
                                          m_config.max_rounds(exp))
                            : fmt::format("iteration {}/{}", step.iteration, exp.iterations);
    if (step.batch) {
      // Native is in every batch, its iterations numbered on: say which of the batch's it is.
      std::size_t in = 0;
      for (auto& b : m_batches)
        in += std::count(b.begin(), b.end(), step.platform);
      int per_batch = step.warmup ? exp.warmup : exp.iterations;
      int number = step.warmup ? step.warmup : step.iteration;
      label = fmt::format("{} {}/{}{} (batch {} of {})", step.warmup ? "warm-up" : "iteration", number,
                          per_batch * static_cast<int>(in), in > 1 ? fmt::format(", {} a batch", per_batch) : "",
                          step.batch, m_batches.size());
    }
    auto raw_rel = fs::path("raw") / raw_name(p.name()) / exp.name /
                   (step.warmup ? fmt::format("warmup-{}.txt", step.warmup) : fmt::format("{}.txt", step.iteration));
    fs::create_directories(m_config.out_dir / raw_rel.parent_path());

    StepOutcome outcome;
    outcome.step = step;
    outcome.platform = p.name();
    outcome.experiment = exp.name;
    outcome.started_at = utc_now_iso8601_ms();
    auto started = std::chrono::steady_clock::now();
    auto run_timeout = std::chrono::seconds(exp.time_s * 3 + 120);

    std::exception_ptr failure;
    try {
      // The data set is written once per experiment and platform, before its first
      // iteration, and removed after its last: prepare is untimed setup, and rewriting it
      // every iteration cost more than the runs (4-5 s a time in a TCG guest). The next
      // experiment keeps it when it would write the same files (the assignment's exp3 and
      // exp4 differ only in the I/O mode): the caches are dropped before each run anyway.
      const auto& experiments = m_config.suite.experiments;
      if (exp.workload == Workload::fileio && slot.data_set != step.experiment) {
        if (slot.data_set && experiments[*slot.data_set].data_set_key() == exp.data_set_key()) {
          outcome.data_set_from = experiments[*slot.data_set].name;
        } else {
          if (slot.data_set) // another shape's files, left by a failed step
            co_await cleanup_data_set(slot);
          auto t0 = std::chrono::steady_clock::now();
          co_await exec_checked(p, exp.sysbench_argv("prepare"), std::chrono::minutes(15));
          outcome.prepared = true;
          trace("prepare", t0);
        }
        slot.data_set = step.experiment;
      }
      auto drop_from = std::chrono::steady_clock::now();
      if (exp.workload == Workload::fileio && m_config.drop_caches) {
        auto drop_list = co_await p.drop_caches();
        trace("drop caches", drop_from);
        auto resident_kib = co_await data_set_resident_kib(p, exp);
        outcome.drops = verify_drops(drop_list, resident_kib, p.has_guest_view(), exp.fileio_bytes());
        for (auto& w : outcome.drops->warnings)
          log(fmt::format("warning: {} {}", p.name(), w));
        trace("drop", drop_from);
      }

      auto* host = &m_config.measured_host();
      CpuSampler host_sampler([host]() { return host->read_proc_stat(); }, m_config.sample_interval);
      std::optional<CpuSampler> guest_sampler;
      if (p.has_guest_view())
        guest_sampler.emplace([&p]() { return p.read_file("/proc/stat"); }, m_config.sample_interval);
      auto [accounting_before, frozen_before] = co_await (p.host_accounting() && frozen_accounting(slot));
      auto measured_from = std::chrono::steady_clock::now();
      trace("before", started);

      ExecResult result;
      auto workload = [&]() -> awaitable<void> {
        struct StopSamplers {
          CpuSampler& host;
          std::optional<CpuSampler>& guest;
          ~StopSamplers() {
            host.stop();
            if (guest)
              guest->stop();
          }
        } stop{host_sampler, guest_sampler};
        ExecRequest request{exp.sysbench_argv("run"), p.scratch_dir(), run_timeout};
        result = co_await p.exec(std::move(request));
      };
      if (guest_sampler)
        co_await (workload() && host_sampler.run() && guest_sampler->run());
      else
        co_await (workload() && host_sampler.run());
      auto [accounting_after, frozen_after] = co_await (p.host_accounting() && frozen_accounting(slot));
      double measured_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - measured_from).count();
      trace(fmt::format("measured {:.3f} wall {:.3f}", measured_s, result.wall_s), measured_from);

      write_file_atomic(m_config.out_dir / raw_rel, result.out);
      if (!result.err.empty())
        write_file_atomic(m_config.out_dir / fs::path(raw_rel).replace_extension(".stderr.txt"), result.err);
      auto& measured = outcome.measured.emplace();
      measured.raw = raw_rel.string();
      measured.result = result;
      measured.measured_s = measured_s;
      measured.host_split = host_sampler.split();
      measured.host_samples = host_sampler.samples();
      measured.host_sampler_error = host_sampler.error();
      if (guest_sampler) {
        measured.guest_split = guest_sampler->split();
        measured.guest_sampler_error = guest_sampler->error();
      }
      measured.accounting_before = accounting_before;
      measured.accounting_after = accounting_after;
      measured.frozen_before = std::move(frozen_before);
      measured.frozen_after = std::move(frozen_after);

      if (result.timed_out)
        throw Error(fmt::format("sysbench did not finish within {} s and was killed", run_timeout.count()));
      if (result.exit_code != 0)
        throw Error(fmt::format("{} exited with code {}\n{}", format_argv(exp.sysbench_argv("run")), result.exit_code,
                                tail_lines(result.err + result.out, 15)));
      outcome.metrics = metrics_to_json(parse_sysbench_output(result.out, exp.workload));
      if (exp.workload == Workload::fileio && last_of_experiment && !next_shares_data_set(step.experiment))
        co_await cleanup_data_set(slot);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure && (is_cancellation(failure) || co_await cancelled()))
      std::rethrow_exception(failure);

    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    m_eta->record(step, elapsed);
    std::string prefix = fmt::format("[{}/{}] {} {} {}", done, total, p.name(), exp.name, label);
    if (failure) {
      outcome.error = what_of(failure);
      m_results.append_run(step_record(outcome));
      log(fmt::format("{}: FAILED after {:.1f} s: {}{}", prefix, elapsed, *outcome.error, eta_suffix(done)));
      // A platform that is gone (VM died, engine stopped) cannot go on: fail it.
      try {
        std::rethrow_exception(first_of(failure));
      } catch (const PlatformLost&) {
        throw;
      } catch (...) {
      }
      co_return;
    }
    auto summary = headline(exp, *outcome.metrics);
    auto flush_from = std::chrono::steady_clock::now();
    m_results.append_run(step_record(outcome));
    trace("flush", flush_from);
    log(fmt::format("{}: {:.1f} s, {}{}", prefix, elapsed, summary, eta_suffix(done)));
  }

  // " — 3m10s elapsed, ~4m left" after step `done` (1-based) of the plan.
  std::string eta_suffix(std::size_t done) const {
    std::vector<bool> failed;
    for (auto& slot : m_slots)
      failed.push_back(!slot.failure.empty());
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_measure_started).count();
    auto left = m_eta->remaining_s(done, failed);
    auto text = fmt::format(" \u2014 {} elapsed, ~{} left", format_duration(elapsed), format_duration(left));
    // Adaptive rounds not planned yet may add up to this much.
    if (auto extra = m_eta->extra_rounds_s(m_rounds_left, m_slots.size(), failed); extra > 0)
      text += fmt::format(" (adaptive: up to ~{})", format_duration(left + extra));
    return text;
  }

  RunConfig m_config;
  ResultsWriter m_results;
  std::vector<PlatformSlot> m_slots;
  std::vector<std::vector<std::size_t>> m_batches; // RunConfig::batches()
  std::optional<EtaModel> m_eta;
  std::chrono::steady_clock::time_point m_measure_started;
  std::vector<int> m_rounds_left;                   // per experiment: adaptive rounds it may still add
  std::optional<std::size_t> m_current_experiment;  // the one the run is in (adaptive records)
};

} // namespace

awaitable<int> run_suite(RunConfig config) {
  fs::create_directories(config.out_dir);
  Run run(std::move(config));
  co_return co_await run.execute();
}

} // namespace virtbench
