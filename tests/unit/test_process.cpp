#include "test_util.hpp"
#include "util/error.hpp"
#include "util/process.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <csignal>
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
  pid_t child = 0;
  std::exception_ptr error;
  // A sleep of a length no other process on the host uses, so the check below judges only ours.
  auto seconds = fmt::format("30.{}", ::getpid());
  std::vector<std::string> argv{"sh", "-c", "exec sleep \"$1\"", "sh", seconds};
  asio::co_spawn(io, run_process(argv),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, ProcessResult) { error = e; }));
  asio::steady_timer t(io, std::chrono::milliseconds(300));
  t.async_wait([&](auto) { cancel.emit(asio::cancellation_type::terminal); });
  auto started = std::chrono::steady_clock::now();
  io.run();
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK(error != nullptr);
  (void)child;
  // Our sleep does not survive.
  std::vector<std::string> pgrep{"pgrep", "-f", "^sleep " + seconds + "$"};
  auto r = run_sync(run_process(pgrep));
  CHECK(r.out.empty());
}

TEST_CASE("format_argv quotes only what needs it") {
  CHECK(format_argv({"sysbench", "cpu", "--cpu-max-prime=2000", "run"}) == "sysbench cpu --cpu-max-prime=2000 run");
  CHECK(format_argv({"sh", "-c", "a b", "it's"}) == "sh -c 'a b' 'it'\\''s'");
}
