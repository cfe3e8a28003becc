// The runner: its pure parts (cache-drop verification, the run record) on values and
// real recorded records, and whole runs on scripted fake platforms (fake_platform.hpp):
// exit codes, stop() once per platform, freeze/thaw discipline, records, Ctrl-C.
#include "fake_platform.hpp"
#include "results.hpp"
#include "runner.hpp"
#include "runner_step.hpp"
#include "suite.hpp"
#include "sysbench.hpp"
#include "test_util.hpp"
#include "util/fs.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <tuple>

using namespace virtbench;
using namespace virtbench::test;

namespace {

// A cpu experiment (1 warm-up by default, 2 iterations) and a fileio one (2 iterations).
const char* const k_suite = R"(name = "tiny"
iterations = 2
[[experiment]]
name = "c"
workload = "cpu"
cpu-max-prime = 2000
time = 1
[[experiment]]
name = "f"
workload = "fileio"
file-total-size = "16M"
file-test-mode = "rndrw"
time = 1
)";

const std::vector<std::string> k_platforms = {"native", "docker", "qemu"};

struct FakeRun {
  int exit_code = -1;
  boost::json::object doc;
  std::shared_ptr<Journal> journal = std::make_shared<Journal>();
  std::vector<std::string> log;
  double wall_s = 0;
};

// qemu has a guest view by default, as the real one does.
std::map<std::string, FakeScript> default_scripts() {
  std::map<std::string, FakeScript> s;
  s["qemu"].guest_view = true;
  s["qemu"].drops = {CacheDrop{"guest", 500000, 20000, true, std::nullopt},
                     CacheDrop{"host", 800000, 100000, false, std::nullopt}};
  for (auto& name : k_platforms)
    s[name].run_delay = std::chrono::milliseconds(30); // the samplers see some time pass
  return s;
}

RunConfig fake_config(const std::filesystem::path& out, std::shared_ptr<Journal> journal,
                      std::map<std::string, FakeScript> scripts, std::vector<std::string>& log,
                      const char* suite = k_suite) {
  RunConfig config;
  config.suite = parse_suite(suite, "tiny.toml");
  config.platforms = k_platforms;
  config.out_dir = out;
  config.seed = 7;
  config.sample_interval = std::chrono::milliseconds(10);
  config.platform_options.log = [&log](const std::string& line) { log.push_back(line); };
  config.make_platform = fake_factory(std::move(journal), std::move(scripts));
  return config;
}

FakeRun run_fakes(std::map<std::string, FakeScript> scripts, const char* suite = k_suite) {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-runner-");
  FakeRun r;
  auto config = fake_config(dir.path() / "out", r.journal, std::move(scripts), r.log, suite);
  auto t0 = std::chrono::steady_clock::now();
  r.exit_code = run_sync(run_suite(std::move(config)));
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.doc = load_results(dir.path() / "out");
  return r;
}

std::vector<boost::json::object> runs_of(const FakeRun& r, const std::string& platform) {
  std::vector<boost::json::object> out;
  for (auto& v : r.doc.at("runs").as_array())
    if (v.as_object().at("platform").as_string() == platform)
      out.push_back(v.as_object());
  return out;
}

const boost::json::object* platform_entry(const FakeRun& r, const std::string& name) {
  for (auto& v : r.doc.at("platforms").as_array())
    if (v.as_object().at("name").as_string() == name)
      return &v.as_object();
  return nullptr;
}

// stop() exactly once for every platform the factory made, and every configured one made once.
void check_stopped_once(const FakeRun& r) {
  CHECK(r.journal->created == k_platforms);
  for (auto& name : r.journal->created) {
    INFO("platform ", name);
    CHECK(r.journal->count(name, "stop") == 1);
    // stop is the platform's last call
    std::string last;
    for (auto& c : r.journal->calls)
      if (c.platform == name)
        last = c.what;
    CHECK(last == "stop");
  }
}

// The interleaved design's rule: a platform is thawed (or, before its first freeze, just
// started) whenever it is used, and every other live platform is frozen then; each one's
// freezes and thaws alternate, starting with a freeze after its start. `doomed`: platforms
// scripted to fail (their start, or lost mid-run), exempt once they are never used again.
void check_freeze_discipline(const FakeRun& r, const std::set<std::string>& doomed = {}) {
  const auto& calls = r.journal->calls;
  std::map<std::string, std::string> state; // "started", "frozen", "thawed"
  auto used_after = [&](const std::string& name, std::size_t i) {
    for (std::size_t j = i + 1; j < calls.size(); ++j)
      if (calls[j].platform == name && calls[j].what != "stop")
        return true;
    return false;
  };
  for (std::size_t i = 0; i < calls.size(); ++i) {
    auto& c = calls[i];
    INFO("call ", i, ": ", c.platform, " ", c.what);
    if (c.what == "start") {
      CHECK(state[c.platform].empty());
      state[c.platform] = "started";
    } else if (c.what == "freeze") {
      CHECK(state[c.platform] != "frozen");
      state[c.platform] = "frozen";
    } else if (c.what == "thaw") {
      CHECK(state[c.platform] == "frozen");
      state[c.platform] = "thawed";
    } else if (c.what.starts_with("exec")) {
      CHECK(state[c.platform] == "thawed");
      for (auto& [other, s] : state) {
        if (other == c.platform || (doomed.contains(other) && !used_after(other, i)))
          continue;
        INFO("other platform ", other);
        CHECK(s == "frozen");
      }
    }
  }
}

// Each (platform, experiment, iteration, warm-up) at most once in "runs".
void check_no_duplicates(const FakeRun& r) {
  std::set<std::tuple<std::string, std::string, std::int64_t, std::int64_t>> seen;
  for (auto& v : r.doc.at("runs").as_array()) {
    auto& run = v.as_object();
    auto warmup = run.contains("warmup") ? run.at("warmup").to_number<std::int64_t>() : 0;
    auto key = std::make_tuple(std::string(run.at("platform").as_string()), std::string(run.at("experiment").as_string()),
                               run.at("iteration").to_number<std::int64_t>(), warmup);
    INFO("run ", std::get<0>(key), " ", std::get<1>(key), " ", std::get<2>(key), " warm-up ", warmup);
    CHECK(seen.insert(key).second);
  }
}

// Measured iterations (no warm-up, no error) of `experiment` on `platform`, in record order.
std::vector<std::int64_t> good_iterations(const FakeRun& r, const std::string& platform, const std::string& experiment) {
  std::vector<std::int64_t> out;
  for (auto& run : runs_of(r, platform))
    if (run.at("experiment").as_string() == experiment && !run.contains("warmup") && !run.contains("error"))
      out.push_back(run.at("iteration").to_number<std::int64_t>());
  return out;
}

// Both experiments' measured iterations 1 and 2 recorded on each of `platforms`, none failed.
void check_finished(const FakeRun& r, const std::vector<std::string>& platforms) {
  for (auto& name : platforms) {
    INFO("platform ", name);
    CHECK(good_iterations(r, name, "c") == std::vector<std::int64_t>{1, 2});
    CHECK(good_iterations(r, name, "f") == std::vector<std::int64_t>{1, 2});
  }
}

// Runs fakes one of which raises SIGINT, and checks what every interrupted run must be:
// exit 130, "interrupted", the runner's signal_set took the signal, the fake's 20 s wait
// was cancelled, every platform stopped once.
FakeRun run_interrupted(std::map<std::string, FakeScript> scripts) {
  auto r = run_fakes(std::move(scripts));
  CHECK(r.exit_code == 130);
  CHECK(r.doc.at("interrupted") == true);
  CHECK(std::count(r.log.begin(), r.log.end(), "received SIGINT (Ctrl-C)") == 1);
  CHECK(r.wall_s < 10);
  check_stopped_once(r);
  return r;
}

double recorded_metric(const char* file, Workload w, const char* key) {
  return metrics_to_json(parse_sysbench_output(data_file(file), w)).at(key).to_number<double>();
}

} // namespace

TEST_CASE("fincore's argv names every fileio file and its RES column is summed") {
  auto suite = parse_suite("name = \"t\"\n[[experiment]]\nname = \"f\"\nworkload = \"fileio\"\nfile-num = 3\n", "t.toml");
  auto argv = fincore_argv(suite.experiments[0]);
  CHECK(argv == std::vector<std::string>{"fincore", "--bytes", "--noheadings", "--raw", "--output", "RES", "test_file.0",
                                         "test_file.1", "test_file.2"});
  CHECK(fileio_files(parse_suite(k_suite, "t").experiments[1]).size() == 128); // sysbench's default
  CHECK(sum_fincore_bytes("4096\n0\n8192\n") == 12288);
  CHECK(sum_fincore_bytes("") == 0);
  CHECK_THROWS(sum_fincore_bytes("fincore: cannot open test_file.0\n"));
}

TEST_CASE("a drop verifies when at most 1% (at least 64 KiB) of the data set stays cached") {
  std::uint64_t data = 100ull << 20; // 102400 KiB: the limit is 1024 KiB
  std::vector<CacheDrop> host{CacheDrop{"host", 500, 100, true, std::nullopt}};
  auto ok = verify_drops(host, 1024, false, data);
  CHECK(ok.warnings.empty());
  CHECK(serialize(ok.drops) ==
        R"([{"where":"host","cached_before_kib":500,"cached_after_kib":100,"resident_after_kib":1024,"verified":true}])");
  auto bad = verify_drops(host, 1025, false, data);
  CHECK(bad.drops[0].as_object().at("verified") == false);
  REQUIRE(bad.warnings.size() == 1);
  CHECK(bad.warnings[0] == "host: 1025 KiB of the 102400 KiB data set still cached after the drop");
  // A small data set: 64 KiB may stay.
  CHECK(verify_drops(host, 64, false, 1 << 20).warnings.empty());
  CHECK(verify_drops(host, 65, false, 1 << 20).warnings.size() == 1);
}

TEST_CASE("a guest view judges the guest's cache by fincore, the host's by what the platform measured") {
  std::uint64_t data = 100ull << 20;
  std::vector<CacheDrop> drops{CacheDrop{"guest", 10, 5, true, std::nullopt}, CacheDrop{"host", 20, 6, true, 4096}};
  auto check = verify_drops(drops, 3, true, data);
  auto& guest = check.drops[0].as_object();
  auto& host = check.drops[1].as_object();
  CHECK(guest.at("resident_after_kib") == 3);
  CHECK(guest.at("verified") == true);
  CHECK(host.at("resident_after_kib") == 4096); // the platform's own figure, not fincore's
  CHECK(host.at("verified") == false);
  CHECK(check.warnings == std::vector<std::string>{"host: 4096 KiB of the 102400 KiB data set still cached after the drop"});
  // A cache that cannot hold the data set (cache=none) and one nobody measured: recorded, not judged.
  std::vector<CacheDrop> other{CacheDrop{"host", 20, 6, false, 999999}, CacheDrop{"host", 20, 6, true, std::nullopt}};
  auto unjudged = verify_drops(other, 999999, true, data);
  CHECK(serialize(unjudged.drops) == R"([{"where":"host","cached_before_kib":20,"cached_after_kib":6,"holds_data_set":false},)"
                                     R"({"where":"host","cached_before_kib":20,"cached_after_kib":6}])");
  CHECK(unjudged.warnings.empty());
}

TEST_CASE("step_record rebuilds real recorded run records byte for byte") {
  auto doc = boost::json::parse(data_file("results/native-a/results.json")).as_object();
  int rebuilt = 0;
  for (auto& v : doc.at("runs").as_array()) {
    auto& run = v.as_object();
    StepOutcome o;
    o.step.iteration = static_cast<int>(run.at("iteration").to_number<std::int64_t>());
    o.step.round = static_cast<int>(run.at("round").to_number<std::int64_t>());
    if (auto* w = run.if_contains("warmup"))
      o.step.warmup = static_cast<int>(w->to_number<std::int64_t>());
    o.platform = run.at("platform").as_string();
    o.experiment = run.at("experiment").as_string();
    o.started_at = run.at("started_at").as_string();
    o.prepared = run.contains("prepared");
    if (auto* drops = run.if_contains("cache_drops")) {
      o.drops.emplace();
      o.drops->drops = drops->as_array();
      if (auto* w = run.if_contains("cache_drop_warning"))
        o.drops->warnings.push_back(std::string(w->as_string()));
    }
    auto& m = o.measured.emplace();
    m.raw = run.at("raw").as_string();
    m.result.exit_code = static_cast<int>(run.at("exit_code").to_number<std::int64_t>());
    m.result.wall_s = run.at("wall_s").to_number<double>();
    auto& cpu = run.at("cpu").as_object();
    auto& h = cpu.at("host").as_object();
    m.host_split = CpuSplit{h.at("user_pct").to_number<double>(),  h.at("kernel_pct").to_number<double>(),
                            h.at("iowait_pct").to_number<double>(), h.at("steal_pct").to_number<double>(),
                            h.at("guest_pct").to_number<double>(),  h.at("idle_pct").to_number<double>()};
    auto& pp = cpu.at("platform_process").as_object();
    m.result.process_cpu = CpuSeconds{pp.at("user_s").to_number<double>(), pp.at("kernel_s").to_number<double>()};
    m.host_samples = cpu.at("samples").to_number<std::size_t>();
    if (auto* metrics = run.if_contains("metrics"))
      o.metrics = metrics->as_object();
    if (auto* e = run.if_contains("error"))
      o.error = std::string(e->as_string());
    INFO(serialize(run));
    CHECK(serialize(step_record(o)) == serialize(run));
    ++rebuilt;
  }
  CHECK(rebuilt > 10);
}

TEST_CASE("a record has what the step got to, in results.json's order") {
  StepOutcome o;
  o.step = Step{1, 2, 3, 0, 2};
  o.platform = "qemu";
  o.experiment = "f";
  o.started_at = "2026-12-01T00:00:00.000Z";
  o.prepared = true;
  o.error = "sysbench fileio ... prepare on qemu: exit code 1";
  // Failed in prepare: head, prepared, error only.
  CHECK(serialize(step_record(o)) == R"({"platform":"qemu","experiment":"f","iteration":0,"round":3,)"
                                     R"("started_at":"2026-12-01T00:00:00.000Z","warmup":2,"prepared":true,)"
                                     R"("error":"sysbench fileio ... prepare on qemu: exit code 1"})");
  // Measured with accounting, a guest split, frozen platforms and a sampler error; then failed.
  o.drops = verify_drops({CacheDrop{"guest", 9, 8, true, std::nullopt}}, 1000, true, 1 << 20);
  auto& m = o.measured.emplace();
  m.raw = "raw/qemu/f/warmup-2.txt";
  m.result.exit_code = 2;
  m.result.wall_s = 1.23456;
  m.result.process_cpu = CpuSeconds{9, 9}; // the accounting's delta wins
  m.accounting_before = CpuSeconds{1.0, 0.5};
  m.accounting_after = CpuSeconds{1.75, 0.625};
  m.measured_s = 2;
  m.frozen_before = {{"native", CpuSeconds{1, 1}}, {"docker", CpuSeconds{0, 0}}};
  m.frozen_after = {{"native", CpuSeconds{1.01, 1.01}}}; // docker gone meanwhile: left out
  m.guest_split = CpuSplit{50, 25, 0, 0, 0, 25};
  m.host_samples = 3;
  m.guest_sampler_error = "read /proc/stat: gone";
  CHECK(serialize(step_record(o)) ==
        R"({"platform":"qemu","experiment":"f","iteration":0,"round":3,"started_at":"2026-12-01T00:00:00.000Z",)"
        R"("warmup":2,"prepared":true,)"
        R"("cache_drop_warning":"guest: 1000 KiB of the 1024 KiB data set still cached after the drop",)"
        R"("cache_drops":[{"where":"guest","cached_before_kib":9,"cached_after_kib":8,"resident_after_kib":1000,)"
        R"("verified":false}],"raw":"raw/qemu/f/warmup-2.txt","exit_code":2,"wall_s":1.2346E0,)"
        R"("cpu":{"guest":{"user_pct":5E1,"kernel_pct":2.5E1,"iowait_pct":0E0,"steal_pct":0E0,"guest_pct":0E0,)"
        R"("idle_pct":2.5E1},"platform_process":{"user_s":7.5E-1,"kernel_s":1.25E-1},)"
        R"("frozen_platforms_cpu_pct":{"native":1E0},"samples":3,"guest_sampler_error":"read /proc/stat: gone"},)"
        R"("error":"sysbench fileio ... prepare on qemu: exit code 1"})");
}

TEST_CASE("the preflight asks RunConfig::make_platform, not the registry") {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-runner-");
  auto journal = std::make_shared<Journal>();
  std::vector<std::string> log;
  auto scripts = default_scripts();
  scripts["docker"].fileio_storage = dir.path() / "scratch";
  auto config = fake_config(dir.path() / "out", journal, scripts, log);
  config.platforms = {"native", "docker", "no-such-driver"}; // the registry would refuse this name
  preflight(config, false, [](const std::filesystem::path&) -> std::uint64_t { return 1ull << 40; });
  CHECK(journal->created == config.platforms);
  // 16 MiB needed in the scratch dir's filesystem, 1 MiB free: refused, naming docker's path.
  auto where = "docker in " + (dir.path() / "scratch").string();
  CHECK_THROWS_WITH_AS(preflight(config, false, [](const std::filesystem::path&) -> std::uint64_t { return 1 << 20; }),
                       doctest::Contains(where.c_str()), UsageError);
  CHECK(journal->calls.empty()); // nothing started
}

TEST_CASE("consecutive fileio experiments that write the same files share one data set") {
  // f1 and f2 differ only in the I/O mode: f2 takes f1's files over. f3's are bigger: f2's
  // go after its last run, and f3 writes its own.
  const char* suite = R"(name = "shared"
iterations = 2
[[experiment]]
name = "f1"
workload = "fileio"
file-total-size = "16M"
file-test-mode = "rndrw"
time = 1
[[experiment]]
name = "f2"
workload = "fileio"
file-total-size = "16M"
file-test-mode = "rndrw"
file-io-mode = "async"
time = 1
[[experiment]]
name = "f3"
workload = "fileio"
file-total-size = "32M"
file-test-mode = "rndrw"
time = 1
)";
  auto r = run_fakes(default_scripts(), suite);
  CHECK(r.exit_code == 0);
  check_stopped_once(r);
  for (auto& name : k_platforms) {
    INFO("platform ", name);
    std::vector<std::string> phases;
    for (auto& c : r.journal->calls)
      if (c.platform == name && c.what.starts_with("exec sysbench fileio"))
        phases.push_back(c.what.substr(c.what.find("--file-")));
    std::string joined;
    for (auto& ph : phases)
      joined += ph + "\n";
    CHECK(joined == "--file-test-mode=rndrw --file-total-size=16M --time=1 prepare\n"
                    "--file-test-mode=rndrw --file-total-size=16M --time=1 run\n"
                    "--file-test-mode=rndrw --file-total-size=16M --time=1 run\n"
                    "--file-io-mode=async --file-test-mode=rndrw --file-total-size=16M --time=1 run\n"
                    "--file-io-mode=async --file-test-mode=rndrw --file-total-size=16M --time=1 run\n"
                    "--file-io-mode=async --file-test-mode=rndrw --file-total-size=16M --time=1 cleanup\n"
                    "--file-test-mode=rndrw --file-total-size=32M --time=1 prepare\n"
                    "--file-test-mode=rndrw --file-total-size=32M --time=1 run\n"
                    "--file-test-mode=rndrw --file-total-size=32M --time=1 run\n"
                    "--file-test-mode=rndrw --file-total-size=32M --time=1 cleanup\n");
    std::map<std::string, std::vector<std::string>> marks;
    for (auto& run : runs_of(r, name)) {
      auto e = std::string(run.at("experiment").as_string());
      marks[e].push_back(run.contains("prepared")        ? "prepared"
                         : run.contains("data_set_from") ? "from " + std::string(run.at("data_set_from").as_string())
                                                         : "-");
    }
    CHECK(marks["f1"] == std::vector<std::string>{"prepared", "-"});
    CHECK(marks["f2"] == std::vector<std::string>{"from f1", "-"});
    CHECK(marks["f3"] == std::vector<std::string>{"prepared", "-"});
  }
}

TEST_CASE("a run on three fine fakes records every step once and exits 0") {
  auto r = run_fakes(default_scripts());
  CHECK(r.exit_code == 0);
  CHECK(r.doc.at("interrupted") == false);
  check_stopped_once(r);
  check_freeze_discipline(r);
  check_no_duplicates(r);
  auto suite = parse_suite(k_suite, "t");
  std::size_t per_platform = 0;
  for (auto& e : suite.experiments)
    per_platform += static_cast<std::size_t>(e.warmup + e.iterations);
  CHECK(r.doc.at("runs").as_array().size() == per_platform * k_platforms.size());
  auto cpu_eps = recorded_metric("sysbench/1.0.20/cpu-max-prime-2000.txt", Workload::cpu, "events_per_sec");
  auto fileio_read = recorded_metric("sysbench/1.0.20/fileio-rndrw-sync.txt", Workload::fileio, "read_mib_s");
  check_finished(r, k_platforms);
  for (auto& name : k_platforms) {
    INFO("platform ", name);
    REQUIRE(platform_entry(r, name));
    CHECK(platform_entry(r, name)->at("fake") == true);
    CHECK(platform_entry(r, name)->contains("channel_overhead"));
    CHECK_FALSE(platform_entry(r, name)->contains("error"));
    // The data set: prepared once before the first fileio step, removed once after the last.
    CHECK(r.journal->count(name, "exec sysbench fileio") == 4); // prepare, run, run, cleanup
    std::vector<std::string> fileio_phases;
    for (auto& c : r.journal->calls)
      if (c.platform == name && c.what.starts_with("exec sysbench fileio"))
        fileio_phases.push_back(c.what.substr(c.what.rfind(' ') + 1));
    CHECK(fileio_phases == std::vector<std::string>{"prepare", "run", "run", "cleanup"});
    CHECK(r.journal->count(name, "drop_caches") == 2);
    bool first_fileio = true;
    for (auto& run : runs_of(r, name)) {
      CHECK(std::filesystem::path(std::string(run.at("raw").as_string())).parent_path() ==
            std::filesystem::path("raw") / name / std::string(run.at("experiment").as_string()));
      if (run.at("experiment") == "c") {
        CHECK(run.at("metrics").at("events_per_sec").to_number<double>() == cpu_eps);
        CHECK_FALSE(run.contains("cache_drops"));
        continue;
      }
      CHECK(run.at("metrics").at("read_mib_s").to_number<double>() == fileio_read);
      CHECK(run.contains("prepared") == first_fileio);
      first_fileio = false;
      auto& drops = run.at("cache_drops").as_array();
      CHECK(drops.size() == (name == "qemu" ? 2u : 1u));
      CHECK(drops[0].at("verified") == true);
      CHECK(drops[0].at("resident_after_kib") == 0);
      CHECK_FALSE(run.contains("cache_drop_warning"));
      CHECK(run.at("cpu").as_object().contains("guest") == (name == "qemu"));
    }
  }
  // Every live platform ends frozen before it is stopped.
  std::map<std::string, std::string> last_state;
  for (auto& c : r.journal->calls)
    if (c.what == "freeze" || c.what == "thaw")
      last_state[c.platform] = c.what;
  for (auto& name : k_platforms)
    CHECK(last_state[name] == "freeze");
}

TEST_CASE("a platform that fails to start fails alone: exit 1, the others finish, it is still stopped") {
  auto scripts = default_scripts();
  scripts["docker"].start_error = "start docker: no engine answers (scripted)";
  auto r = run_fakes(scripts);
  CHECK(r.exit_code == 1);
  check_stopped_once(r);
  check_freeze_discipline(r, {"docker"});
  check_no_duplicates(r);
  CHECK(runs_of(r, "docker").empty());
  REQUIRE(platform_entry(r, "docker"));
  CHECK(std::string(platform_entry(r, "docker")->at("error").as_string()).find("no engine answers (scripted)") !=
        std::string::npos);
  CHECK(r.journal->count("docker", "exec") == 0);
  CHECK(r.journal->count("docker", "freeze") + r.journal->count("docker", "thaw") == 0);
  check_finished(r, {"native", "qemu"});
}

TEST_CASE("a platform lost mid-run skips its remaining iterations, the others finish: exit 1") {
  auto scripts = default_scripts();
  // qemu's second cpu run is iteration 1 (after the warm-up).
  scripts["qemu"].lost_at = CallMatch{"exec sysbench cpu", 2};
  auto r = run_fakes(scripts);
  CHECK(r.exit_code == 1);
  check_stopped_once(r);
  check_freeze_discipline(r, {"qemu"});
  check_no_duplicates(r);
  auto qemu = runs_of(r, "qemu");
  REQUIRE(qemu.size() == 2);
  CHECK(qemu[0].contains("warmup"));
  CHECK_FALSE(qemu[0].contains("error"));
  CHECK(qemu[1].at("iteration") == 1);
  CHECK(std::string(qemu[1].at("error").as_string()).find("the fake is gone") != std::string::npos);
  CHECK(r.journal->count("qemu", "exec sysbench") == 2); // nothing after the loss
  REQUIRE(platform_entry(r, "qemu"));
  CHECK(platform_entry(r, "qemu")->contains("error"));
  check_finished(r, {"native", "docker"});
}

TEST_CASE("a failed iteration is recorded and the platform goes on") {
  auto scripts = default_scripts();
  scripts["native"].run_exit_code = 3;
  auto r = run_fakes(scripts);
  CHECK(r.exit_code == 1);
  check_stopped_once(r);
  check_freeze_discipline(r);
  check_no_duplicates(r);
  auto native = runs_of(r, "native");
  CHECK(native.size() == 5); // every step ran, each failed
  for (auto& run : native) {
    CHECK(run.at("exit_code") == 3);
    CHECK(std::string(run.at("error").as_string()).find("exited with code 3") != std::string::npos);
    CHECK_FALSE(run.contains("metrics"));
  }
  CHECK_FALSE(platform_entry(r, "native")->contains("error"));
  // The data set stays prepared (the run failed, not the prepare): no second prepare, and
  // the last step's failure leaves it where it is (cleanup is part of a successful step).
  CHECK(r.journal->count("native", "exec sysbench fileio") == 3);
  CHECK(good_iterations(r, "docker", "f") == std::vector<std::int64_t>{1, 2});
}

TEST_CASE("a drop that does not verify is a warning on the record, not a failure") {
  auto scripts = default_scripts();
  scripts["native"].resident_bytes_per_file = 64 * 1024; // 128 files: 8 MiB of the 16 MiB data set stay
  auto r = run_fakes(scripts);
  CHECK(r.exit_code == 0);
  check_stopped_once(r);
  int checked = 0;
  for (auto& run : runs_of(r, "native")) {
    if (run.at("experiment") != "f")
      continue;
    auto& drop = run.at("cache_drops").as_array()[0].as_object();
    CHECK(drop.at("resident_after_kib") == 128 * 64);
    CHECK(drop.at("verified") == false);
    CHECK(run.at("cache_drop_warning") == "host: 8192 KiB of the 16384 KiB data set still cached after the drop");
    CHECK(run.contains("metrics"));
    ++checked;
  }
  CHECK(checked == 2);
  int warnings = 0;
  for (auto& line : r.log)
    warnings += line == "warning: native host: 8192 KiB of the 16384 KiB data set still cached after the drop";
  CHECK(warnings == 2);
  for (auto& run : runs_of(r, "docker"))
    CHECK_FALSE(run.contains("cache_drop_warning"));
}

TEST_CASE("Ctrl-C at a step keeps what finished, stops every platform once: exit 130") {
  auto scripts = default_scripts();
  // docker's second cpu run: its iteration 1, in round 2.
  scripts["docker"].interrupt_at = CallMatch{"exec sysbench cpu", 2};
  auto r = run_interrupted(scripts);
  check_freeze_discipline(r);
  check_no_duplicates(r);
  // Every sysbench run that returned is recorded, the interrupted one is not; none failed.
  std::size_t returned = 0;
  for (auto& name : k_platforms)
    returned += static_cast<std::size_t>(r.journal->count(name, "exec sysbench cpu"));
  auto& runs = r.doc.at("runs").as_array();
  CHECK(runs.size() == returned - 1);
  CHECK(runs.size() >= 3); // round 1 at least
  for (auto& v : runs)
    CHECK_FALSE(v.as_object().contains("error"));
  CHECK(runs_of(r, "docker").size() == 1); // its warm-up
  // Nothing ran after the interrupted call but the teardown.
  auto& calls = r.journal->calls;
  auto interrupted = std::find_if(calls.rbegin(), calls.rend(), [](const FakeCall& c) {
    return c.platform == "docker" && c.what.starts_with("exec sysbench cpu");
  });
  REQUIRE(interrupted != calls.rend());
  for (auto it = calls.rbegin(); it != interrupted; ++it)
    CHECK(it->what == "stop");
}

TEST_CASE("Ctrl-C during a slow start: nothing measured, every platform stopped once: exit 130") {
  auto scripts = default_scripts();
  scripts["qemu"].start_delay = std::chrono::seconds(20);
  scripts["native"].interrupt_at = CallMatch{"start", 1};
  auto r = run_interrupted(scripts);
  CHECK(r.doc.at("runs").as_array().empty());
  for (auto& name : k_platforms)
    CHECK(r.journal->count(name, "exec") == 0);
}

TEST_CASE("Ctrl-C in a fileio step's cache drop keeps the finished cpu steps: exit 130") {
  auto scripts = default_scripts();
  scripts["native"].interrupt_at = CallMatch{"drop_caches", 1};
  auto r = run_interrupted(scripts);
  check_freeze_discipline(r);
  check_no_duplicates(r);
  // Every cpu step finished (fileio comes after cpu), no fileio record from native.
  for (auto& name : k_platforms)
    CHECK(good_iterations(r, name, "c") == std::vector<std::int64_t>{1, 2});
  for (auto& run : runs_of(r, "native"))
    CHECK(run.at("experiment") == "c");
}
