// Reports from the fixtures in tests/data/results (see its README).
#include "charts.hpp"
#include "report.hpp"
#include "report_model.hpp"
#include "results.hpp"

#include "test_util.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <numeric>

using namespace virtbench;

namespace {

boost::json::object fixture(const std::string& name) {
  return boost::json::parse(test::data_file("results/" + name + "/results.json")).as_object();
}

std::string line_with(const std::string& text, const std::string& needle) {
  auto pos = text.find(needle);
  REQUIRE_MESSAGE(pos != std::string::npos, needle);
  auto start = text.rfind('\n', pos) + 1;
  return text.substr(start, text.find('\n', pos) - start);
}

} // namespace

TEST_CASE("analyze: measured iterations only, failed runs counted, not averaged") {
  auto doc = fixture("three-platforms");
  auto a = analyze(doc);
  CHECK(a.platforms == std::vector<std::string>{"native", "docker", "qemu"});
  REQUIRE(a.experiments.size() == 4);
  CHECK(a.experiments[0].headline == "metrics.events_per_sec");
  CHECK(a.experiments[2].headline == "metrics.reads_per_s");
  auto* native = a.find("native", "exp1-cpu-2000");
  REQUIRE(native);
  // exp1 has one warm-up per platform in the file; it is not a measured iteration.
  CHECK(native->records.size() == 5);
  CHECK(native->metric("metrics.events_per_sec")->stats.n == 5);
  auto* qemu3 = a.find("qemu", "exp3-fileio-rndrw");
  REQUIRE(qemu3);
  CHECK(qemu3->records.size() == 5);
  CHECK(qemu3->failed == 1);
  CHECK(qemu3->metric("metrics.reads_per_s")->stats.n == 4);
  CHECK(qemu3->metric("metrics.reads_per_s")->iterations == std::vector<int>{1, 3, 4, 5});
}

TEST_CASE("slowdown is oriented so that > 1 reads 'slower' for throughput and latency alike") {
  MetricSeries base, slow;
  base.def = find_metric("metrics.events_per_sec");
  slow.def = base.def;
  base.values = {100, 102, 98};
  slow.values = {50, 51, 49};
  auto s = slowdown(base, slow);
  REQUIRE(s);
  CHECK(s->estimate == doctest::Approx(2.0));
  CHECK(describe_slowdown(*s).rfind("2.00× slower (", 0) == 0);
  base.def = slow.def = find_metric("metrics.latency_ms.avg");
  s = slowdown(base, slow); // half the latency: twice as fast
  REQUIRE(s);
  CHECK(s->estimate == doctest::Approx(0.5));
  CHECK(describe_slowdown(*s).rfind("2.00× faster (", 0) == 0);
  slow.values = {99, 103, 98};
  CHECK(describe_slowdown(*slowdown(base, slow)).find("within noise") != std::string::npos);
}

TEST_CASE("report.md: summary first, with ratios to native and their intervals") {
  auto doc = fixture("three-platforms");
  auto md = render_markdown(doc);
  auto summary = md.find("## Summary");
  REQUIRE(summary != std::string::npos);
  CHECK(summary < md.find("## native — exp1-cpu-2000"));
  CHECK(md.find("Accelerator: qemu tcg (no usable KVM") != std::string::npos);
  CHECK(md.find("| experiment | metric | platform | n | mean (95% CI) | CV | vs native (95% CI) | notes |") != std::string::npos);

  // Independently: native/qemu exp2 events/s from the fixture's values.
  auto a = analyze(doc);
  auto& nat = a.find("native", "exp2-cpu-20000")->metric("metrics.events_per_sec")->values;
  auto& qem = a.find("qemu", "exp2-cpu-20000")->metric("metrics.events_per_sec")->values;
  double ratio = (std::accumulate(nat.begin(), nat.end(), 0.0) / nat.size()) /
                 (std::accumulate(qem.begin(), qem.end(), 0.0) / qem.size());
  auto row = line_with(md, "| exp2-cpu-20000 | events/s | qemu |");
  CHECK(row.find(fmt::format("{:.2f}× slower (", ratio)) != std::string::npos);
  CHECK(line_with(md, "| exp2-cpu-20000 | events/s | native |").find("baseline") != std::string::npos);
  CHECK(line_with(md, "| exp3-fileio-rndrw | reads/s | qemu |").find("1 failed") != std::string::npos);
  // CV: exp4 native reads/s is 15.1% in the fixture, exp2 native events/s 3.6% (by hand from the JSON).
  CHECK(line_with(md, "| exp4-fileio-rndrw-async | reads/s | native |").find("15.1% **noisy**") != std::string::npos);
  CHECK(line_with(md, "| exp2-cpu-20000 | events/s | native |").find("| 3.6% |") != std::string::npos);

  // The seed report's per-iteration tables stay, with statistics columns.
  CHECK(md.find("| metric | 1 | 2 | 3 | 4 | 5 | mean | std dev | median | min | max | CV | 95% CI |") != std::string::npos);
  CHECK(md.find("Iteration 2 failed: sysbench fileio exited 1") != std::string::npos);
  // CPU split as host and guest saw it, and cache drops.
  CHECK(md.find("## CPU time: user and kernel, as the host and the guest saw it") != std::string::npos);
  CHECK(md.find("| guest user % |") != std::string::npos);
  CHECK(md.find("| exp3-fileio-rndrw | qemu | guest |") != std::string::npos);
  // No chart headings in Markdown.
  CHECK(md.find("## Charts") == std::string::npos);
}

TEST_CASE("report.csv: one row per run record, stable columns") {
  auto doc = fixture("three-platforms");
  auto csv = render_csv(doc);
  auto lines = std::count(csv.begin(), csv.end(), '\n');
  CHECK(lines == static_cast<long>(doc.at("runs").as_array().size()) + 1);
  CHECK(csv.rfind("platform,experiment,workload,iteration,round,warmup,started_at,exit_code,error,wall_s,"
                  "events_per_sec,", 0) == 0);
  CHECK(csv_columns().size() == 40);
  // A run's row starts with its platform and experiment, and quoting survives an error
  // text with a comma and quotes.
  boost::json::object tiny{{"schema", k_results_schema}, {"runs", boost::json::array{boost::json::object{
      {"platform", "qemu"}, {"experiment", "e"}, {"iteration", 1}, {"error", "a, \"b\""}}}}};
  auto tiny_csv = render_csv(tiny);
  auto row = tiny_csv.substr(tiny_csv.find('\n') + 1);
  CHECK(row.rfind("qemu,e,", 0) == 0);
  CHECK(row.find("\"a, \"\"b\"\"\"") != std::string::npos);
}

TEST_CASE("gnuplot scripts: argv-free data, quoted labels, CI whiskers") {
  ChartSpec c;
  c.title = "exp \"1\"";
  c.ylabel = "events/s";
  c.categories = {"native", "qemu"};
  c.values = {{100}, {14}};
  c.ci = {{90, 110}, {12, 16}};
  auto s = gnuplot_script(c, "/tmp/x.svg");
  CHECK(s.find("set terminal svg") != std::string::npos);
  CHECK(s.find("set title \"exp \\\"1\\\"\"") != std::string::npos);
  CHECK(s.find("\"native\" 100 90 110\n\"qemu\" 14 12 16\n") != std::string::npos);
  CHECK(s.find("yerrorbars") != std::string::npos);
  c.type = ChartSpec::Type::clustered;
  c.log_y = true;
  c.series = {"min", "max"};
  c.values = {{0, 5}, {0.5, 50}};
  s = gnuplot_script(c, "/tmp/x.svg");
  CHECK(s.find("\"native\" NaN 5") != std::string::npos); // 0 cannot sit on a log axis
  CHECK(s.find("set yrange [0.1:*]") != std::string::npos);
}
