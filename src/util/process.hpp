#pragma once
// Child processes on the host: argv arrays only, output captured, a deadline that
// kills the whole process group, and no child outliving its owner.

#include "util/asio.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace virtbench {

// What run_process keeps of a child's stdout and of its stderr, each: a child printing more is
// killed (ProcessResult::output_limited), so runaway output cannot grow virtbench's memory.
inline constexpr std::size_t k_max_process_output = std::size_t(64) << 20;

struct ProcessOptions {
  std::chrono::milliseconds timeout = std::chrono::minutes(10); // then SIGKILL to the group
  std::filesystem::path cwd = {};                               // empty: inherit
  bool pass_through_stderr = false; // the child's stderr goes to ours (progress of long jobs)
  std::vector<std::pair<std::string, std::string>> env = {}; // added to the inherited environment
  std::size_t max_output = k_max_process_output;             // per stream; then SIGKILL to the group
  // stdin is a pipe held open (nothing written) until the child exits, instead of /dev/null:
  // an ssh client then keeps the remote command's stdin open, and the remote side sees its
  // end (EOF) when the client goes away.
  bool hold_stdin = false;
  // When >= 0: the child's stdin is this descriptor (a file opened at the offset to send;
  // the caller keeps and closes it). Takes precedence over hold_stdin.
  int stdin_fd = -1;
  // The kernel sends the child SIGKILL when virtbench dies, even by SIGKILL (PR_SET_PDEATHSIG).
  bool die_with_parent = false;
};

struct ProcessResult {
  int exit_code = -1;     // -1 when killed by a signal
  int term_signal = 0;    // the signal that ended it, 0 if it exited
  bool timed_out = false; // the deadline passed and the group was killed
  bool output_limited = false; // it printed more than max_output and the group was killed
  std::string out;
  std::string err;
  double wall_s = 0;
  double user_s = 0;   // CPU seconds of the child and its waited-for descendants
  double kernel_s = 0; // (RUSAGE_CHILDREN delta: processes are run one at a time)
};

// Runs argv[0] (looked up in PATH) with argv[1..] in its own process group and waits
// for it. Throws Error when it cannot be started. On cancellation (Ctrl-C) or timeout the
// process group is killed with SIGKILL and reaped before this returns or unwinds.
awaitable<ProcessResult> run_process(std::vector<std::string> argv, ProcessOptions options = {});

// Human-readable argv for error messages: shell-quoted where needed.
std::string format_argv(const std::vector<std::string>& argv);

// Text saying how a process ended: "exit code 3", "killed by signal 9", "timed out after 5 s".
std::string describe_exit(const ProcessResult& r, std::chrono::milliseconds timeout);

// run_process that throws Error("<argv>: <how it ended>\n<stderr tail>") unless it exits 0.
awaitable<ProcessResult> check_process(std::vector<std::string> argv, ProcessOptions options = {});

// The first line `program flag` prints (stdout, else stderr), run on its own io_context
// with a 10 s limit; "installed" when it prints nothing, empty when it is not on PATH.
std::string program_version(const std::string& program, const std::string& flag = "--version");

} // namespace virtbench
