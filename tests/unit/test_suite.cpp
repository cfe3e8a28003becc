#include "runner.hpp"
#include "suite.hpp"
#include "util/error.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>

using namespace virtbench;

namespace {

std::string suite_error(const std::string& toml) {
  try {
    parse_suite(toml, "my.toml");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

const char* const k_valid = R"(name = "t"
iterations = 2
[[experiment]]
name = "c"
workload = "cpu"
cpu-max-prime = 2000
time = 5
[[experiment]]
name = "f"
workload = "fileio"
threads = 16
file-total-size = "100M"
file-test-mode = "rndrw"
file-io-mode = "async"
)";

} // namespace

TEST_CASE("the built-in coen241-hw1 suite is the assignment exactly") {
  auto s = load_suite("coen241-hw1");
  REQUIRE(s.experiments.size() == 4);
  for (auto& e : s.experiments)
    CHECK(e.iterations == 5);
  CHECK(s.experiments[0].sysbench_argv("run") ==
        std::vector<std::string>{"sysbench", "cpu", "--cpu-max-prime=2000", "--time=10", "run"});
  CHECK(s.experiments[1].sysbench_argv("run") ==
        std::vector<std::string>{"sysbench", "cpu", "--cpu-max-prime=20000", "--time=150", "run"});
  CHECK(s.experiments[2].sysbench_argv("prepare") ==
        std::vector<std::string>{"sysbench", "fileio", "--file-test-mode=rndrw", "--file-total-size=100M",
                                 "--threads=16", "--time=10", "prepare"});
  CHECK(s.experiments[3].option("file-io-mode") == "async");
  CHECK(s.experiments[2].workload == Workload::fileio);
}

TEST_CASE("the quick suite has the same four shapes") {
  auto quick = load_suite("quick");
  auto hw1 = load_suite("coen241-hw1");
  REQUIRE(quick.experiments.size() == hw1.experiments.size());
  for (std::size_t i = 0; i < quick.experiments.size(); ++i) {
    CHECK(quick.experiments[i].name == hw1.experiments[i].name);
    CHECK(quick.experiments[i].workload == hw1.experiments[i].workload);
  }
}

TEST_CASE("a valid suite file parses; --iterations and --time override") {
  auto s = parse_suite(k_valid, "my.toml");
  CHECK(s.name == "t");
  CHECK(s.experiments[0].iterations == 2);
  CHECK(s.experiments[0].warmup == 1); // cpu warms up once by default
  CHECK(s.experiments[1].warmup == 0); // fileio does not
  CHECK(s.experiments[1].time_s == 10);
  override_suite(s, 7, 3);
  CHECK(s.experiments[1].iterations == 7);
  CHECK(s.experiments[0].sysbench_args().back() == "--time=3");
}

TEST_CASE("suite errors name the file, the line, the key and the fix") {
  std::string base = "name = \"t\"\n[[experiment]]\nname = \"c\"\nworkload = \"cpu\"\n";
  SUBCASE("a typo in a key suggests the right one") {
    auto msg = suite_error(base + "cpu-max-prim = 2000\n");
    CHECK(msg.find("my.toml:5:") == 0);
    CHECK(msg.find("unknown key \"cpu-max-prim\" (did you mean \"cpu-max-prime\"?)") != std::string::npos);
    CHECK(msg.find("allowed keys:") != std::string::npos);
  }
  SUBCASE("a string where a number goes") {
    auto msg = suite_error(base + "cpu-max-prime = \"2000\"\n");
    CHECK(msg.find("my.toml:5:") == 0);
    CHECK(msg.find("\"cpu-max-prime\" must be an integer ≥ 1, got string \"2000\"; write e.g. cpu-max-prime = 10") != std::string::npos);
  }
  SUBCASE("a negative time") {
    CHECK(suite_error(base + "time = -5\n").find("\"time\" must be ≥ 1, got -5") != std::string::npos);
  }
  SUBCASE("a missing workload") {
    auto msg = suite_error("name = \"t\"\n[[experiment]]\nname = \"c\"\n");
    CHECK(msg.find("missing key \"workload\"; add workload = \"cpu\" or workload = \"fileio\"") != std::string::npos);
  }
  SUBCASE("an unknown workload") {
    auto msg = suite_error("name = \"t\"\n[[experiment]]\nname = \"c\"\nworkload = \"memory\"\n");
    CHECK(msg.find("\"workload\" must be one of: cpu, fileio; got \"memory\"") != std::string::npos);
  }
  SUBCASE("a fileio key on a cpu experiment") {
    CHECK(suite_error(base + "file-total-size = \"1G\"\n").find("for workload cpu") != std::string::npos);
  }
  SUBCASE("a bad size") {
    auto msg = suite_error("name = \"t\"\n[[experiment]]\nname = \"f\"\nworkload = \"fileio\"\nfile-total-size = \"100MB\"\n");
    CHECK(msg.find("must be a size such as \"100M\"") != std::string::npos);
  }
  SUBCASE("no experiments") {
    CHECK(suite_error("name = \"t\"\n").find("no experiments") != std::string::npos);
  }
  SUBCASE("duplicate names") {
    CHECK(suite_error(base + "[[experiment]]\nname = \"c\"\nworkload = \"cpu\"\n").find("used twice") != std::string::npos);
  }
  SUBCASE("not TOML at all") {
    CHECK(suite_error("name = \n").find("my.toml:1: not valid TOML") == 0);
  }
  SUBCASE("an unknown top-level key") {
    CHECK(suite_error("name = \"t\"\niteration = 3\n").find("(did you mean \"iterations\"?)") != std::string::npos);
  }
}

TEST_CASE("unknown suite names list the built-in ones") {
  CHECK_THROWS_WITH_AS(load_suite("qiuck"), doctest::Contains("built-in suites: coen241-hw1, coen241-hw1-matrix, quick"), UsageError);
}

TEST_CASE("interleaved plans shuffle platforms per round, reproducibly from the seed") {
  auto s = parse_suite(k_valid, "my.toml"); // c: 1 warm-up + 2 iterations; f: 2 iterations
  auto a = plan_steps(s, 3, Order::interleaved, 42);
  auto b = plan_steps(s, 3, Order::interleaved, 42);
  REQUIRE(a.size() == (3 + 2) * 3);
  CHECK(std::equal(a.begin(), a.end(), b.begin(), [](auto& x, auto& y) { return x.platform == y.platform; }));
  // Every round holds each platform exactly once; experiments run in order.
  std::map<std::pair<std::size_t, int>, std::set<std::size_t>> rounds;
  for (auto& st : a)
    rounds[{st.experiment, st.round}].insert(st.platform);
  for (auto& [k, platforms] : rounds)
    CHECK(platforms.size() == 3);
  CHECK(a.front().warmup == 1);
  CHECK(a.front().iteration == 0);
  CHECK(a.back().iteration == 2);
  // Over several seeds, the orders are not all the same.
  std::set<std::vector<std::size_t>> orders;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    auto plan = plan_steps(s, 3, Order::interleaved, seed);
    orders.insert({plan[0].platform, plan[1].platform, plan[2].platform});
  }
  CHECK(orders.size() > 1);
}

TEST_CASE("grouped plans run one platform after another, as the assignment did") {
  auto s = parse_suite(k_valid, "my.toml");
  auto plan = plan_steps(s, 2, Order::grouped, 1);
  REQUIRE(plan.size() == 10);
  for (std::size_t i = 0; i < 5; ++i)
    CHECK(plan[i].platform == 0);
  for (std::size_t i = 5; i < 10; ++i)
    CHECK(plan[i].platform == 1);
}
