// sweep_dead_owners: directories a SIGKILLed process left are removed by the next one; those
// of live owners, of reused pids' new processes and of running daemons are told apart.
// tests/integration/test_leftovers.py does the same with a real SIGKILLed `virtbench run`.
#include "test_util.hpp"
#include "util/fs.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace virtbench;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string owner_line(long pid, unsigned long long started) {
  return std::to_string(pid) + " " + std::to_string(started) + "\n";
}

} // namespace

TEST_CASE("leftovers: the directory of a SIGKILLed owner is swept; a live owner's and a daemon's stay") {
  TempDir parent(fs::temp_directory_path(), "vbtest-sweep-");
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  auto child_started = process_start_time(child);
  REQUIRE(child_started);
  ::kill(child, SIGKILL);
  REQUIRE(::waitpid(child, nullptr, 0) == child); // gone, its pid free

  auto me = static_cast<long>(::getpid());
  auto my_start = process_start_time(me);
  REQUIRE(my_start);
  auto dir = [&](const std::string& name, const std::string& owner) {
    auto d = parent.path() / name;
    fs::create_directory(d);
    if (!owner.empty())
      write(d / "owner", owner);
    return d;
  };
  auto killed = dir("run-killed", owner_line(child, *child_started));
  auto reused = dir("run-reused", owner_line(me, *my_start + 1)); // this pid, another start: not its owner
  auto live = dir("run-live", owner_line(me, *my_start));
  auto daemon = dir("run-daemon", owner_line(child, *child_started));
  write(daemon / "docker.pid", std::to_string(me)); // a live process of the dead run
  auto fresh = dir("run-fresh", "");                 // no owner yet: just created, perhaps
  auto other = dir("charts-killed", owner_line(child, *child_started)); // another prefix

  auto swept = sweep_dead_owners(parent.path(), "run-");
  REQUIRE(swept.size() == 2);
  std::sort(swept.begin(), swept.end(), [](auto& a, auto& b) { return a.path < b.path; });
  CHECK(swept[0].path == killed);
  CHECK(swept[0].reason == "its owner (pid " + std::to_string(child) + ") is no longer running");
  CHECK(swept[1].path == reused);
  CHECK(swept[1].reason == "its owner (pid " + std::to_string(me) + ") is gone; that pid is another process now");
  CHECK_FALSE(fs::exists(killed));
  CHECK_FALSE(fs::exists(reused));
  for (auto& kept : {live, daemon, fresh, other})
    CHECK(fs::exists(kept));
}

TEST_CASE("leftovers: record_owner writes this process's pid and start time, which keeps its directory") {
  TempDir parent(fs::temp_directory_path(), "vbtest-sweep-");
  TempDir mine(parent.path(), "run-");
  mine.record_owner();
  auto owner = read_file(mine.path() / "owner");
  CHECK(owner == owner_line(::getpid(), *process_start_time(::getpid())));
  CHECK(sweep_dead_owners(parent.path(), "run-").empty());
  CHECK(fs::exists(mine.path()));
  CHECK_FALSE(process_start_time(0));
}
