#include "runner.hpp"

#include "host.hpp"
#include "report.hpp"
#include "results.hpp"
#include "sampler.hpp"
#include "util/error.hpp"
#include "util/failure.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "version.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <map>
#include <random>

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

namespace {

// A platform that failed stays failed: its remaining steps are skipped.
struct PlatformSlot {
  std::unique_ptr<Platform> platform;
  bool started = false;
  std::string failure;
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
      auto options = m_config.platform_options;
      options.raw_dir = m_config.out_dir / "raw" / name;
      m_slots.push_back({make_platform(name, options), false, {}});
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
      if (slot.started && slot.failure.empty())
        refresh_platform(slot);
    for (auto& slot : m_slots)
      co_await slot.platform->stop(); // never throws
    signals.cancel();

    auto& doc = m_results.doc();
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
    doc["host"] = describe_host();
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
    doc["sample_interval_ms"] = m_config.sample_interval.count();
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

  awaitable<void> measure() {
    std::exception_ptr failure;
    // Start every platform, then freeze it until its turn.
    for (auto& slot : m_slots) {
      auto name = slot.platform->name();
      log("starting " + name + " ...");
      try {
        co_await slot.platform->start();
        slot.started = true;
        auto channel = co_await measure_channel(*slot.platform);
        co_await slot.platform->freeze();
        auto description = slot.platform->describe();
        description["channel_overhead"] = std::move(channel);
        m_results.set_platform(std::move(description));
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        if (is_cancellation(failure) || co_await cancelled())
          std::rethrow_exception(failure);
        fail_platform(slot, "start " + name + ": " + what_of(failure));
        failure = nullptr;
      }
      m_results.flush();
    }

    warn_about_page_cache();
    auto steps = plan_steps(m_config.suite, m_slots.size(), m_config.order, m_config.seed);
    std::size_t total = steps.size(), done = 0;
    PlatformSlot* current = nullptr;
    for (auto& step : steps) {
      ++done;
      auto& slot = m_slots[step.platform];
      if (!slot.failure.empty())
        continue;
      try {
        if (current != &slot) {
          if (current && current->failure.empty())
            co_await current->platform->freeze();
          current = &slot;
          co_await slot.platform->thaw();
        }
        co_await run_step(step, slot, done, total);
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        if (is_cancellation(failure) || co_await cancelled())
          std::rethrow_exception(failure);
        fail_platform(slot, slot.platform->name() + ": " + what_of(failure));
        if (current == &slot)
          current = nullptr;
        failure = nullptr;
      }
    }
    if (current && current->failure.empty())
      co_await current->platform->freeze();
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

  // Host CPU seconds of every other started platform (frozen while this one runs).
  awaitable<std::map<std::string, CpuSeconds>> frozen_accounting(const PlatformSlot& measured) {
    std::map<std::string, CpuSeconds> result;
    for (auto& slot : m_slots) {
      if (&slot == &measured || !slot.started || !slot.failure.empty())
        continue;
      if (auto a = co_await slot.platform->host_accounting())
        result[slot.platform->name()] = *a;
    }
    co_return result;
  }

  // The cost of the channel that starts the workload (process spawn, Docker exec, agent
  // guest-exec), so nobody mistakes it for virtualization overhead.
  awaitable<boost::json::object> measure_channel(Platform& p) {
    constexpr int k_samples = 20;
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
    boost::json::object entry = slot.started ? slot.platform->describe() : boost::json::object{{"name", slot.platform->name()}};
    entry["error"] = message;
    m_results.set_platform(std::move(entry));
    m_results.flush();
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

  awaitable<void> run_step(const Step& step, PlatformSlot& slot, std::size_t done, std::size_t total) {
    Platform& p = *slot.platform;
    const auto& exp = m_config.suite.experiments[step.experiment];
    std::string label = step.warmup ? fmt::format("warm-up {}/{}", step.warmup, exp.warmup)
                                    : fmt::format("iteration {}/{}", step.iteration, exp.iterations);
    auto raw_rel = fs::path("raw") / p.name() / exp.name /
                   (step.warmup ? fmt::format("warmup-{}.txt", step.warmup) : fmt::format("{}.txt", step.iteration));
    fs::create_directories(m_config.out_dir / raw_rel.parent_path());

    boost::json::object run{{"platform", p.name()},
                            {"experiment", exp.name},
                            {"iteration", step.iteration},
                            {"round", step.round},
                            {"started_at", utc_now_iso8601()}};
    if (step.warmup)
      run["warmup"] = step.warmup;
    auto started = std::chrono::steady_clock::now();
    auto run_timeout = std::chrono::seconds(exp.time_s * 3 + 120);

    std::exception_ptr failure;
    try {
      if (exp.workload == Workload::fileio)
        co_await exec_checked(p, exp.sysbench_argv("prepare"), std::chrono::minutes(15));
      if (exp.workload == Workload::fileio && m_config.drop_caches) {
        boost::json::array drops;
        // A drop is verified when "Cached:" fell by at least half the data set just written.
        auto expected_kib = exp.fileio_bytes() / 2048;
        for (auto& d : co_await p.drop_caches()) {
          auto freed = d.cached_before_kib > d.cached_after_kib ? d.cached_before_kib - d.cached_after_kib : 0;
          boost::json::object o{{"where", d.where},
                                {"cached_before_kib", d.cached_before_kib},
                                {"cached_after_kib", d.cached_after_kib}};
          if (!d.holds_data_set)
            o["holds_data_set"] = false; // nothing to verify: this cache never held the files
          else
            o["verified"] = freed >= expected_kib;
          if (d.holds_data_set && freed < expected_kib) {
            run["cache_drop_warning"] = fmt::format("{}: Cached fell by {} KiB, less than half the {} KiB data set",
                                                    d.where, freed, expected_kib * 2);
            log(fmt::format("warning: {} {}: cache drop freed only {} KiB of {} KiB cached", p.name(), d.where, freed,
                            d.cached_before_kib));
          }
          drops.push_back(std::move(o));
        }
        run["cache_drops"] = std::move(drops);
      }

      CpuSampler host_sampler(read_host_proc_stat, m_config.sample_interval);
      std::optional<CpuSampler> guest_sampler;
      if (p.has_guest_view())
        guest_sampler.emplace([&p]() { return p.read_file("/proc/stat"); }, m_config.sample_interval);
      auto accounting_before = co_await p.host_accounting();
      auto frozen_before = co_await frozen_accounting(slot);
      auto measured_from = std::chrono::steady_clock::now();

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
      auto accounting_after = co_await p.host_accounting();
      auto frozen_after = co_await frozen_accounting(slot);
      double measured_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - measured_from).count();

      write_file_atomic(m_config.out_dir / raw_rel, result.out);
      if (!result.err.empty())
        write_file_atomic(m_config.out_dir / fs::path(raw_rel).replace_extension(".stderr.txt"), result.err);
      run["raw"] = raw_rel.string();
      run["exit_code"] = result.exit_code;
      run["wall_s"] = std::round(result.wall_s * 1e4) / 1e4;

      boost::json::object cpu;
      if (auto s = host_sampler.split())
        cpu["host"] = cpu_split_to_json(*s);
      if (guest_sampler && guest_sampler->split())
        cpu["guest"] = cpu_split_to_json(*guest_sampler->split());
      std::optional<CpuSeconds> charged = result.process_cpu;
      if (accounting_before && accounting_after)
        charged = CpuSeconds{accounting_after->user_s - accounting_before->user_s,
                             accounting_after->kernel_s - accounting_before->kernel_s};
      if (charged)
        cpu["platform_process"] = {{"user_s", std::round(charged->user_s * 1000) / 1000},
                                   {"kernel_s", std::round(charged->kernel_s * 1000) / 1000}};
      // What the platforms waiting their turn (frozen) cost the host meanwhile, in % of one CPU.
      boost::json::object frozen;
      for (auto& [name, before] : frozen_before)
        if (auto after = frozen_after.find(name); after != frozen_after.end() && measured_s > 0)
          frozen[name] = std::round(10000 * ((after->second.user_s + after->second.kernel_s) -
                                             (before.user_s + before.kernel_s)) / measured_s) / 100;
      if (!frozen.empty())
        cpu["frozen_platforms_cpu_pct"] = std::move(frozen);
      cpu["samples"] = host_sampler.samples();
      if (!host_sampler.error().empty())
        cpu["host_sampler_error"] = host_sampler.error();
      if (guest_sampler && !guest_sampler->error().empty())
        cpu["guest_sampler_error"] = guest_sampler->error();
      run["cpu"] = std::move(cpu);

      if (result.timed_out)
        throw Error(fmt::format("sysbench did not finish within {} s and was killed", run_timeout.count()));
      if (result.exit_code != 0)
        throw Error(fmt::format("{} exited with code {}\n{}", format_argv(exp.sysbench_argv("run")), result.exit_code,
                                tail_lines(result.err + result.out, 15)));
      run["metrics"] = metrics_to_json(parse_sysbench_output(result.out, exp.workload));
      if (exp.workload == Workload::fileio)
        co_await exec_checked(p, exp.sysbench_argv("cleanup"), std::chrono::minutes(5));
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure && (is_cancellation(failure) || co_await cancelled()))
      std::rethrow_exception(failure);

    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::string prefix = fmt::format("[{}/{}] {} {} {}", done, total, p.name(), exp.name, label);
    if (failure) {
      auto message = what_of(failure);
      run["error"] = message;
      m_results.append_run(std::move(run));
      log(fmt::format("{}: FAILED after {:.1f} s: {}", prefix, elapsed, message));
      // A platform that is gone (VM died, engine stopped) cannot go on: fail it.
      try {
        std::rethrow_exception(first_of(failure));
      } catch (const PlatformLost&) {
        throw;
      } catch (...) {
      }
      co_return;
    }
    auto summary = headline(exp, run["metrics"].as_object());
    m_results.append_run(std::move(run));
    log(fmt::format("{}: {:.1f} s, {}", prefix, elapsed, summary));
  }

  RunConfig m_config;
  ResultsWriter m_results;
  std::vector<PlatformSlot> m_slots;
};

} // namespace

awaitable<int> run_suite(RunConfig config) {
  fs::create_directories(config.out_dir);
  Run run(std::move(config));
  co_return co_await run.execute();
}

} // namespace virtbench
