// Hostile input to the core: each gets a clear error or a bounded result within bounded
// memory (test::k_rss_budget_mib), never a crash or a hang. The wire cases (QMP, the guest
// agent, Docker's stream) are beside their clients' tests; fuzz/ fuzzes the same parsers.
#include "results.hpp"
#include "suite.hpp"
#include "sysbench.hpp"
#include "test_util.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string>

using namespace virtbench;
namespace fs = std::filesystem;
using test::error_of;

TEST_CASE("hostile: a sysbench output of a million bad lines is refused with a message of a few KiB") {
  auto real = test::data_file("sysbench/1.0.20/cpu-max-prime-2000.txt");
  std::string text = "Latency (ms):\n";
  for (int i = 0; i < 1000000; ++i)
    text += "    min:                                    garbage\n";
  text += real;
  std::string message;
  auto peak = test::peak_rss_mib_during([&] { message = error_of([&] { parse_sysbench_output(text, Workload::cpu); }); });
  CHECK(message.starts_with("cannot parse sysbench cpu output\n'min' is not a number:\n  line 2: "));
  CHECK(message.find("... and 999990 more such lines") != std::string::npos);
  CHECK(message.size() < 8192);
  CHECK(peak < test::k_rss_budget_mib);
}

TEST_CASE("hostile: a sysbench output with a million extra lines and one huge one still parses") {
  auto real = test::data_file("sysbench/1.0.20/cpu-max-prime-2000.txt");
  std::string text;
  for (int i = 0; i < 1000000; ++i)
    text += "noise line " + std::to_string(i) + "\n";
  text += std::string(50 << 20, 'x') + "\n" + real;
  Metrics m;
  auto peak = test::peak_rss_mib_during([&] { m = parse_sysbench_output(text, Workload::cpu); });
  CHECK(m.events_per_sec.has_value());
  CHECK(peak < test::k_rss_budget_mib);
}

TEST_CASE("hostile: a bad value on a line of 10 MiB is quoted cut to 200 characters, an output's tail too") {
  auto line = "    max: " + std::string(10 << 20, '9') + "z\n";
  auto message = error_of([&] { parse_sysbench_output("Latency (ms):\n" + line, Workload::cpu); });
  CHECK(message.find("'max' is not a number:\n  line 2:     max: 999") != std::string::npos);
  CHECK(message.size() < 2048);
  // Nothing parseable: the message quotes the output's end, at most 2000 bytes of it.
  message = error_of([&] { parse_sysbench_output(std::string(10 << 20, 'x') + '\n', Workload::cpu); });
  CHECK(message.starts_with("cannot parse sysbench cpu output: missing total time, latency min"));
  CHECK(message.size() < 4096);
}

TEST_CASE("hostile: a results.json of 1 GiB is refused before it is read") {
  TempDir dir(fs::temp_directory_path(), "vbtest-hostile-");
  auto path = dir.path() / "results.json";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, off_t(1) << 30) == 0); // sparse: no disk space used
  ::close(fd);
  std::string message;
  auto peak = test::peak_rss_mib_during([&] { message = error_of([&] { load_results(dir.path()); }); });
  CHECK(message == path.string() + ": 1024 MiB, more than the 64 MiB a virtbench results file may have; is it a "
                                   "results.json written by `virtbench run`?");
  CHECK(peak < test::k_rss_budget_mib);
}

TEST_CASE("hostile: a results.json nested 100,000 levels deep is refused naming the depth") {
  std::string arrays(100000, '[');
  std::string objects;
  for (int i = 0; i < 100000; ++i)
    objects += "{\"a\":";
  for (auto* text : {&arrays, &objects}) {
    std::string message;
    auto peak = test::peak_rss_mib_during([&] { message = error_of([&] { parse_results(*text, "deep.json"); }); });
    CHECK(message == "deep.json: not a virtbench results file (nested more than 32 levels deep)");
    CHECK(peak < test::k_rss_budget_mib);
  }
  CHECK_THROWS_AS(parse_results(arrays, "deep.json"), UsageError);
}

TEST_CASE("hostile: a suite with 10,000 experiments parses within bounded memory") {
  std::string toml = "name = \"huge\"\n";
  for (int i = 0; i < 10000; ++i)
    toml += "[[experiment]]\nname = \"e" + std::to_string(i) + "\"\nworkload = \"cpu\"\ncpu-max-prime = 2000\n";
  Suite suite;
  auto peak = test::peak_rss_mib_during([&] { suite = parse_suite(toml, "huge.toml"); });
  CHECK(suite.experiments.size() == 10000);
  CHECK(suite.experiments.back().name == "e9999");
  CHECK(peak < test::k_rss_budget_mib);
}

TEST_CASE("hostile: a process printing without end is killed once it passed the output limit") {
  ProcessResult r;
  auto peak = test::peak_rss_mib_during([&] {
    r = run_sync(run_process({"sh", "-c", "yes virtbench; exit 0"}));
  });
  CHECK(r.output_limited);
  CHECK(r.term_signal == 9);
  CHECK(r.out.size() == k_max_process_output);
  CHECK(r.out.starts_with("virtbench\nvirtbench\n"));
  CHECK(describe_exit(r, std::chrono::seconds(10)) == "printed more output than virtbench keeps and was killed");
  CHECK(peak < test::k_rss_budget_mib);
}

// Inputs the fuzz targets (fuzz/) found crashing, each fixed; kept here as regression cases.
TEST_CASE("fuzz regression: suite values past what virtbench can hold are exit-2 errors naming the key") {
  auto suite = [](const std::string& key_value, const std::string& workload = "cpu") {
    return "name = \"x\"\n[[experiment]]\nname = \"a\"\nworkload = \"" + workload + "\"\n" + key_value + "\n";
  };
  auto message = [](const std::string& toml) { return error_of<UsageError>([&] { parse_suite(toml, "s.toml"); }); };
  // std::stoi threw std::out_of_range (not an Error) on these.
  CHECK(message("name = \"x\"\niterations = 99999999999\n[[experiment]]\nname = \"a\"\nworkload = \"cpu\"\n") ==
        "s.toml:2: \"iterations\" must be at most 2147483647, got 99999999999");
  CHECK(message(suite("time = 2147483648")) ==
        "s.toml:5: experiment \"a\": \"time\" must be at most 2147483647, got 2147483648");
  // std::stoull threw std::out_of_range; "99999999999T" overflowed fileio_bytes() silently.
  CHECK(message(suite("file-total-size = \"99999999999999999999999M\"", "fileio")) ==
        "s.toml:5: experiment \"a\": \"file-total-size\" is too large (more than 2^62 bytes), got "
        "\"99999999999999999999999M\"");
  CHECK(message(suite("file-total-size = \"99999999999T\"", "fileio")).find("is too large") != std::string::npos);
  CHECK(parse_suite(suite("file-total-size = \"4194304T\"", "fileio"), "s.toml").experiments[0].fileio_bytes() ==
        std::uint64_t(1) << 62);
  // NaN passed the "> 0" check and went to sysbench.
  CHECK(message(suite("file-rw-ratio = nan", "fileio")).find("must be a finite number > 0") != std::string::npos);
  CHECK(message(suite("file-rw-ratio = inf", "fileio")).find("must be a finite number > 0") != std::string::npos);
}

TEST_CASE("fuzz regression: a table header that starts with no key is a TOML error, not an abort") {
  // toml++ 3.3.0 asserts in parse_key() on these when built with its asserts on (fuzz_suite
  // found "[[\x04...]]"); the library virtbench links answers with a parse error.
  for (std::string text : {"[[\x04]]\n", "[=]\n", "[[,]]\n", "[.]\n"}) {
    CAPTURE(text);
    CHECK(error_of<UsageError>([&] { parse_suite(text, "s.toml"); })
              .starts_with("s.toml:1: not valid TOML: Error while parsing key"));
  }
}

TEST_CASE("fuzz regression: a non-ASCII character outside strings and comments is refused before toml++ sees it") {
  // toml++ 3.3.0 reaches __builtin_unreachable (undefined behaviour) on U+00A1..U+0499 where
  // it looks for whitespace (fuzz_suite under UBSan: U+0495 in a table header).
  const std::pair<std::string, int> cases[] = {{"name = \"x\"\n[ab\xd2\x95]\n", 2}, {"name = \"x\"\nk\xc3\xa9 = 1\n", 2}};
  for (auto& [text, line] : cases) {
    CAPTURE(text);
    CHECK(error_of<UsageError>([&] { parse_suite(text, "s.toml"); }) ==
          "s.toml:" + std::to_string(line) +
              ": not valid TOML: a non-ASCII character outside a string or comment (keys and bare values are ASCII; "
              "quote the text)");
  }
  // Not TOML even as ASCII: toml++'s own error, from the copy it could parse safely. The second
  // is what fuzz_suite found next: a string right after a value, which is no string to toml++.
  for (std::string text : {std::string("name = \"x\" \xc3\xa9\n"), std::string("mh =0\"x\xca\xa4\0\0ion\nPPP\n", 19)}) {
    CAPTURE(text);
    CHECK(error_of<UsageError>([&] { parse_suite(text, "s.toml"); }).starts_with("s.toml:1: not valid TOML: "));
  }
  // Inside strings (every kind, escapes and line continuations included) and comments it is TOML.
  auto suite = parse_suite("# d\xc3\xa9j\xc3\xa0 vu\nname = \"caf\\\"\xc3\xa9\"\ndescription = \"\"\"\xc3\xa9\\\n\xd2\x95\"\"\"\n"
                           "[[experiment]] # \xc3\xa9\nname = 'e'\nworkload = '''cpu'''\n",
                           "s.toml");
  CHECK(suite.name == "caf\"\xc3\xa9");
  CHECK(suite.description == "\xc3\xa9\xd2\x95");
}
