#include "sysbench.hpp"
#include "test_util.hpp"
#include "util/error.hpp"

#include <doctest/doctest.h>

using namespace virtbench;
using virtbench::test::data_file;

TEST_CASE("sysbench 1.0.20 cpu output recorded here parses to its figures") {
  auto m = parse_sysbench_output(data_file("sysbench/1.0.20/cpu-max-prime-2000.txt"), Workload::cpu);
  CHECK(*m.events_per_sec == doctest::Approx(31569.92));
  CHECK(*m.total_time_s == doctest::Approx(3.0004));
  CHECK(*m.total_events == 94768);
  CHECK(*m.latency_min_ms == doctest::Approx(0.03));
  CHECK(*m.latency_max_ms == doctest::Approx(0.34));
  CHECK(*m.latency_p95_ms == doctest::Approx(0.03));
  CHECK(*m.latency_sum_ms == doctest::Approx(2986.54));
  CHECK_FALSE(m.reads_per_s.has_value());
}

TEST_CASE("sysbench 1.0.20 fileio outputs parse, sync and async") {
  auto sync = parse_sysbench_output(data_file("sysbench/1.0.20/fileio-rndrw-sync.txt"), Workload::fileio);
  CHECK(*sync.reads_per_s == doctest::Approx(28672.21));
  CHECK(*sync.writes_per_s == doctest::Approx(19114.81));
  CHECK(*sync.fsyncs_per_s == doctest::Approx(61831.57));
  CHECK(*sync.read_mib_s == doctest::Approx(448.00));
  CHECK(*sync.written_mib_s == doctest::Approx(298.67));
  CHECK(*sync.total_time_s == doctest::Approx(3.0202));
  CHECK(*sync.latency_avg_ms == doctest::Approx(0.15));
  CHECK(*sync.latency_p95_ms == doctest::Approx(0.34));
  CHECK_FALSE(sync.events_per_sec.has_value()); // fileio does not report it: absent, not zero

  auto async = parse_sysbench_output(data_file("sysbench/1.0.20/fileio-rndrw-async.txt"), Workload::fileio);
  CHECK(*async.reads_per_s == doctest::Approx(44126.02));
  CHECK(*async.written_mib_s == doctest::Approx(462.57));
}

TEST_CASE("sysbench 1.0.18 layout from the seed report parses, warnings and all") {
  auto cpu = parse_sysbench_output(data_file("sysbench/1.0.18/cpu-max-prime-2000.txt"), Workload::cpu);
  CHECK(*cpu.total_time_s == doctest::Approx(10.0265));
  CHECK(*cpu.latency_avg_ms == doctest::Approx(2.17));
  CHECK(*cpu.latency_p95_ms == doctest::Approx(16.71));
  auto io = parse_sysbench_output(data_file("sysbench/1.0.18/fileio-rndrw.txt"), Workload::fileio);
  CHECK(*io.reads_per_s == doctest::Approx(711.18));
  CHECK(*io.writes_per_s == doctest::Approx(474.12));
  CHECK(*io.read_mib_s == doctest::Approx(11.11));
  CHECK(*io.written_mib_s == doctest::Approx(7.41));
  CHECK(*io.latency_max_ms == doctest::Approx(86.08));
}

TEST_CASE("metrics go into results.json's shape, absent fields absent") {
  auto m = parse_sysbench_output(data_file("sysbench/1.0.20/cpu-max-prime-2000.txt"), Workload::cpu);
  auto j = metrics_to_json(m);
  CHECK(j.at("events_per_sec").as_double() == doctest::Approx(31569.92));
  CHECK(j.at("latency_ms").at("p95").as_double() == doctest::Approx(0.03));
  CHECK_FALSE(j.contains("reads_per_s"));
}

TEST_CASE("output that cannot be parsed is an error quoting the offending lines") {
  SUBCASE("a garbled number is quoted with a caret") {
    auto text = data_file("sysbench/1.0.20/cpu-max-prime-2000.txt");
    auto pos = text.find("31569.92");
    text.replace(pos, 8, "31x69.92");
    try {
      parse_sysbench_output(text, Workload::cpu);
      FAIL("no error");
    } catch (const Error& e) {
      std::string msg = e.what();
      CHECK(msg.find("'events per second' is not a number") != std::string::npos);
      CHECK(msg.find("line 15:     events per second: 31x69.92") != std::string::npos);
      CHECK(msg.find('^') != std::string::npos);
    }
  }
  SUBCASE("a cpu output given as fileio names the missing fields") {
    try {
      parse_sysbench_output(data_file("sysbench/1.0.20/cpu-max-prime-2000.txt"), Workload::fileio);
      FAIL("no error");
    } catch (const Error& e) {
      std::string msg = e.what();
      CHECK(msg.find("missing reads/s, writes/s") != std::string::npos);
      CHECK(msg.find("the output ends with") != std::string::npos);
    }
  }
  SUBCASE("sysbench's FATAL lines are quoted") {
    std::string text = "sysbench 1.0.20\nFATAL: Cannot open file 'test_file.0' errno = 2 (No such file or directory)\n";
    try {
      parse_sysbench_output(text, Workload::fileio);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("line 2: FATAL: Cannot open file") != std::string::npos);
    }
  }
  SUBCASE("empty output") {
    CHECK_THROWS_WITH_AS(parse_sysbench_output("", Workload::cpu), doctest::Contains("(the output is empty)"), Error);
  }
}

TEST_CASE("sysbench --version") {
  CHECK(parse_sysbench_version("sysbench 1.0.20\n") == "sysbench 1.0.20");
  CHECK_THROWS_AS(parse_sysbench_version("bash: sysbench: not found"), Error);
}
