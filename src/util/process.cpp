#include "util/process.hpp"

#include "util/child.hpp"
#include "util/error.hpp"

#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/posix/default_launcher.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/start_dir.hpp>
#include <boost/process/v2/stdio.hpp>

#include <algorithm>
#include <csignal>
#include <functional>
#include <utility>
#include <cstdio>
#include <cstring>
#include <sys/wait.h>
#include <sys/resource.h>
#include <unistd.h>

namespace virtbench {

namespace bp = boost::process::v2;

namespace {

// Kills the process group on scope exit unless disarmed: the guarantee that a
// cancelled or failed wait never leaves the workload running.
struct GroupKiller {
  pid_t pgid;
  bool armed = true;
  ~GroupKiller() {
    if (armed)
      ::kill(-pgid, SIGKILL);
  }
};

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; }

// Reads the pipe to its end into `sink`, at most `limit` bytes; past that, calls `overflow`
// once (which kills the process) and drops the rest, so a runaway child cannot grow our memory.
awaitable<void> read_all(asio::readable_pipe& pipe, std::string& sink, std::size_t limit,
                         const std::function<void()>& overflow) {
  if (!pipe.is_open())
    co_return;
  char buf[16384];
  bool overflowed = false;
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
    auto keep = std::min(n, limit - std::min(limit, sink.size()));
    sink.append(buf, keep);
    if (keep < n && !std::exchange(overflowed, true))
      overflow();
    if (ec)
      co_return; // eof, or the pipe was closed
  }
}

std::filesystem::path find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos)
    return name;
  auto found = bp::environment::find_executable(name);
  if (found.empty())
    throw Error("run " + name + ": not found in PATH; install it (tools/setup installs what virtbench needs)");
  return found.string();
}

} // namespace

std::string format_argv(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty())
      s += ' ';
    bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == std::string::npos;
    if (plain) {
      s += a;
    } else {
      s += '\'';
      for (char c : a)
        s += c == '\'' ? std::string("'\\''") : std::string(1, c);
      s += '\'';
    }
  }
  return s;
}

std::string describe_exit(const ProcessResult& r, std::chrono::milliseconds timeout) {
  if (r.output_limited)
    return "printed more output than virtbench keeps and was killed";
  if (r.timed_out)
    return "timed out after " + std::to_string(timeout.count() / 1000.0).substr(0, 5) + " s and was killed";
  if (r.term_signal != 0)
    return "killed by signal " + std::to_string(r.term_signal);
  return "exit code " + std::to_string(r.exit_code);
}

awaitable<ProcessResult> run_process(std::vector<std::string> argv, ProcessOptions options) {
  if (argv.empty())
    throw Error("run: empty command");
  auto executor = co_await asio::this_coro::executor;
  auto exe = find_executable(argv[0]);
  std::vector<std::string> args(argv.begin() + 1, argv.end());

  asio::readable_pipe out_pipe(executor), err_pipe(executor);
  asio::writable_pipe in_pipe(executor);

  rusage before{};
  ::getrusage(RUSAGE_CHILDREN, &before);
  auto started = std::chrono::steady_clock::now();

  ProcessResult result;
  std::optional<bp::process> proc;
  try {
    auto cwd = options.cwd.empty() ? std::filesystem::current_path() : options.cwd;
    std::vector<std::string> env_strings;
    std::vector<const char*> env;
    if (!options.env.empty()) {
      for (char** e = environ; *e; ++e)
        env_strings.emplace_back(*e);
      for (auto& [k, v] : options.env)
        env_strings.push_back(k + "=" + v);
      for (auto& e : env_strings)
        env.push_back(e.c_str());
      env.push_back(nullptr);
    }
    // (A binding owns the pipe end it made: built in place, never assigned.)
    auto start = [&](auto&& in) {
      bp::process_stdio stdio{in, out_pipe, err_pipe};
      if (options.pass_through_stderr) {
        stdio.err = bp::detail::process_error_binding(STDERR_FILENO);
        err_pipe.close();
      }
      proc.emplace(executor, exe, args, std::move(stdio), bp::process_start_dir{cwd.string()},
                   ChildSetup{env.empty() ? nullptr : env.data(), options.die_with_parent});
    };
    if (options.stdin_fd >= 0)
      start(options.stdin_fd);
    else if (options.hold_stdin)
      start(in_pipe);
    else
      start(nullptr);
  } catch (...) {
    rethrow_with_context("start " + format_argv(argv));
  }

  GroupKiller killer{static_cast<pid_t>(proc->id())};
  // Also from the parent, so a kill right after the start cannot miss the group.
  ::setpgid(killer.pgid, killer.pgid);
  asio::steady_timer deadline(executor, options.timeout);
  deadline.async_wait([&result, &killer](boost::system::error_code ec) {
    if (!ec) {
      result.timed_out = true;
      ::kill(-killer.pgid, SIGKILL);
    }
  });

  struct TimerCancel {
    asio::steady_timer& t;
    ~TimerCancel() { t.cancel(); }
  } cancel_timer{deadline};

  auto overflow = [&result, &killer] {
    result.output_limited = true;
    ::kill(-killer.pgid, SIGKILL);
  };
  co_await (read_all(out_pipe, result.out, options.max_output, overflow) &&
            read_all(err_pipe, result.err, options.max_output, overflow) && proc->async_wait(use_awaitable));
  int native_status = proc->native_exit_code();
  in_pipe.close();
  killer.armed = false;
  // Descendants that outlived the leader (daemonised helpers) must not outlive the run.
  ::kill(-killer.pgid, SIGKILL);

  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  rusage after{};
  ::getrusage(RUSAGE_CHILDREN, &after);
  result.user_s = seconds(after.ru_utime) - seconds(before.ru_utime);
  result.kernel_s = seconds(after.ru_stime) - seconds(before.ru_stime);

  if (WIFSIGNALED(native_status)) {
    result.term_signal = WTERMSIG(native_status);
    result.exit_code = -1;
  } else {
    result.exit_code = WEXITSTATUS(native_status);
  }
  co_return result;
}

awaitable<ProcessResult> check_process(std::vector<std::string> argv, ProcessOptions options) {
  auto r = co_await run_process(argv, options);
  if (r.exit_code != 0 || r.timed_out)
    throw Error(format_argv(argv) + ": " + describe_exit(r, options.timeout) +
                (r.err.empty() ? std::string() : "\n" + tail_lines(r.err, 20)));
  co_return r;
}

std::string program_version(const std::string& program, const std::string& flag) {
  if (boost::process::v2::environment::find_executable(program).empty())
    return {};
  asio::io_context io;
  std::string line;
  std::vector<std::string> argv{program, flag};
  ProcessOptions po;
  po.timeout = std::chrono::seconds(10);
  asio::co_spawn(io, run_process(argv, po), [&](std::exception_ptr e, ProcessResult r) {
    if (!e) {
      auto& text = r.out.empty() ? r.err : r.out;
      line = text.substr(0, text.find('\n'));
    }
  });
  io.run();
  return line.empty() ? std::string("installed") : line;
}

} // namespace virtbench
