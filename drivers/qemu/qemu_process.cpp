#include "drivers/qemu/qemu_process.hpp"

// GCC 12 reports a false positive deep inside Boost.Process v2's close_all_fds when the
// launcher is inlined here (array-bounds, stringop-overflow, restrict on a memcpy of fds).
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wrestrict"

#include "util/error.hpp"
#include "util/process.hpp"

#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>

#include <fmt/format.h>

#include <csignal>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace virtbench::qemu {

namespace bp = boost::process::v2;

namespace {

// Child setup: a process group of its own, and SIGKILL if virtbench dies without
// cleaning up (kill -9 of virtbench must not leave a VM behind).
struct QemuChildSetup {
  template <typename Launcher, typename Path>
  bp::error_code on_exec_setup(Launcher&, const Path&, const char* const*&) {
    if (::setpgid(0, 0) != 0)
      return bp::error_code(errno, boost::system::system_category());
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    return {};
  }
};

constexpr std::size_t k_stderr_keep = 64 * 1024;

} // namespace

struct QemuProcess::State {
  explicit State(asio::any_io_executor ex) : executor(ex), err_pipe(ex), in_pipe(ex) {}
  asio::any_io_executor executor;
  std::optional<bp::process> process;
  asio::readable_pipe err_pipe;
  asio::writable_pipe in_pipe; // held open (hold_stdin), never written
  pid_t pid = 0;
  bool exited = false;
  int exit_code = 0;
  int term_signal = 0;
  std::string err;
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  std::function<void()> on_exit;

  void mark_exited(int native_status) {
    if (exited)
      return;
    exited = true;
    if (WIFSIGNALED(native_status))
      term_signal = WTERMSIG(native_status);
    else
      exit_code = WEXITSTATUS(native_status);
    for (auto& w : std::exchange(waiters, {}))
      w->cancel();
    if (auto handler = std::exchange(on_exit, nullptr))
      handler();
  }
};

namespace {

awaitable<void> watch(std::shared_ptr<QemuProcess::State> s) {
  auto [ec, code] = co_await s->process->async_wait(asio::as_tuple(use_awaitable));
  (void)code;
  int status = s->process->native_exit_code();
  if (ec) {
    // Reaped elsewhere (the destructor) or the wait failed: it is gone either way.
    status = 0;
    if (::kill(s->pid, 0) == 0)
      co_return;
  }
  s->mark_exited(status);
}

awaitable<void> collect_stderr(std::shared_ptr<QemuProcess::State> s) {
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await s->err_pipe.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
    s->err.append(buf, n);
    if (s->err.size() > 2 * k_stderr_keep)
      s->err.erase(0, s->err.size() - k_stderr_keep);
    if (ec)
      co_return;
  }
}

} // namespace

QemuProcess::QemuProcess(asio::any_io_executor executor) : m_state(std::make_shared<State>(executor)) {}

QemuProcess::~QemuProcess() {
  auto& s = *m_state;
  s.on_exit = nullptr; // the owner is going away: nobody to tell
  if (s.pid > 0 && !s.exited) {
    ::kill(-s.pid, SIGKILL);
    ::kill(s.pid, SIGKILL);
    int status = 0;
    if (::waitpid(s.pid, &status, 0) == s.pid) {
      if (s.process)
        s.process->detach(); // reaped here; Boost must not wait for it again
      s.mark_exited(status);
    }
  }
  boost::system::error_code ec;
  s.err_pipe.close(ec);
  s.in_pipe.close(ec);
}

void QemuProcess::start(const std::vector<std::string>& argv, bool hold_stdin) {
  auto& s = *m_state;
  if (argv.empty())
    throw Error("start QEMU: empty command");
  auto exe = bp::environment::find_executable(argv[0]);
  if (exe.empty())
    throw Error("start QEMU: " + argv[0] + " not found in PATH; install qemu-system-x86 (tools/setup does)");
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  asio::writable_pipe err_write(s.executor);
  asio::connect_pipe(s.err_pipe, err_write);
  try {
    if (hold_stdin)
      s.process.emplace(s.executor, exe, args, bp::process_stdio{s.in_pipe, nullptr, err_write}, QemuChildSetup{});
    else
      s.process.emplace(s.executor, exe, args, bp::process_stdio{nullptr, nullptr, err_write}, QemuChildSetup{});
  } catch (const std::exception& e) {
    throw Error("start " + format_argv(argv) + ": " + e.what());
  }
  err_write.close();
  s.pid = static_cast<pid_t>(s.process->id());
  ::setpgid(s.pid, s.pid); // also from here, so a kill right after the start reaches the group
  asio::co_spawn(s.executor, watch(m_state), asio::detached);
  asio::co_spawn(s.executor, collect_stderr(m_state), asio::detached);
}

bool QemuProcess::started() const { return m_state->pid > 0; }
bool QemuProcess::running() const { return m_state->pid > 0 && !m_state->exited; }
int QemuProcess::pid() const { return m_state->pid; }

std::string QemuProcess::exit_description() const {
  auto& s = *m_state;
  if (!s.exited)
    return {};
  if (s.term_signal)
    return fmt::format("signal {}", s.term_signal);
  return fmt::format("exit code {}", s.exit_code);
}

std::string QemuProcess::stderr_text() const { return m_state->err; }

awaitable<bool> QemuProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  auto s = m_state;
  if (s->exited || s->pid <= 0)
    co_return true;
  auto timer = std::make_shared<asio::steady_timer>(s->executor, timeout);
  s->waiters.push_back(timer);
  auto [ec] = co_await timer->async_wait(asio::as_tuple(use_awaitable));
  std::erase(s->waiters, timer);
  if (s->exited)
    co_return true;
  if (ec == asio::error::operation_aborted)
    throw boost::system::system_error(ec);
  co_return false;
}

void QemuProcess::on_exit(std::function<void()> handler) {
  if (m_state->exited && handler) {
    handler();
    return;
  }
  m_state->on_exit = std::move(handler);
}

awaitable<std::string> QemuProcess::terminate(std::chrono::milliseconds grace) {
  auto s = m_state;
  std::string problems;
  if (s->pid <= 0)
    co_return problems;
  if (!s->exited) {
    ::kill(-s->pid, SIGTERM);
    if (!co_await wait_for_exit(grace)) {
      ::kill(-s->pid, SIGKILL);
      ::kill(s->pid, SIGKILL);
      if (!co_await wait_for_exit(std::chrono::seconds(10)))
        problems = fmt::format("QEMU (pid {}) did not exit after SIGKILL", s->pid);
    }
  }
  // The leader is reaped; anything still in its group is a survivor.
  if (s->exited && ::kill(-s->pid, 0) == 0) {
    ::kill(-s->pid, SIGKILL);
    problems = fmt::format("processes of QEMU's group {} survived it and were killed", s->pid);
  }
  co_return problems;
}

std::pair<double, double> parse_proc_pid_stat_cpu(std::string_view stat, long ticks_per_second) {
  // "pid (comm) S ppid ..." — comm may contain spaces and parentheses: split after the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string_view::npos)
    throw Error("parse /proc/PID/stat: no \")\" in \"" + std::string(stat.substr(0, 80)) + "\"");
  auto rest = stat.substr(close + 1);
  // Fields after comm start at field 3 (state); utime is field 14, stime 15.
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < rest.size() && fields.size() < 13) {
    while (i < rest.size() && rest[i] == ' ')
      ++i;
    auto j = rest.find(' ', i);
    if (j == std::string_view::npos)
      j = rest.size();
    if (j > i)
      fields.push_back(rest.substr(i, j - i));
    i = j;
  }
  if (fields.size() < 13)
    throw Error("parse /proc/PID/stat: too few fields in \"" + std::string(stat.substr(0, 200)) + "\"");
  auto ticks = [&](std::string_view f) {
    try {
      return std::stod(std::string(f)) / static_cast<double>(ticks_per_second);
    } catch (const std::exception&) {
      throw Error("parse /proc/PID/stat: \"" + std::string(f) + "\" is not a number");
    }
  };
  return {ticks(fields[11]), ticks(fields[12])};
}

} // namespace virtbench::qemu
