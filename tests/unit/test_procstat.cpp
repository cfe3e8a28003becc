#include "procstat.hpp"
#include "util/error.hpp"

#include <doctest/doctest.h>

using namespace virtbench;

TEST_CASE("/proc/stat deltas give the user/kernel split; user includes nice, kernel irq and softirq") {
  auto a = parse_proc_stat("cpu  100 0 50 1000 10 0 0 0 0 0\ncpu0 50 0 25 500 5 0 0 0 0 0\nintr 1 2 3\n");
  auto b = parse_proc_stat("cpu  160 20 80 1080 20 5 5 10 0 0\ncpu0 80 0 40 540 10 0 0 0 0 0\n");
  auto s = cpu_split(a, b);
  // deltas: user 60 + nice 20 = 80; kernel 30 + 5 + 5 = 40; idle 80; iowait 10; steal 10; total 220
  CHECK(s.user_pct == doctest::Approx(100.0 * 80 / 220));
  CHECK(s.kernel_pct == doctest::Approx(100.0 * 40 / 220));
  CHECK(s.idle_pct == doctest::Approx(100.0 * 80 / 220));
  CHECK(s.iowait_pct == doctest::Approx(100.0 * 10 / 220));
  CHECK(s.steal_pct == doctest::Approx(100.0 * 10 / 220));
  CHECK(s.user_pct + s.kernel_pct + s.idle_pct + s.iowait_pct + s.steal_pct == doctest::Approx(100));
}

TEST_CASE("/proc/stat without a cpu line is an error, not zeros") {
  CHECK_THROWS_AS(parse_proc_stat("intr 1 2 3\n"), Error);
}

TEST_CASE("/proc/meminfo values") {
  std::string text = "MemTotal:       24576000 kB\nMemFree:        20000000 kB\nCached:           123456 kB\nSwapCached:            0 kB\n";
  CHECK(parse_meminfo_kib(text, "Cached") == 123456);
  CHECK(parse_meminfo_kib(text, "MemTotal") == 24576000);
  CHECK_THROWS_AS(parse_meminfo_kib(text, "Shmem"), Error);
}
