// The configuration matrix: axis values (memory sizes), --matrix and [matrix] parsing with
// their errors, variant names, cross products and points, batches (form_batches,
// plan_batched_steps, a whole batched run on fakes), the preflight's refusals, and
// compare/history keying on variant parameters.
#include "compare.hpp"
#include "history.hpp"
#include "fake_platform.hpp"
#include "matrix.hpp"
#include "registry.hpp"
#include "report.hpp"
#include "report_doc.hpp"
#include "report_model.hpp"
#include "results.hpp"
#include "runner.hpp"
#include "suite.hpp"
#include "test_util.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <map>
#include <set>

using namespace virtbench;
using namespace virtbench::test;

namespace {

const char* const k_experiments = R"(
[[experiment]]
name = "c"
workload = "cpu"
cpu-max-prime = 2000
time = 1
warmup = 0
[[experiment]]
name = "f"
workload = "fileio"
file-total-size = "16M"
file-test-mode = "rndrw"
time = 1
)";

std::string suite_error(const std::string& head) {
  try {
    parse_suite("name = \"m\"\niterations = 2\n" + head + k_experiments, "m.toml");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

std::vector<std::string> names_of(const std::vector<Variant>& variants) {
  std::vector<std::string> names;
  for (auto& v : variants)
    names.push_back(v.name);
  return names;
}

const Driver& driver_named(const char* name) {
  auto* d = find_driver(name);
  REQUIRE_MESSAGE(d, "this test needs the ", name, " driver built in (-Dplatforms)");
  return *d;
}

} // namespace

TEST_CASE("memory values: plain MiB and sizes, shown back in their shortest form") {
  CHECK(parse_mebibytes("512") == 512);
  CHECK(parse_mebibytes("512M") == 512);
  CHECK(parse_mebibytes("1G") == 1024);
  CHECK(parse_mebibytes("2GiB") == 2048);
  CHECK(parse_mebibytes("1T") == 1024 * 1024);
  CHECK(parse_mebibytes("2048K") == 2);
  CHECK_FALSE(parse_mebibytes("1000K")); // not whole MiB
  CHECK_FALSE(parse_mebibytes("1.5G"));
  CHECK_FALSE(parse_mebibytes("G"));
  CHECK_FALSE(parse_mebibytes("-1G"));
  auto& memory = *find_option("memory");
  CHECK(memory.spec.mebibytes);
  CHECK(option_problem(memory.spec, "1G").empty());
  CHECK(option_problem(memory.spec, "64M") == "must be from 128 to 1048576 MiB");
  CHECK(option_problem(memory.spec, "lots").starts_with("must be an amount of memory such as 512M, 2G"));
  CHECK(canonical_option_value(memory.spec, "2G") == "2048");
  CHECK(display_option_value(memory.spec, "2048") == "2G");
  CHECK(display_option_value(memory.spec, "1536") == "1536M");
  // set_option keeps the canonical form, so the drivers read MiB.
  auto values = default_option_values();
  set_option(values, "memory", "1G", "--");
  CHECK(values.integer("memory") == 1024);
}

TEST_CASE("--matrix PLATFORM.AXIS=V1,V2") {
  auto a = parse_matrix_arg("qemu.scratch-format=raw,qcow2");
  CHECK(a.platform == "qemu");
  CHECK(a.axis == "scratch-format");
  CHECK(a.values == std::vector<std::string>{"raw", "qcow2"});
  CHECK(a.where == "--matrix ");
  for (auto* bad : {"qemu", "qemu=1", "qemu.vcpus", ".vcpus=1", "qemu.=1", "qemu.vcpus="})
    CHECK_THROWS_WITH_AS(parse_matrix_arg(bad), doctest::Contains("e.g. --matrix qemu.vcpus=1,2"), UsageError);
}

TEST_CASE("a suite's [matrix]: axes with their lines, and errors naming file:line, the platform and the allowed axes") {
  auto s = parse_suite(std::string("name = \"m\"\n[matrix]\nqemu = { vcpus = [1, 2], memory = [\"1G\", 2048] }\n"
                                   "docker = { cpus = [1, 2] }\n") +
                           k_experiments,
                       "m.toml");
  // (TOML tables have no order: the axes come sorted; variant names follow the driver's order.)
  std::map<std::string, MatrixAxis> axes;
  for (auto& a : s.matrix.axes)
    axes[a.platform + "." + a.axis] = a;
  REQUIRE(axes.size() == 3);
  CHECK(axes["qemu.vcpus"].values == std::vector<std::string>{"1", "2"});
  CHECK(axes["qemu.memory"].values == std::vector<std::string>{"1G", "2048"});
  CHECK(axes["docker.cpus"].values == std::vector<std::string>{"1", "2"});
  CHECK(axes["qemu.vcpus"].where == "m.toml:3: [matrix] qemu.");
  CHECK(axes["docker.cpus"].where == "m.toml:4: [matrix] docker.");

  auto unknown = suite_error("[matrix]\nqemu = { cpus = [1, 2] }\n");
  CHECK(unknown.starts_with("m.toml:4: [matrix] unknown axis \"cpus\" of platform qemu; allowed axes of qemu: "));
  CHECK(unknown.find("vcpus (1 to 256)") != std::string::npos);
  CHECK(unknown.find("scratch-format (raw, qcow2)") != std::string::npos);
  CHECK(unknown.find("memory (128M to 1024G, e.g. 512M, 2G)") != std::string::npos);
  CHECK(suite_error("[matrix]\nqemu = { scratch-format = [\"raw\", \"vmdk\"] }\n") ==
        "m.toml:4: [matrix] qemu.scratch-format = vmdk: must be one of raw, qcow2");
  CHECK(suite_error("[matrix]\nqemu = { vcpus = [] }\n").starts_with("m.toml:4: [matrix] qemu.vcpus has no values"));
  CHECK(suite_error("[matrix]\nqemmu = { vcpus = [1] }\n").find("no such platform") != std::string::npos);
  CHECK(suite_error("[matrix]\ndocker = { vcpus = [1] }\n").find("allowed axes of docker: cpus (1 to 256)") !=
        std::string::npos);
  CHECK(suite_error("[matrix]\nnative = { scratch-dir = [\"/a\"] }\n")
            .find("platform native has no matrix axes") != std::string::npos);
  CHECK(suite_error("[[matrix.points]]\nplatform = \"qemu\"\nvcpus = 0\n") ==
        "m.toml:5: [[matrix.points]] vcpus = 0: must be from 1 to 256 (platform qemu)");
  CHECK(suite_error("[[matrix.points]]\nvcpus = 1\n").find(": [[matrix.points]] needs platform = ") != std::string::npos);
  CHECK(suite_error("[matrix]\nqemu = { vcpus = [1, 2] }\n[[matrix.points]]\nplatform = \"qemu\"\nvcpus = 1\n")
            .find("give its variants either as points or as axes, not both") != std::string::npos);
}

TEST_CASE("variants: the cross product in the driver's axis order, named by the axes that vary") {
  auto& qemu = driver_named("qemu");
  Matrix m;
  // Written scratch-format first: the name still follows the driver's order (vcpus first).
  m.axes.push_back({"qemu", "scratch-format", {"raw", "qcow2"}, "m.toml:3: [matrix] qemu."});
  m.axes.push_back({"qemu", "vcpus", {"1", "2"}, "m.toml:3: [matrix] qemu."});
  m.axes.push_back({"qemu", "cache-mode", {"writeback"}, "m.toml:3: [matrix] qemu."}); // one value: set, not named
  auto base = default_option_values();
  auto variants = expand_variants(qemu, m, base);
  CHECK(names_of(variants) == std::vector<std::string>{
                                  "qemu[vcpus=1,scratch-format=raw]", "qemu[vcpus=1,scratch-format=qcow2]",
                                  "qemu[vcpus=2,scratch-format=raw]", "qemu[vcpus=2,scratch-format=qcow2]"});
  CHECK(variants[1].values.text("scratch-format") == "qcow2");
  CHECK(variants[1].values.integer("vcpus") == 1);
  CHECK(variants[1].values.text("cache-mode") == "writeback");
  // The default variant has the values qemu has without the matrix (2 vCPUs, raw).
  for (auto& v : variants)
    CHECK(v.reference == (v.name == "qemu[vcpus=2,scratch-format=raw]"));

  // No axes for a platform: one variant under its own name, with the base values.
  auto plain = expand_variants(driver_named("native"), m, base);
  CHECK(names_of(plain) == std::vector<std::string>{"native"});
  CHECK(plain.front().params.empty());

  // docker's axes are named as `docker run` spells them; memory is shown as a size.
  Matrix d;
  d.axes.push_back({"docker", "memory", {"1024", "2G"}, "--matrix "});
  d.axes.push_back({"docker", "cpus", {"1"}, "--matrix "});
  auto dv = expand_variants(driver_named("docker"), d, base);
  CHECK(names_of(dv) == std::vector<std::string>{"docker[memory=1G]", "docker[memory=2G]"});
  CHECK(dv[0].values.integer("memory") == 1024);
  CHECK(dv[0].values.integer("vcpus") == 1);

  Matrix twice;
  twice.axes.push_back({"qemu", "vcpus", {"1", "1"}, "--matrix "});
  CHECK_THROWS_WITH_AS(expand_variants(qemu, twice, base), "--matrix vcpus = 1: the value is listed twice", UsageError);
  Matrix bad;
  bad.axes.push_back({"qemu", "storage", {"bind"}, "--matrix "});
  CHECK_THROWS_WITH_AS(expand_variants(qemu, bad, base),
                       doctest::Contains("--matrix unknown axis \"storage\" of platform qemu; allowed axes of qemu: vcpus"),
                       UsageError);
}

TEST_CASE("variants from [[matrix.points]]: only the listed points, named by what varies among them") {
  auto s = parse_suite(std::string("name = \"m\"\n"
                                   "[[matrix.points]]\nplatform = \"qemu\"\nvcpus = 2\nmemory = \"2G\"\n"
                                   "[[matrix.points]]\nplatform = \"qemu\"\nscratch-format = \"qcow2\"\n"
                                   "[[matrix.points]]\nplatform = \"qemu\"\nvcpus = 1\n") +
                           k_experiments,
                       "m.toml");
  auto variants = expand_variants(driver_named("qemu"), s.matrix, default_option_values());
  // memory is 2G in every point (the default where left out): it does not name them.
  CHECK(names_of(variants) == std::vector<std::string>{"qemu[vcpus=2,scratch-format=raw]",
                                                       "qemu[vcpus=2,scratch-format=qcow2]",
                                                       "qemu[vcpus=1,scratch-format=raw]"});
  CHECK(variants[0].reference);
  CHECK_FALSE(variants[2].reference);

  // The built-in suite is points of the handout's variations.
  auto hw1 = load_suite("coen241-hw1-matrix");
  auto q = expand_variants(driver_named("qemu"), hw1.matrix, default_option_values());
  auto d = expand_variants(driver_named("docker"), hw1.matrix, default_option_values());
  CHECK(q.size() == 4);
  CHECK(d.size() == 3);
  CHECK(d[1].name == "docker[cpus=1,memory=2G]");
  CHECK(hw1.experiments.size() == 4);
  for (auto& e : hw1.experiments) {
    CHECK(e.time_s == 10);
    CHECK(e.iterations == 3);
  }
}

TEST_CASE("--matrix replaces the suite's axis of that name and adds others; points take none") {
  Matrix m;
  m.axes.push_back({"qemu", "vcpus", {"1", "2"}, "m.toml:3: [matrix] qemu."});
  override_matrix(m, {parse_matrix_arg("qemu.vcpus=4"), parse_matrix_arg("docker.cpus=1,2")});
  REQUIRE(m.axes.size() == 2);
  CHECK(m.axes[0].values == std::vector<std::string>{"4"});
  CHECK(m.axes[0].where == "--matrix ");
  CHECK(m.axes[1].platform == "docker");
  Matrix p;
  p.points.push_back({"qemu", {{"vcpus", "1"}}, "m.toml:3: [[matrix.points]] "});
  CHECK_THROWS_WITH_AS(override_matrix(p, {parse_matrix_arg("qemu.vcpus=1,2")}),
                       doctest::Contains("the suite lists qemu's variants as [[matrix.points]]"), UsageError);
}

TEST_CASE("variant slugs are safe names for files, containers and domains") {
  CHECK(variant_slug("qemu[vcpus=1,scratch-format=qcow2]") == "qemu-vcpus1-scratch-formatqcow2");
  CHECK(variant_slug("docker[memory=1G]") == "docker-memory1G");
  CHECK(variant_slug("native") == "native");
}

TEST_CASE("batches: the capped platforms max_live at a time, the others in every batch") {
  // native, q1, q2, d1, d2 (capped: all but native)
  std::vector<bool> capped = {false, true, true, true, true};
  CHECK(form_batches(capped, 0) == std::vector<std::vector<std::size_t>>{{0, 1, 2, 3, 4}});
  CHECK(form_batches(capped, 4) == std::vector<std::vector<std::size_t>>{{0, 1, 2, 3, 4}});
  CHECK(form_batches(capped, 2) == std::vector<std::vector<std::size_t>>{{0, 1, 2}, {0, 3, 4}});
  CHECK(form_batches(capped, 3) == std::vector<std::vector<std::size_t>>{{0, 1, 2, 3}, {0, 4}});
  constexpr std::uint64_t GiB = std::uint64_t{1} << 30;
  CHECK(max_live_for_memory({2 * GiB, 2 * GiB, 1 * GiB}, 8 * GiB, k_spare_memory_bytes) == 3);
  CHECK(max_live_for_memory({2 * GiB, 2 * GiB, 1 * GiB}, 6 * GiB, k_spare_memory_bytes) == 2); // 2+2+2 spare
  CHECK(max_live_for_memory({4 * GiB}, 4 * GiB, k_spare_memory_bytes) == 1); // never 0 (preflight refuses it)
}

TEST_CASE("plan_batched_steps: each batch interleaved with native, whose numbers go on from batch to batch") {
  auto suite = parse_suite(std::string("name = \"m\"\niterations = 2\n") + k_experiments, "m.toml");
  suite.experiments[0].warmup = 1; // warm-ups too number on
  std::vector<std::vector<std::size_t>> batches = {{0, 1, 2}, {0, 3, 4}};
  auto steps = plan_batched_steps(suite, batches, Order::interleaved, 7);
  // 2 batches × (c: 1 warm-up + 2 rounds, f: 2 rounds) × 3 platforms
  CHECK(steps.size() == 2 * (3 + 2) * 3);
  std::map<std::pair<std::size_t, std::size_t>, std::vector<int>> iterations; // (platform, exp) -> iterations
  std::map<std::tuple<int, std::size_t, int>, std::set<std::size_t>> rounds;  // (batch, exp, round) -> platforms
  for (auto& s : steps) {
    CHECK(s.batch >= 1);
    auto& batch = batches[static_cast<std::size_t>(s.batch - 1)];
    CHECK(std::find(batch.begin(), batch.end(), s.platform) != batch.end());
    if (s.iteration)
      iterations[{s.platform, s.experiment}].push_back(s.iteration);
    rounds[{s.batch, s.experiment, s.round}].insert(s.platform);
  }
  CHECK(iterations[{0, 0}] == std::vector<int>{1, 2, 3, 4}); // native: both batches, numbered on
  CHECK(iterations[{3, 1}] == std::vector<int>{1, 2});
  for (auto& [key, platforms] : rounds)
    CHECK(platforms.size() == 3); // every round covers its whole batch
  // A batch is done before the next starts.
  for (std::size_t i = 1; i < steps.size(); ++i)
    CHECK(steps[i].batch >= steps[i - 1].batch);
  // One batch: plan_steps itself.
  auto one = plan_batched_steps(suite, {{0, 1, 2}}, Order::interleaved, 7);
  auto plain = plan_steps(suite, 3, Order::interleaved, 7);
  REQUIRE(one.size() == plain.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    CHECK(one[i].platform == plain[i].platform);
    CHECK(one[i].batch == 0);
  }
}

namespace {

// A matrix RunConfig on fakes: native + qemu vcpus 1,2 + docker cpus 1,2.
RunConfig matrix_config(const std::filesystem::path& out, std::shared_ptr<Journal> journal,
                        std::vector<std::string>& log, std::size_t max_live) {
  RunConfig config;
  config.suite = parse_suite(std::string("name = \"m\"\niterations = 2\n") + k_experiments, "m.toml");
  Matrix m;
  m.axes.push_back(parse_matrix_arg("qemu.vcpus=1,2"));
  m.axes.push_back(parse_matrix_arg("docker.cpus=1,2"));
  auto base = default_option_values();
  config.platforms = {"native"};
  config.platform_values["native"] = base;
  for (auto* d : {"qemu", "docker"})
    for (auto& v : expand_variants(driver_named(d), m, base)) {
      config.platforms.push_back(v.name);
      config.platform_values[v.name] = v.values;
      config.variants[v.name] = v;
    }
  config.max_live = max_live;
  config.max_live_reason = "--max-live " + std::to_string(max_live);
  config.out_dir = out;
  config.seed = 11;
  config.sample_interval = std::chrono::milliseconds(10);
  config.platform_options.log = [&log](const std::string& line) { log.push_back(line); };
  std::map<std::string, FakeScript> scripts;
  scripts["qemu"].guest_view = true;
  for (auto* n : {"native", "qemu", "docker"})
    scripts[n].run_delay = std::chrono::milliseconds(20);
  config.make_platform = fake_factory(std::move(journal), scripts);
  return config;
}

} // namespace

TEST_CASE("a matrix run in batches: never more than --max-live up, every variant measured, native in every batch") {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-matrix-");
  auto journal = std::make_shared<Journal>();
  std::vector<std::string> log;
  auto config = matrix_config(dir.path() / "out", journal, log, 2);
  REQUIRE(config.batches().size() == 2);
  int code = run_sync(run_suite(std::move(config)));
  CHECK(code == 0);
  auto doc = load_results(dir.path() / "out");

  // Live VMs and containers at any time, from the journal: started and not yet stopped.
  std::set<std::string> live;
  std::size_t most = 0;
  for (auto& c : journal->calls) {
    if (c.platform == "native")
      continue;
    if (c.what == "start")
      live.insert(c.platform);
    if (c.what == "stop")
      live.erase(c.platform);
    most = std::max(most, live.size());
    if (c.what.starts_with("exec"))
      CHECK(live.contains(c.platform));
  }
  CHECK(most == 2);
  for (auto& name : journal->created) {
    INFO(name);
    CHECK(journal->count(name, "start") == 1);
    CHECK(journal->count(name, "stop") == 1);
  }

  // Five platform entries, the variants with their parameters and batch.
  auto& platforms = doc.at("platforms").as_array();
  REQUIRE(platforms.size() == 5);
  std::map<std::string, const boost::json::object*> by_name;
  for (auto& p : platforms)
    by_name[std::string(p.as_object().at("name").as_string())] = &p.as_object();
  REQUIRE(by_name.contains("qemu[vcpus=1]"));
  auto& q1 = *by_name["qemu[vcpus=1]"];
  CHECK(q1.at("platform") == "qemu");
  CHECK(q1.at("variant") == boost::json::object{{"vcpus", "1"}});
  CHECK(q1.at("batch") == 1);
  CHECK(by_name["docker[cpus=2]"]->at("batch") == 2);
  CHECK(by_name["docker[cpus=2]"]->at("default_variant") == true);
  CHECK_FALSE(by_name["native"]->contains("variant"));
  CHECK(doc.at("batches").as_array().size() == 2);

  // Every variant has its 2 iterations of each experiment; native 2 per batch.
  std::map<std::string, int> records;
  for (auto& r : doc.at("runs").as_array()) {
    auto& run = r.as_object();
    CHECK_FALSE(run.contains("error"));
    ++records[std::string(run.at("platform").as_string())];
  }
  CHECK(records["native"] == 2 * 2 * 2);
  for (auto* v : {"qemu[vcpus=1]", "qemu[vcpus=2]", "docker[cpus=1]", "docker[cpus=2]"})
    CHECK(records[v] == 2 * 2);
  CHECK(std::filesystem::exists(dir.path() / "out" / "raw" / "qemu-vcpus1" / "c" / "1.txt"));
  CHECK(std::filesystem::exists(dir.path() / "out" / "raw" / "native" / "c" / "4.txt"));

  // The report's matrix section and the methodology's batches.
  auto md = render_markdown(doc);
  CHECK(md.find("### Matrix: c") != std::string::npos);
  CHECK(md.find("| qemu[vcpus=1] | qemu | 1 | – |") != std::string::npos);
  CHECK(md.find("| docker[cpus=2] | docker | – | 2 | 2 |") != std::string::npos);
  CHECK(md.find("default |") != std::string::npos);
  CHECK(md.find("the variants ran in 2 batches") != std::string::npos);
  auto doc_blocks = build_report(doc);
  int axis_charts = 0;
  for (auto& b : doc_blocks)
    if (b.kind == ReportBlock::Kind::chart && b.chart.type == ChartSpec::Type::lines_with_ci)
      ++axis_charts;
  CHECK(axis_charts == 2 * 2); // (qemu vcpus, docker cpus) × 2 experiments
  auto csv = render_csv(doc);
  CHECK(csv.find(",batch,driver,param_vcpus,param_cpus\r\n") != std::string::npos);
}

TEST_CASE("a matrix run in one batch when max_live allows: every variant up at once") {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-matrix-");
  auto journal = std::make_shared<Journal>();
  std::vector<std::string> log;
  auto config = matrix_config(dir.path() / "out", journal, log, 0);
  CHECK(run_sync(run_suite(std::move(config))) == 0);
  auto doc = load_results(dir.path() / "out");
  CHECK_FALSE(doc.contains("batches"));
  for (auto& r : doc.at("runs").as_array())
    CHECK_FALSE(r.as_object().contains("batch"));
}

TEST_CASE("a variant that fails to start fails alone") {
  TempDir dir(std::filesystem::temp_directory_path(), "vb-matrix-");
  auto journal = std::make_shared<Journal>();
  std::vector<std::string> log;
  auto config = matrix_config(dir.path() / "out", journal, log, 2);
  std::map<std::string, FakeScript> scripts;
  scripts["qemu"].guest_view = true;
  scripts["qemu[vcpus=2]"].guest_view = true;
  scripts["qemu[vcpus=2]"].start_error = "qemu-system-x86_64 exited with 1";
  config.make_platform = fake_factory(journal, scripts);
  CHECK(run_sync(run_suite(std::move(config))) == 1);
  auto doc = load_results(dir.path() / "out");
  std::map<std::string, int> records;
  for (auto& r : doc.at("runs").as_array())
    ++records[std::string(r.as_object().at("platform").as_string())];
  CHECK(records["qemu[vcpus=2]"] == 0);
  CHECK(records["qemu[vcpus=1]"] == 4);
  CHECK(records["docker[cpus=1]"] == 4);
  for (auto& p : doc.at("platforms").as_array())
    if (p.as_object().at("name") == "qemu[vcpus=2]") {
      CHECK(p.as_object().at("error").as_string().find("exited with 1") != boost::json::string::npos);
      CHECK(p.as_object().at("variant") == boost::json::object{{"vcpus", "2"}}); // who it was, though it never ran
    }
}

TEST_CASE("preflight refuses variants with more memory than the host has, one line each") {
  std::vector<std::string> log;
  auto config = matrix_config("/nonexistent-out", std::make_shared<Journal>(), log, 0);
  config.host_memory_bytes = std::uint64_t{3} << 30; // 3 GiB: 2 GiB (the default) + 2 GiB spare does not fit
  std::string error;
  try {
    preflight(config, false, [](const std::filesystem::path&) { return std::uint64_t{1} << 40; });
  } catch (const UsageError& e) {
    error = e.what();
  }
  CHECK(error.find("preflight: qemu[vcpus=1]: memory 2.0 GiB does not fit this host's 3.0 GiB with 2 GiB to spare; "
                   "lower its memory axis to at most 1024 MiB") != std::string::npos);
  CHECK(std::count(error.begin(), error.end(), '\n') == 3); // four variants, four lines
  config.host_memory_bytes = std::uint64_t{64} << 30;
  CHECK_NOTHROW(preflight(config, false, [](const std::filesystem::path&) { return std::uint64_t{1} << 40; }));
}

TEST_CASE("docker refuses more CPUs than the host has, before anything starts") {
  auto& docker = driver_named("docker");
  REQUIRE(docker.check_options);
  auto values = default_option_values();
  values.set("vcpus", "1");
  CHECK(docker.check_options(values).empty());
  values.set("vcpus", "256");
  CHECK(docker.check_options(values).find("the engine refuses more CPUs than the host has") != std::string::npos);
}

namespace {

// A results document with `platforms` (name, variant params) and 3 runs of cpu each.
boost::json::object matrix_results(const std::vector<std::pair<std::string, boost::json::object>>& platforms,
                                   double scale = 1) {
  boost::json::object doc{{"schema", "virtbench/results/v1"},
                          {"suite", {{"name", "m"}, {"experiments", boost::json::array{{{"name", "c"}, {"workload", "cpu"}}}}}},
                          {"host", {{"hostname", "h"}}}};
  boost::json::array ps, runs;
  for (auto& [name, params] : platforms) {
    boost::json::object entry{{"name", name}};
    if (!params.empty()) {
      entry["platform"] = name.substr(0, name.find('['));
      entry["variant"] = params;
    }
    ps.push_back(entry);
    for (int i = 1; i <= 3; ++i)
      runs.push_back({{"platform", name},
                      {"experiment", "c"},
                      {"iteration", i},
                      {"round", i},
                      {"metrics", {{"events_per_sec", scale * (1000.0 + i)}}}});
  }
  doc["platforms"] = std::move(ps);
  doc["runs"] = std::move(runs);
  return doc;
}

// The platforms a comparison has rows for, and its notes one a line.
std::set<std::string> compared_platforms(const Comparison& c) {
  std::set<std::string> platforms;
  for (auto& r : c.rows)
    platforms.insert(r.platform);
  return platforms;
}

std::string notes_of(const Comparison& c) {
  std::string notes;
  for (auto& n : c.notes)
    notes += n + "\n";
  return notes;
}

} // namespace

TEST_CASE("compare matches variants on their parameters, not their names, and lists parameters one side lacks") {
  // The same parameters named in another order match; results from before the matrix
  // (no "variant") keep matching by name.
  auto base = matrix_results({{"native", {}},
                              {"qemu[vcpus=1,scratch-format=raw]", {{"vcpus", "1"}, {"scratch-format", "raw"}}}});
  auto cand = matrix_results({{"native", {}},
                              {"qemu[scratch-format=raw,vcpus=1]", {{"scratch-format", "raw"}, {"vcpus", "1"}}}});
  auto c = compare_results(base, cand, CompareOptions{});
  CHECK(compared_platforms(c) == std::set<std::string>{"native", "qemu[scratch-format=raw,vcpus=1]"});
  CHECK(notes_of(c).find("only in") == std::string::npos);

  // A variant with a parameter the other run did not vary is not guessed to be the same.
  auto fewer = matrix_results({{"native", {}}, {"qemu[vcpus=1]", {{"vcpus", "1"}}}});
  auto d = compare_results(base, fewer, CompareOptions{});
  CHECK(compared_platforms(d) == std::set<std::string>{"native"});
  auto notes = notes_of(d);
  CHECK(notes.find("qemu: parameter scratch-format only in BASE's variants") != std::string::npos);
  CHECK(notes.find("platform qemu[scratch-format=raw,vcpus=1] is only in BASE") != std::string::npos);
  CHECK(notes.find("platform qemu[vcpus=1] is only in CANDIDATE") != std::string::npos);
}

TEST_CASE("platform keys: variants by driver and sorted parameters, other entries by name") {
  boost::json::object v{{"name", "qemu[vcpus=1,memory=1G]"},
                        {"platform", "qemu"},
                        {"variant", {{"vcpus", "1"}, {"memory", "1G"}}}};
  CHECK(platform_key(&v, "qemu[vcpus=1,memory=1G]") == "qemu[memory=1G,vcpus=1]");
  CHECK(platform_driver(&v, "x") == "qemu");
  boost::json::object old{{"name", "qemu"}};
  CHECK(platform_key(&old, "qemu") == "qemu");
  CHECK(platform_driver(&old, "qemu") == "qemu");
  CHECK(platform_key(nullptr, "docker") == "docker");
}

TEST_CASE("results from before the matrix (main at 45d738d) load in report, compare and history as before") {
  auto old = boost::json::parse(data_file("results/main-45d738d-native-qemu/results.json")).as_object();
  REQUIRE_FALSE(old.at("platforms").as_array().at(1).as_object().contains("variant"));
  auto md = render_markdown(old);
  CHECK(md.find("## Summary") != std::string::npos);
  CHECK(md.find("## Matrix") == std::string::npos);
  CHECK(md.find("| exp1-cpu-2000 | events/s | qemu | 2 |") != std::string::npos);
  CHECK(render_csv(old).find(",raw,batch\r\n") != std::string::npos); // no driver/param columns
  auto c = compare_results(old, old, CompareOptions{});
  CHECK(compared_platforms(c) == std::set<std::string>{"native", "qemu"});
  CHECK_MESSAGE(notes_of(c).find("only in") == std::string::npos, notes_of(c));

  // A matrix run's variant of qemu is not guessed to be the old run's plain qemu.
  auto cand = old;
  cand["started_at"] = "2026-12-01T18:00:00Z"; // another run for the history
  auto& qemu = cand.at("platforms").as_array().at(1).as_object();
  qemu["name"] = "qemu[vcpus=1]";
  qemu["platform"] = "qemu";
  qemu["variant"] = boost::json::object{{"vcpus", "1"}};
  for (auto& r : cand.at("runs").as_array())
    if (r.as_object().at("platform") == "qemu")
      r.as_object()["platform"] = "qemu[vcpus=1]";
  auto d = compare_results(old, cand, CompareOptions{});
  auto notes = notes_of(d);
  CHECK(notes.find("qemu: parameter vcpus only in CANDIDATE's variants") != std::string::npos);
  CHECK(notes.find("platform qemu is only in BASE") != std::string::npos);

  TempDir dir(std::filesystem::temp_directory_path(), "vb-matrix-history-");
  History h(dir.path() / "history.sqlite", true);
  h.add(old, dir.path());
  h.add(cand, dir.path() / "cand");
  HistoryFilter f;
  auto rows = h.query(f);
  std::set<std::string> keyed;
  for (auto& r : rows)
    keyed.insert(r.platform);
  CHECK(keyed == std::set<std::string>{"native", "qemu", "qemu[vcpus=1]"});
}
