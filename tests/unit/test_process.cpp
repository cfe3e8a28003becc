#include "test_util.hpp"
#include "util/error.hpp"
#include "util/process.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <sstream>
#include <unistd.h>

using namespace virtbench;
using virtbench::test::run_sync;

namespace {
// True when pid exists and is not a zombie waiting for init to reap it.
bool process_alive(int pid) {
  try {
    auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto state = stat.at(stat.rfind(')') + 2);
    return state != 'Z' && state != 'X';
  } catch (const std::exception&) {
    return false;
  }
}

// Live (non-zombie) processes whose process group is `pgid`.
std::vector<int> group_members(int pgid) {
  std::vector<int> members;
  for (auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    try {
      auto stat = read_file(entry.path() / "stat");
      // After "(comm)": state ppid pgrp ...
      std::istringstream fields(stat.substr(stat.rfind(')') + 2));
      char state = 0;
      int ppid = 0, pgrp = 0;
      fields >> state >> ppid >> pgrp;
      if (pgrp == pgid && state != 'Z' && state != 'X')
        members.push_back(std::stoi(name));
    } catch (const std::exception&) { // it exited while we looked
    }
  }
  return members;
}
} // namespace

TEST_CASE("run_process captures stdout, stderr and the exit code of an argv") {
  auto r = run_sync(run_process({"sh", "-c", "echo out; echo err >&2; exit 3"}));
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.timed_out);
}

TEST_CASE("arguments are passed as they are, never through a shell") {
  auto r = run_sync(run_process({"echo", "$HOME; rm -rf /", "'quoted'"}));
  CHECK(r.out == "$HOME; rm -rf / 'quoted'\n");
}

TEST_CASE("a timeout kills the whole process group") {
  // The child starts a grandchild that would outlive a plain kill of the child.
  auto r = run_sync(run_process({"sh", "-c", "sleep 30 & echo $!; wait"}, {.timeout = std::chrono::milliseconds(300)}));
  CHECK(r.timed_out);
  CHECK(r.term_signal == SIGKILL);
  CHECK(r.wall_s < 5);
  auto grandchild = std::stoi(r.out);
  // SIGKILL is delivered asynchronously: give the kernel a moment to finish it.
  for (int i = 0; i < 100 && process_alive(grandchild); ++i)
    ::usleep(20000);
  CHECK_FALSE(process_alive(grandchild));
}

TEST_CASE("CPU time of the child is measured") {
  auto r = run_sync(run_process({"sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"}));
  CHECK(r.exit_code == 0);
  CHECK(r.user_s + r.kernel_s > 0.01);
  CHECK(r.user_s + r.kernel_s <= r.wall_s + 0.05);
}

TEST_CASE("a missing program is a clear error") {
  CHECK_THROWS_WITH_AS(run_sync(run_process({"no-such-program-virtbench"})),
                       doctest::Contains("no-such-program-virtbench: not found in PATH"), Error);
}

TEST_CASE("check_process quotes the argv, the exit and stderr") {
  CHECK_THROWS_WITH_AS(run_sync(check_process({"sh", "-c", "echo boom >&2; exit 4"})),
                       doctest::Contains("sh -c 'echo boom >&2; exit 4': exit code 4\nboom"), Error);
}

TEST_CASE("cancelling the wait (Ctrl-C) kills the child before unwinding") {
  asio::io_context io;
  asio::cancellation_signal cancel;
  std::exception_ptr error;
  // The child (the leader of its own process group) writes its pid and its background
  // grandchild's, so that the checks below judge only these two.
  TempDir dir(std::filesystem::temp_directory_path(), "vb-process-");
  auto pids_file = dir.path() / "pids";
  std::vector<std::string> argv{"sh", "-c", "sleep 30 & echo $$ $! > \"$1\"; wait", "sh", pids_file.string()};
  asio::co_spawn(io, run_process(argv),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, ProcessResult) { error = e; }));
  asio::steady_timer t(io, std::chrono::milliseconds(300));
  t.async_wait([&](auto) { cancel.emit(asio::cancellation_type::terminal); });
  auto started = std::chrono::steady_clock::now();
  io.run();
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK(error != nullptr);
  std::istringstream pids(read_file(pids_file));
  int child = 0, grandchild = 0;
  pids >> child >> grandchild;
  REQUIRE_MESSAGE(child > 0, "the child did not write its pid to ", pids_file.string());
  REQUIRE(grandchild > 0);
  CHECK_FALSE(process_alive(child)); // reaped before run_process unwound
  // SIGKILL to the group is delivered asynchronously: give the kernel a moment to finish it.
  for (int i = 0; i < 100 && (process_alive(grandchild) || !group_members(child).empty()); ++i)
    ::usleep(20000);
  CHECK_FALSE(process_alive(grandchild));
  CHECK(group_members(child).empty());
}

TEST_CASE("format_argv quotes only what needs it") {
  CHECK(format_argv({"sysbench", "cpu", "--cpu-max-prime=2000", "run"}) == "sysbench cpu --cpu-max-prime=2000 run");
  CHECK(format_argv({"sh", "-c", "a b", "it's"}) == "sh -c 'a b' 'it'\\''s'");
}
