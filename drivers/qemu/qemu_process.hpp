#pragma once
// The QEMU process: started through Boost.Process in a process group of its own (so a
// terminal's Ctrl-C reaches virtbench, not QEMU, and a kill reaches every thread and
// helper), watched asynchronously so its death is noticed at once, and never outliving
// its owner: the destructor SIGKILLs the group and reaps it.

#include "util/asio.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench::qemu {

class QemuProcess {
public:
  explicit QemuProcess(asio::any_io_executor executor);
  ~QemuProcess();
  QemuProcess(const QemuProcess&) = delete;
  QemuProcess& operator=(const QemuProcess&) = delete;

  // Starts argv[0] (looked up in PATH); its stderr is kept (the last 64 KiB). Throws Error.
  // hold_stdin: its stdin is a pipe held open while this owner lives (an ssh running QEMU on
  // a remote host, whose wrapper ends QEMU when that stdin closes), else /dev/null.
  void start(const std::vector<std::string>& argv, bool hold_stdin = false);

  bool started() const;
  bool running() const;
  int pid() const;
  // "exit code 1", "signal 9"; empty while running.
  std::string exit_description() const;
  std::string stderr_text() const;

  // True once QEMU has exited, false when `timeout` passed first.
  awaitable<bool> wait_for_exit(std::chrono::milliseconds timeout);
  // Called (once) as soon as the exit is noticed.
  void on_exit(std::function<void()> handler);

  // SIGTERM to the group, `grace` to exit, then SIGKILL; then checks that no process of
  // the group survived (killing any). Returns what went wrong, empty when all is well.
  awaitable<std::string> terminate(std::chrono::milliseconds grace);

  struct State;

private:
  std::shared_ptr<State> m_state;
};

// Cumulative CPU seconds (user, kernel) from a /proc/PID/stat line: fields 14 and 15
// (utime, stime, in clock ticks), which include the process's exited threads. Throws
// Error on a malformed line.
std::pair<double, double> parse_proc_pid_stat_cpu(std::string_view stat, long ticks_per_second);

} // namespace virtbench::qemu
