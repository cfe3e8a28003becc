#include "cli.hpp"

#include "commands.hpp"

#include "calibrate.hpp"
#include "history.hpp"
#include "host.hpp"
#include "registry.hpp"
#include "remote_host.hpp"
#include "report.hpp"
#include "results.hpp"
#include "runner.hpp"
#include "ssh.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "version.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cctype>
#include <csignal>
#include <map>
#include <iostream>
#include <random>
#include <unistd.h>

namespace virtbench {

namespace fs = std::filesystem;

fs::path data_dir_of(const GlobalOptions& g) { return g.data_dir.empty() ? default_data_dir() : fs::path(g.data_dir); }

namespace {

struct RunArgs {
  std::string suite = "quick";
  std::string platforms = "native";
  std::optional<int> iterations;
  std::optional<int> time_s;
  std::string out;
  bool no_drop_caches = false;
  std::string order = "interleaved";
  std::optional<std::uint64_t> seed;
  int sample_interval_ms = 200;
  // The drivers' options (registry.hpp), as given on the command line.
  std::map<std::string, std::string> option_text;
  std::map<std::string, std::vector<std::string>> option_lists;
  std::vector<std::pair<std::string, CLI::Option*>> driver_options;
  bool force = false;
  bool yes = false;
  std::optional<double> target_ci_pct;
  std::optional<int> max_iterations;
  std::vector<std::string> matrix; // --matrix qemu.vcpus=1,2
  std::optional<int> max_live;
  std::string db; // --db: the results store; empty: DATA_DIR/history.sqlite
  std::string host;       // --host ssh://user@host:port; empty: this host
  std::string ssh_config; // --ssh-config FILE (ssh -F)
  std::string remote_data_dir; // --remote-data-dir DIR: the guest image there (image push --host)
};

struct CalibrateArgs {
  RunArgs run;
  int runs = 5;
};

void log_line(const std::string& line) { std::cerr << line << std::endl; }

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    auto item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty())
      items.push_back(item);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return items;
}

std::string random_hex(int digits) {
  std::random_device rd;
  std::string s;
  for (int i = 0; i < digits; ++i)
    s += "0123456789abcdef"[rd() % 16];
  return s;
}

std::string timestamp_for_paths() {
  auto iso = utc_now_iso8601(); // 2026-11-25T23:59:01Z
  std::string s;
  for (char c : iso)
    if (c != ':' && c != '-' && c != 'Z')
      s += c;
  return s; // 20261125T235901
}

// The size of the largest fileio data set in the suite, in bytes (for scratch disks).
std::uint64_t largest_fileio_bytes(const Suite& suite) {
  std::uint64_t largest = 0;
  for (auto& e : suite.experiments)
    if (e.workload == Workload::fileio)
      largest = std::max(largest, e.fileio_bytes());
  return largest;
}

// --target-ci and --max-iterations, checked against the suite (UsageError, exit 2).
void configure_adaptive(RunConfig& config, const RunArgs& a) {
  if (a.max_iterations && !a.target_ci_pct)
    throw UsageError("--max-iterations bounds the rounds --target-ci adds; give --target-ci PCT too (e.g. "
                     "--target-ci 2 --max-iterations " + std::to_string(*a.max_iterations) + ")");
  if (!a.target_ci_pct)
    return;
  double t = *a.target_ci_pct;
  if (!(t > 0 && t < 100))
    throw UsageError(fmt::format("--target-ci {:g}: the target is a 95% interval half-width in percent of the mean, "
                                 "more than 0 and less than 100 (e.g. --target-ci 2)", t));
  if (config.order == Order::grouped)
    throw UsageError("--target-ci adds interleaved rounds (every platform once per round); it needs --order interleaved");
  if (a.max_iterations)
    for (auto& e : config.suite.experiments)
      if (*a.max_iterations < e.iterations)
        throw UsageError(fmt::format("--max-iterations {} is less than the {} iterations of experiment {}: it counts "
                                     "every measured round, the planned ones too; raise it to at least {} or lower "
                                     "--iterations",
                                     *a.max_iterations, e.iterations, e.name, e.iterations));
  config.target_ci_pct = t;
  config.max_iterations = a.max_iterations;
}

// --max-live, else as many VMs and containers as fit in the host's memory with 2 GiB to
// spare (each at its memory option); the reason goes to the methodology.
void configure_max_live(RunConfig& config, const RunArgs& a) {
  std::vector<std::uint64_t> memory;
  for (auto& p : config.platforms)
    if (config.counts_as_live(p)) {
      auto& values = config.platform_values.at(p);
      memory.push_back(values.has("memory") ? static_cast<std::uint64_t>(values.integer("memory")) << 20 : 0);
    }
  if (a.max_live) {
    if (*a.max_live < 1)
      throw UsageError(fmt::format("--max-live {}: at least one VM or container must be up to measure it; give 1 or more",
                                   *a.max_live));
    config.max_live = static_cast<std::size_t>(*a.max_live);
    config.max_live_reason = fmt::format("--max-live {}", *a.max_live);
    return;
  }
  if (config.variants.empty())
    return; // no matrix: every platform at once, as always
  auto host = describe_host();
  std::uint64_t host_bytes = 0;
  if (auto* m = host.if_contains("memory_bytes"); m && m->is_number())
    host_bytes = m->to_number<std::uint64_t>();
  if (!host_bytes)
    return;
  config.max_live = max_live_for_memory(memory, host_bytes, k_spare_memory_bytes);
  config.max_live_reason = fmt::format("as many as fit in the host's {} MiB of memory with 2048 MiB to spare",
                                       host_bytes >> 20);
}

// The drivers' option values of a run, per platform: each option's default, then the
// suite's [platform.NAME] table, then the command line (which sets every platform's).
OptionValues option_values(const Suite& suite, const std::string& platform, const RunArgs& a) {
  auto values = default_option_values();
  for (auto& o : suite.platform_options)
    if (o.platform == platform)
      set_option(values, o.name, o.value, o.where);
  for (auto& [name, option] : a.driver_options) {
    if (option->count() == 0)
      continue;
    if (auto it = a.option_lists.find(name); it != a.option_lists.end()) {
      values.set_list(name, {});
      for (auto& v : it->second)
        set_option(values, name, v, "--");
    } else {
      set_option(values, name, a.option_text.at(name), "--");
    }
  }
  return values;
}

// The run the options describe, checked before anything starts (UsageError, exit 2).
RunConfig make_run_config(const RunArgs& a, const GlobalOptions& g, const fs::path& out_dir) {
  RunConfig config;
  config.suite = load_suite(a.suite);
  override_suite(config.suite, a.iterations, a.time_s);
  config.platforms = split_list(a.platforms);
  if (config.platforms.empty())
    throw UsageError("--platform: no platform given; use e.g. --platform native,docker,qemu");
  for (auto& p : config.platforms)
    if (std::count(config.platforms.begin(), config.platforms.end(), p) > 1)
      throw UsageError("--platform: \"" + p + "\" is listed twice");
  auto known = platform_names();
  for (auto& p : config.platforms)
    if (std::find(known.begin(), known.end(), p) == known.end())
      make_platform(p, {}); // throws the UsageError naming the known platforms
  // The matrix: the suite's, the command line's axes over it; each platform's variants.
  auto matrix = config.suite.matrix;
  std::vector<MatrixAxis> cli_axes;
  for (auto& m : a.matrix)
    cli_axes.push_back(parse_matrix_arg(m));
  override_matrix(matrix, cli_axes);
  for (auto& axis : matrix.axes)
    if (!find_driver(axis.platform))
      make_platform(axis.platform, {}); // throws the UsageError naming the known platforms
  for (auto& axis : matrix.axes)
    if (std::find(config.platforms.begin(), config.platforms.end(), axis.platform) == config.platforms.end())
      log_line("note: " + axis.where + axis.axis + ": " + axis.platform + " is not in --platform; its matrix is not used");
  for (auto& point : matrix.points)
    if (std::find(config.platforms.begin(), config.platforms.end(), point.platform) == config.platforms.end())
      log_line("note: " + point.where + point.platform + " is not in --platform; its points are not used");
  auto requested = config.platforms;
  config.platforms.clear();
  std::vector<std::string> problems;
  for (auto& p : requested) {
    auto* driver = find_driver(p);
    auto base = option_values(config.suite, p, a);
    auto variants = driver ? expand_variants(*driver, matrix, base) : std::vector<Variant>{};
    bool matrix_of_it = variants.size() > 1 || (variants.size() == 1 && !variants.front().params.empty());
    if (!matrix_of_it) {
      // (A matrix whose axes each have one value sets the options, naming no variant.)
      config.platforms.push_back(p);
      auto& values = config.platform_values[p] = variants.empty() ? base : variants.front().values;
      if (driver && driver->check_options)
        if (auto problem = driver->check_options(values); !problem.empty())
          problems.push_back(problem);
      continue;
    }
    for (auto& v : variants) {
      if (driver->check_options)
        if (auto problem = driver->check_options(v.values); !problem.empty())
          problems.push_back(v.name + ": " + problem);
      config.platforms.push_back(v.name);
      config.platform_values[v.name] = v.values;
      config.variants[v.name] = std::move(v);
    }
  }
  if (!problems.empty()) {
    std::string text;
    for (auto& p : problems)
      text += (text.empty() ? "" : "\n") + p;
    throw UsageError(text);
  }
  configure_max_live(config, a);
  config.order = a.order == "grouped" ? Order::grouped : Order::interleaved;
  configure_adaptive(config, a);
  if (config.adaptive() && config.batches().size() > 1)
    throw UsageError(fmt::format("--target-ci with a matrix in {} batches (--max-live {}): adaptive rounds need every "
                                 "platform up at once; raise --max-live to {} or drop --target-ci",
                                 config.batches().size(), config.max_live,
                                 std::count_if(config.platforms.begin(), config.platforms.end(),
                                               [&](auto& p) { return config.counts_as_live(p); })));

  if (!a.host.empty()) {
    parse_ssh_url(a.host); // UsageError for a bad one, before anything starts
    check_remote_data_dir(a.remote_data_dir);
  } else if (!a.ssh_config.empty() || !a.remote_data_dir.empty()) {
    throw UsageError("--ssh-config and --remote-data-dir are for --host; give --host ssh://user@host too");
  }

  bool has_fileio = std::any_of(config.suite.experiments.begin(), config.suite.experiments.end(),
                                [](auto& e) { return e.workload == Workload::fileio; });
  config.drop_caches = !a.no_drop_caches;
  // (On a --host, checked there once connected: execute_run.)
  if (a.host.empty() && has_fileio && config.drop_caches && !can_drop_host_caches())
    throw UsageError("dropping caches before fileio runs needs root (it writes /proc/sys/vm/drop_caches); "
                     "run as root, or pass --no-drop-caches to measure with a warm page cache");

  config.out_dir = out_dir;
  if (fs::exists(config.out_dir / "results.json") && !a.force)
    throw UsageError(config.out_dir.string() + " already holds a results.json; choose another --out DIR, or pass --force to replace it");

  config.seed = a.seed ? *a.seed : std::random_device{}();
  config.sample_interval = std::chrono::milliseconds(a.sample_interval_ms);
  config.command_line = g.argv;

  auto& po = config.platform_options;
  po.data_dir = g.data_dir.empty() ? default_data_dir() : fs::path(g.data_dir);
  po.run_id = timestamp_for_paths() + "-" + random_hex(6);
  po.scratch_bytes = largest_fileio_bytes(config.suite);
  po.host = &host_services();
  po.log = log_line;
  return config;
}

// Removes what runs killed before they could clean up left behind (their runtime
// directories, and an SSH master still running there; native's and docker's scratch
// directories under DATA_DIR/scratch, and native's under the --scratch-dir of the
// platforms in `local_values`) and says so.
void sweep_leftovers(const fs::path& data_dir, const std::map<std::string, OptionValues>& local_values) {
  std::vector<std::pair<fs::path, const char*>> places = {
      {runtime_parent_dir(), "run-"}, {data_dir / "scratch", "docker-"}, {data_dir / "scratch", "native-"}};
  for (auto& [platform, values] : local_values)
    if (values.has("scratch-dir") && !values.text("scratch-dir").empty())
      places.emplace_back(values.text("scratch-dir"), "native-");
  for (auto& [parent, prefix] : places)
    for (auto& swept : sweep_dead_owners(parent, prefix, sweep_ssh_master))
      log_line(fmt::format("virtbench: removed {}, left behind by a run that did not end cleanly: {}",
                           swept.path.string(), swept.reason));
}

// One run start to finish on `io` (preflight, the run, history); returns its exit code.
// `stop_io` stops `io` when the run is done, for a caller that keeps other work on it.
// The run's private runtime directory (0700, its owner recorded for the sweep), after the
// sweep of dead runs' ones.
// `local_values`: the option values of platforms that run on this host (a remote run's
// --scratch-dir is a directory there, which the remote's own sweep covers).
void make_runtime_dir(std::optional<TempDir>& runtime, PlatformOptions& po,
                      const std::map<std::string, OptionValues>& local_values) {
  sweep_leftovers(po.data_dir, local_values);
  runtime.emplace(runtime_parent_dir(), "run-");
  runtime->record_owner();
  po.runtime_dir = runtime->path();
}

// The connection to --host and the run's remote directory there; throws UsageError or Error
// (ssh's failure classified, ssh.hpp) before anything runs.
void connect_remote(const RunArgs& a, RunConfig& config, std::optional<SshConnection>& ssh,
                    std::optional<RemoteHost>& remote) {
  auto& po = config.platform_options;
  SshSettings settings{parse_ssh_url(a.host), a.ssh_config};
  ssh.emplace(std::move(settings), po.runtime_dir);
  ssh->open();
  std::string scratch_parent;
  if (auto it = config.platform_values.find("native"); it != config.platform_values.end())
    scratch_parent = it->second.text("scratch-dir");
  remote.emplace(*ssh, local_host(), po.run_id, scratch_parent);
  remote->set_data_dir(a.remote_data_dir);
  for (auto& line : remote->sweep())
    log_line(line);
  remote->open();
  config.host = &*remote;
  po.host = &*remote;
  bool has_fileio = std::any_of(config.suite.experiments.begin(), config.suite.experiments.end(),
                                [](auto& e) { return e.workload == Workload::fileio; });
  if (has_fileio && config.drop_caches && !remote->can_drop_caches())
    throw UsageError("dropping caches before fileio runs needs root on " + a.host +
                     " (it writes /proc/sys/vm/drop_caches there); log in as root (ssh://root@...), or pass "
                     "--no-drop-caches to measure with a warm page cache");
}

// One run start to finish on `io` (preflight, the run, history); returns its exit code.
// `stop_io` stops `io` when the run is done, for a caller that keeps other work on it.
int execute_run(RunConfig config, const RunArgs& a, const GlobalOptions& g, asio::io_context& io, bool stop_io) {
  auto& po = config.platform_options;
  // Destroyed in reverse: the remote's directory and reader, the master, the runtime directory.
  std::optional<TempDir> runtime;
  std::optional<SshConnection> ssh;
  std::optional<RemoteHost> remote;
  if (!a.host.empty()) {
    // The master's socket lives in the runtime directory, and the preflight asks the remote.
    make_runtime_dir(runtime, po, {});
    connect_remote(a, config, ssh, remote);
  } else {
    po.runtime_dir = runtime_parent_dir(); // where the run's private directory will be: for the preflight
  }
  preflight(config, a.yes);
  // A store named by --db (a fleet's PostgreSQL) is reached, its schema made, before
  // anything is measured: a wrong password is exit 2 now, not after the run.
  auto store = store_location(a.db, data_dir_of(g));
  if (store.given)
    History(store, true);

  fs::create_directories(config.out_dir);
  if (a.force) {
    std::error_code ec;
    fs::remove_all(config.out_dir / "raw", ec);
  }
  if (!runtime)
    make_runtime_dir(runtime, po, config.platform_values);

  log_line(fmt::format("virtbench {}: suite {} on {}{} -> {}", version(), config.suite.name, a.platforms,
                       a.host.empty() ? "" : " at " + remote->location(), config.out_dir.string()));
  if (config.adaptive())
    log_line(fmt::format("adaptive: more rounds while a platform's 95% interval half-width is above {:g}% of its "
                         "mean, up to {} rounds",
                         config.target_ci_pct,
                         config.max_iterations ? std::to_string(*config.max_iterations) : "3 × iterations"));
  int exit_code = 1;
  std::exception_ptr failure;
  auto out_dir = config.out_dir;
  asio::co_spawn(io, run_suite(std::move(config)), [&](std::exception_ptr e, int code) {
    failure = e;
    exit_code = code;
    if (stop_io)
      io.stop();
  });
  io.restart();
  io.run();
  if (remote) {
    if (auto problem = remote->close(); !problem.empty()) {
      log_line("warning: " + problem);
      exit_code = std::max(exit_code, 1);
    }
    ssh->close();
  }
  if (failure)
    std::rethrow_exception(failure);
  record_history(out_dir, store, log_line); // the default store warns; one named by --db throws
  log_line("results: " + (out_dir / "results.json").string());
  return exit_code;
}

int run_command(const RunArgs& a, const GlobalOptions& g) {
  auto config = make_run_config(a, g, a.out.empty() ? fs::path("virtbench-results") / (load_suite(a.suite).name + "-" + timestamp_for_paths())
                                                    : fs::path(a.out));
  auto out_dir = config.out_dir;
  asio::io_context io;
  int exit_code = execute_run(std::move(config), a, g, io, false);
  std::cout << (out_dir / "report.md").string() << std::endl;
  return exit_code;
}

// A/A runs: the same run `runs` times, each in OUT/run-K and in the history; then the
// between-run noise per (experiment, platform). Ctrl-C ends the current run (kept, as
// `run` keeps it) and starts no other.
int calibrate_command(const CalibrateArgs& c, const GlobalOptions& g) {
  const auto& a = c.run;
  fs::path root = a.out.empty() ? fs::path("virtbench-results") /
                                      ("calibrate-" + load_suite(a.suite).name + "-" + timestamp_for_paths())
                                : fs::path(a.out);
  auto dir_of = [&](int k) { return root / fmt::format("run-{}", k); };
  for (int k = 1; k <= c.runs; ++k)
    if (fs::exists(dir_of(k) / "results.json") && !a.force)
      throw UsageError(dir_of(k).string() + " already holds a results.json; choose another --out DIR, or pass --force "
                       "to replace the runs there");
  auto first = make_run_config(a, g, dir_of(1)); // every check before the first run starts

  asio::io_context io;
  // Held over all the runs, beside each run's own: a Ctrl-C between runs is seen too.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool stop = false;
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec)
      stop = true;
  });
  int worst = 0;
  std::vector<fs::path> finished;
  for (int k = 1; k <= c.runs; ++k) {
    io.restart();
    io.poll();
    if (stop) {
      log_line("calibrate: interrupted; no further runs");
      worst = std::max(worst, 130);
      break;
    }
    log_line(fmt::format("calibrate: run {} of {} -> {}", k, c.runs, dir_of(k).string()));
    auto config = k == 1 ? std::move(first) : make_run_config(a, g, dir_of(k));
    int code = execute_run(std::move(config), a, g, io, true);
    worst = std::max(worst, code);
    if (fs::exists(dir_of(k) / "results.json"))
      finished.push_back(dir_of(k));
    if (stop || code == 130) {
      log_line(fmt::format("calibrate: interrupted during run {}; no further runs", k));
      worst = std::max(worst, 130);
      break;
    }
  }
  signals.cancel();
  io.restart();
  io.poll();

  std::vector<boost::json::object> results;
  for (auto& dir : finished) {
    auto r = load_results(dir);
    if (auto* i = r.if_contains("interrupted"); i && i->is_bool() && i->get_bool())
      continue; // an interrupted run is no sample of the between-run noise
    results.push_back(std::move(r));
  }
  std::cout << render_calibration(calibration_rows(results), results.size());
  if (!results.empty())
    std::cout << fmt::format("compare now uses this history as its noise model: {} run(s) of suite {} on {} are in {}",
                             results.size(), calibration_suite(results), calibration_host(results),
                             store_location(a.db, data_dir_of(g)).target)
              << std::endl;
  return worst;
}

// --NAME VALUE for a declared option (not a list), bound to `text` (set to the default),
// with its choices or range checked by CLI11.
CLI::Option* add_declared_option(CLI::App* app, const OptionSpec& spec, std::string& text, const std::string& help) {
  text = spec.default_value;
  auto* option = app->add_option("--" + spec.name, text, help);
  if (!spec.default_value.empty())
    option->capture_default_str();
  if (spec.kind == OptionSpec::Kind::choice)
    option->check(CLI::IsMember(spec.choices));
  if (spec.kind == OptionSpec::Kind::integer)
    option->check(CLI::Range(spec.min, spec.max));
  if (!spec.value_name.empty())
    option->type_name(spec.value_name);
  else if (spec.kind == OptionSpec::Kind::integer)
    option->type_name("INT");
  return option;
}

// The drivers' options (each declared by the drivers that take it, registry.hpp), as
// `run`'s --NAME VALUE.
void add_driver_options(CLI::App* run, RunArgs& a) {
  for (auto& o : declared_options()) {
    auto& spec = o.spec;
    std::string who;
    for (auto& d : o.drivers)
      who += (who.empty() ? "" : ", ") + d;
    auto help = who + ": " + spec.help;
    CLI::Option* option = spec.kind == OptionSpec::Kind::list
                              ? run->add_option("--" + spec.name, a.option_lists[spec.name], help)
                              : add_declared_option(run, spec, a.option_text[spec.name], help);
    a.driver_options.emplace_back(spec.name, option);
  }
}


// `virtbench exec --host URL -- CMD ARG...`: one command on the remote host exactly as a run
// runs its commands there (argv quoted for the remote shell, through one SSH master).
int exec_command(const std::string& host, const std::string& ssh_config, const std::vector<std::string>& argv,
                 const GlobalOptions& g) {
  if (argv.empty())
    throw UsageError("exec: no command given; e.g. virtbench exec --host ssh://root@bench-2 -- uname -a");
  SshSettings settings{parse_ssh_url(host), ssh_config};
  PlatformOptions po;
  po.data_dir = data_dir_of(g);
  std::optional<TempDir> runtime;
  make_runtime_dir(runtime, po, {});
  SshConnection ssh(std::move(settings), runtime->path());
  ssh.open();
  RemoteHost remote(ssh, local_host(), "exec", "");
  for (auto& line : remote.sweep())
    log_line(line);
  ExecRequest request{argv, "", std::chrono::hours(24)};
  auto r = run_sync(remote.exec(std::move(request)));
  std::cout << r.out << std::flush;
  std::cerr << r.err << std::flush;
  return r.exit_code < 0 ? 1 : r.exit_code;
}

void add_run_options(CLI::App* run, RunArgs& run_args) {
  run->add_option("--suite", run_args.suite, "Built-in suite name (quick, coen241-hw1, coen241-hw1-matrix) or a suite .toml file")->capture_default_str();
  std::string known;
  for (auto& name : platform_names())
    known += (known.empty() ? "" : ", ") + name;
  run->add_option("--platform", run_args.platforms, "Comma-separated platforms: " + known)->capture_default_str();
  run->add_option("--iterations", run_args.iterations, "Override every experiment's iteration count")->check(CLI::PositiveNumber);
  run->add_option("--time", run_args.time_s, "Override every experiment's --time (seconds)")->check(CLI::PositiveNumber);
  run->add_option("--target-ci", run_args.target_ci_pct,
                  "Adaptive iterations: after an experiment's planned rounds, add interleaved rounds while a live "
                  "platform's headline metric (events/s, reads/s) has a 95% interval half-width above PCT % of its "
                  "mean; 0 < PCT < 100")
      ->option_text("PCT");
  run->add_option("--max-iterations", run_args.max_iterations,
                  "With --target-ci: at most N measured rounds per experiment, the planned ones included (N >= "
                  "iterations; default 3 × each experiment's iterations)")
      ->option_text("N");
  run->add_option("--matrix", run_args.matrix,
                  "A configuration-matrix axis, PLATFORM.AXIS=V1,V2 (repeatable; replaces the suite's [matrix] axis): "
                  "each combination of a platform's axes is one variant, measured interleaved with the others")
      ->option_text("P.AXIS=V,...");
  run->add_option("--max-live", run_args.max_live,
                  "At most N VMs and containers up at once; the rest run in later batches, each with native (default: "
                  "as many as fit in the host's memory with 2 GiB to spare)")
      ->option_text("N");
  run->add_option("--out", run_args.out, "Results directory (default: virtbench-results/<suite>-<timestamp>)");
  run->add_flag("--force", run_args.force, "Replace the results in an --out DIR that already has some");
  run->add_flag("--yes", run_args.yes, "Run a plan even when it is estimated to take more than a day");
  run->add_flag("--no-drop-caches", run_args.no_drop_caches, "Do not drop the page cache before fileio runs (no root needed)");
  run->add_option("--order", run_args.order, "interleaved: platforms shuffled round by round; grouped: one platform after another")
      ->check(CLI::IsMember({"interleaved", "grouped"}))->capture_default_str();
  run->add_option("--seed", run_args.seed, "Seed for the interleaving shuffle (default: random, recorded in results.json)");
  run->add_option("--sample-interval", run_args.sample_interval_ms, "CPU sampling interval in ms")
      ->check(CLI::Range(10, 60000))->capture_default_str();
  run->add_option("--db", run_args.db, k_db_option_help);
  add_host_options(run, run_args.host, run_args.ssh_config, "Measure on this remote host, driven from here over one SSH connection (native; docker and libvirt: their sockets forwarded; qemu: QEMU started there; the VMs need the guest image there: `virtbench image push --host URL [--pool]`)");
  run->add_option("--remote-data-dir", run_args.remote_data_dir,
                  "With --host: the data directory there that holds the guest image `image push --host` copied "
                  "(default: /var/lib/virtbench as root, else ~/.local/share/virtbench)")
      ->type_name("DIR");
  add_driver_options(run, run_args);
}

} // namespace

void add_host_options(CLI::App* app, std::string& host, std::string& ssh_config, const std::string& help) {
  app->add_option("--host", host, help + "; ssh://[user@]host[:port], your own ssh config, keys and known_hosts "
                                         "(host key checking stays on)")
      ->type_name("ssh://USER@HOST[:PORT]");
  app->add_option("--ssh-config", ssh_config, "With --host: the ssh configuration file to use (ssh -F; default: "
                                              "your own ~/.ssh/config)")
      ->type_name("FILE");
}

void check_remote_data_dir(const std::string& dir) {
  if (!dir.empty() && dir.front() != '/')
    throw UsageError("--remote-data-dir " + dir + ": give an absolute path on the remote host");
}

std::vector<Command> add_run_commands(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<RunArgs>();
  auto& run_args = *args;
  auto* run = app.add_subcommand("run", "Run a suite on one or more platforms; writes DIR/results.json, DIR/report.md and raw outputs");
  add_run_options(run, run_args);

  auto calibrate_args = std::make_shared<CalibrateArgs>();
  auto* calibrate = app.add_subcommand(
      "calibrate",
      "A/A runs: the same run N times on purpose (each a full run in OUT/run-K, recorded in the history like `run`), "
      "to measure this host's between-run noise; prints per experiment and platform the mean of the run means, the "
      "between-run CV and, for virtualized platforms, the between-run CV of the ratio to native. compare uses that "
      "history as its noise model. Takes every option of `run`; Ctrl-C ends the current run (kept) and starts no "
      "other. Exit code: 0 when every run succeeded, else the worst run's");
  add_run_options(calibrate, calibrate_args->run);
  calibrate->add_option("--runs", calibrate_args->runs, "How many A/A runs")->check(CLI::Range(2, 1000))->capture_default_str();
  calibrate->get_option("--out")->description(
      "Directory of the runs, each in OUT/run-K (default: virtbench-results/calibrate-<suite>-<timestamp>)");

  struct ExecArgs {
    std::string host, ssh_config;
    std::vector<std::string> argv;
  };
  auto exec_args = std::make_shared<ExecArgs>();
  auto* exec = app.add_subcommand("exec", "Run one command on a remote --host exactly as a run runs its commands "
                                          "there (every argument quoted for the remote shell, one SSH connection); "
                                          "prints its output and exits with its exit code");
  add_host_options(exec, exec_args->host, exec_args->ssh_config, "The remote host");
  exec->get_option("--host")->required();
  exec->add_option("COMMAND", exec_args->argv, "The command and its arguments (after --)")->required();

  auto* suites = app.add_subcommand("suites", "List the built-in suites, or print one's TOML (a starting point for your own)");
  auto suite_name = std::make_shared<std::string>();
  suites->add_option("NAME", *suite_name, "Print this built-in suite's TOML");

  return {
      {run, [args, &global] { return run_command(*args, global); }},
      {calibrate, [calibrate_args, &global] { return calibrate_command(*calibrate_args, global); }},
      {exec, [exec_args, &global] { return exec_command(exec_args->host, exec_args->ssh_config, exec_args->argv, global); }},
      {suites,
       [suite_name] {
         if (suite_name->empty()) {
           for (auto& n : builtin_suite_names())
             std::cout << n << "\n";
           return 0;
         }
         auto* text = builtin_suite_text(*suite_name);
         if (!text)
           throw UsageError("no built-in suite \"" + *suite_name + "\"; run `virtbench suites` for the list");
         std::cout << text;
         return 0;
       }},
  };
}

namespace {

// A shared driver command, run with the host it acts on (nullptr: this one) and, for a
// remote host, a private runtime directory for its forwarded sockets.
using SharedCommand = std::function<int(HostServices* remote, const fs::path& runtime_dir)>;

std::map<std::vector<std::string>, SharedCommand>& shared_driver_commands() {
  static std::map<std::vector<std::string>, SharedCommand> k_commands;
  return k_commands;
}

} // namespace

std::optional<int> run_driver_command(const std::vector<std::string>& path, HostServices* remote,
                                      const fs::path& runtime_dir) {
  auto it = shared_driver_commands().find(path);
  if (it == shared_driver_commands().end())
    return std::nullopt;
  return it->second(remote, runtime_dir);
}

// The commands drivers add (registry.hpp): `image push` (libvirt).
std::vector<Command> add_driver_commands(CLI::App& app, GlobalOptions& global) {
  std::vector<Command> commands;
  for (auto* d : drivers())
    for (auto& command : d->commands) {
      CLI::App* parent = &app;
      for (std::size_t i = 0; i + 1 < command.path.size(); ++i)
        parent = parent->get_subcommand(command.path[i]); // throws for a path no command has: a bug
      CLI::App* sub = nullptr;
      for (auto* existing : parent->get_subcommands({}))
        if (existing->get_name() == command.path.back())
          sub = existing;
      bool shared = sub != nullptr; // made by a core family, which runs it (run_driver_command)
      if (shared) {
        auto help = command.help;
        if (!help.empty())
          help[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(help[0])));
        sub->description(sub->get_description() + "; without --host: " + help);
      } else {
        sub = parent->add_subcommand(command.path.back(), command.help);
      }
      struct Given {
        std::map<std::string, std::string> text;
        std::map<std::string, bool> flags;
        std::string host, ssh_config; // command.takes_host
      };
      auto given = std::make_shared<Given>();
      for (auto& spec : command.options)
        add_declared_option(sub, spec, given->text[spec.name], spec.help);
      for (auto& flag : command.flags) {
        auto help = command.flag_help.contains(flag) ? command.flag_help.at(flag) : std::string();
        sub->add_flag("--" + flag, given->flags[flag], help);
      }
      if (shared) {
        // The core's command has --host and runs this one with its connection.
        shared_driver_commands()[command.path] = [given, run = command.run, &global](HostServices* remote,
                                                                                    const fs::path& runtime_dir) {
          OptionValues values;
          for (auto& [name, text] : given->text)
            values.set(name, text);
          DriverContext ctx{data_dir_of(global), remote ? remote : &host_services(), log_line, runtime_dir};
          return run(ctx, values, given->flags);
        };
        continue;
      }
      if (command.takes_host)
        add_host_options(sub, given->host, given->ssh_config, "On this remote host, over one SSH connection");
      commands.push_back({sub, [given, run = command.run, &global] {
                            OptionValues values;
                            for (auto& [name, text] : given->text)
                              values.set(name, text);
                            DriverContext ctx{data_dir_of(global), &host_services(), log_line, {}};
                            if (given->host.empty())
                              return run(ctx, values, given->flags);
                            // As `exec --host`: one master in a private runtime directory, closed on return.
                            SshSettings settings{parse_ssh_url(given->host), given->ssh_config};
                            PlatformOptions po;
                            po.data_dir = ctx.data_dir;
                            std::optional<TempDir> runtime;
                            make_runtime_dir(runtime, po, {});
                            SshConnection ssh(std::move(settings), runtime->path());
                            ssh.open();
                            RemoteHost remote(ssh, local_host(), "command", "");
                            ctx.host = &remote;
                            ctx.runtime_dir = runtime->path();
                            int code = run(ctx, values, given->flags);
                            if (auto problem = remote.close(); !problem.empty())
                              log_line("warning: " + problem);
                            return code;
                          }});
    }
  return commands;
}

int cli_main(int argc, char** argv) {
  // A reader that goes away (`virtbench run ... 2>&1 | head`) must not end virtbench by
  // SIGPIPE before it has stopped its VMs, containers and private engine: the write fails
  // instead (std::cerr then drops what follows) and the run finishes and cleans up. The
  // children get the default back (util/child.hpp, the private dockerd's fork).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"virtbench: measures what virtualization costs, running the same sysbench workloads natively, "
               "in a Docker container and in a QEMU virtual machine, and reporting them side by side.\n"};
  app.set_version_flag("--version", std::string(version()));
  app.require_subcommand(1);
  GlobalOptions global;
  global.argv.assign(argv, argv + argc);
  app.add_option("--data-dir", global.data_dir,
                 "Where images and history live (default: /var/lib/virtbench as root, else $XDG_DATA_HOME/virtbench)");

  std::vector<Command> commands;
  for (auto* family : {add_run_commands, add_image_commands, add_report_commands, add_history_commands, add_driver_commands}) {
    auto added = family(app, global);
    commands.insert(commands.end(), added.begin(), added.end());
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "virtbench: " << e.what() << "\nRun `virtbench --help` or `virtbench <command> --help`." << std::endl;
    return 2;
  }

  try {
    for (auto& command : commands)
      if (command.subcommand->parsed())
        return command.run();
  } catch (const UsageError& e) {
    std::cerr << "virtbench: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "virtbench: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}

} // namespace virtbench
