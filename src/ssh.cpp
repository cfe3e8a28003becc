#include "ssh.hpp"

#include "util/child.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <sstream>
#include <thread>

namespace virtbench {

namespace bp = boost::process::v2;
namespace fs = std::filesystem;

namespace {

// OpenSSH binds the socket as PATH.<16 random characters> first, then links it: sun_path's
// 108 bytes less that suffix and the NUL.
constexpr std::size_t k_max_control_path = 108 - 18;

} // namespace

// --- the master --------------------------------------------------------------------------

struct SshConnection::Master {
  asio::io_context io;
  std::optional<bp::process> process;
};

SshConnection::SshConnection(SshSettings settings, fs::path runtime_dir)
    : m_settings(std::move(settings)), m_runtime_dir(std::move(runtime_dir)),
      m_control_path(m_runtime_dir / "ssh"), m_log_path(m_runtime_dir / "ssh.log") {}

SshConnection::~SshConnection() { close(); }

namespace {

std::vector<std::string> base_argv(const SshSettings& s) {
  std::vector<std::string> argv{"ssh"};
  if (!s.config_file.empty()) {
    argv.push_back("-F");
    argv.push_back(s.config_file);
  }
  argv.insert(argv.end(), {"-o", "BatchMode=yes"});
  if (s.target.port) {
    argv.push_back("-p");
    argv.push_back(std::to_string(*s.target.port));
  }
  if (!s.target.user.empty()) {
    argv.push_back("-l");
    argv.push_back(s.target.user);
  }
  return argv;
}

} // namespace

void SshConnection::open() {
  if (m_master)
    return;
  if (m_control_path.string().size() > k_max_control_path)
    throw Error(fmt::format("ssh {}: the control socket path {} is longer than the {} bytes a Unix socket allows; "
                            "set XDG_RUNTIME_DIR to a shorter directory",
                            m_settings.target.url(), m_control_path.string(), k_max_control_path));
  if (!m_settings.config_file.empty() && !fs::exists(m_settings.config_file))
    throw UsageError(fmt::format("--ssh-config {}: no such file", m_settings.config_file));
  if (boost::process::v2::environment::find_executable("ssh").empty())
    throw UsageError("--host needs the OpenSSH client: apt-get install openssh-client (tools/setup installs it)");
  auto argv = base_argv(m_settings);
  argv.insert(argv.end(), {"-M", "-N", "-S", m_control_path.string(), "-E", m_log_path.string(), "-o",
                           "ControlPersist=no", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o",
                           "ServerAliveCountMax=3", "--", m_settings.target.host});
  auto master = std::make_unique<Master>();
  try {
    auto exe = bp::environment::find_executable("ssh");
    std::vector<std::string> args(argv.begin() + 1, argv.end());
    master->process.emplace(master->io, exe, args, bp::process_stdio{nullptr, nullptr, nullptr},
                            ChildSetup{nullptr, true});
  } catch (...) {
    rethrow_with_context("start " + format_argv(argv));
  }
  m_master = std::move(master);
  auto pid = static_cast<long>(m_master->process->id());
  try {
    write_file_atomic(m_runtime_dir / k_ssh_master_file,
                      fmt::format("{} {}\n", pid, process_start_time(pid).value_or(0)));
  } catch (const std::exception&) {
    // the master still dies with virtbench (PR_SET_PDEATHSIG)
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(25);
  for (;;) {
    std::error_code ec;
    if (fs::exists(m_control_path, ec))
      return;
    if (!alive()) {
      auto failure = classify_ssh_failure(master_log_tail(), m_settings.target, m_settings.config_file);
      close();
      if (failure.usage)
        throw UsageError(failure.message);
      throw Error(failure.message);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      auto tail = master_log_tail();
      close();
      throw Error(fmt::format("ssh {}: not logged in after 25 s{}; check the host and the network",
                              m_settings.target.url(), tail.empty() ? "" : " (" + last_ssh_line(tail) + ")"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool SshConnection::alive() {
  if (!m_master || !m_master->process)
    return false;
  boost::system::error_code ec;
  return m_master->process->running(ec);
}

long SshConnection::master_pid() const {
  return m_master && m_master->process ? static_cast<long>(m_master->process->id()) : 0;
}

std::string SshConnection::master_log_tail() {
  try {
    // All of it (the changed-key banner is 16 lines), bounded: what ssh wrote before it gave up.
    auto log = read_file(m_log_path);
    return log.size() > 16384 ? log.substr(log.size() - 16384) : log;
  } catch (const std::exception&) {
    return {};
  }
}

void SshConnection::close() noexcept {
  if (!m_master)
    return;
  try {
    if (alive()) {
      std::error_code ec;
      if (fs::exists(m_control_path, ec)) {
        auto argv = base_argv(m_settings);
        argv.insert(argv.end(), {"-S", m_control_path.string(), "-O", "exit", "--", m_settings.target.host});
        asio::io_context io;
        ProcessOptions po;
        po.timeout = std::chrono::seconds(5);
        asio::co_spawn(io, run_process(argv, po), [](std::exception_ptr, ProcessResult) {});
        io.run();
      }
      for (int i = 0; i < 100 && alive(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (alive()) {
      auto pid = static_cast<pid_t>(m_master->process->id());
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      boost::system::error_code ec;
      m_master->process->wait(ec);
    }
  } catch (...) {
  }
  std::error_code ec;
  fs::remove(m_runtime_dir / k_ssh_master_file, ec);
  fs::remove(m_control_path, ec);
  m_master.reset();
}

std::vector<std::string> SshConnection::ssh_argv(const std::string& remote_command) const {
  auto argv = base_argv(m_settings);
  argv.insert(argv.end(), {"-S", m_control_path.string(), "-o", "ControlMaster=no", "-o", "ProxyCommand=false", "-T",
                           "--", m_settings.target.host, remote_command});
  return argv;
}

awaitable<ProcessResult> SshConnection::run(std::vector<std::string> argv, ProcessOptions options) {
  auto full = ssh_argv(shell_quote(argv));
  options.hold_stdin = true;
  co_return co_await run_process(std::move(full), std::move(options));
}

ProcessResult SshConnection::run_sync(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  ProcessOptions po;
  po.timeout = timeout;
  return virtbench::run_sync(run(argv, po));
}

namespace {

// Runs a control command (`ssh -S CTL -O ...`) to its end; its result.
ProcessResult run_control(std::vector<std::string> argv) {
  ProcessOptions po;
  po.timeout = std::chrono::seconds(10);
  return run_sync(run_process(std::move(argv), po));
}

} // namespace

awaitable<void> SshConnection::forward(std::string local, std::string remote) {
  auto spec = unix_forward_spec(local, remote);
  auto what = fmt::format("forward {} to {} on {}", local, remote, m_settings.target.url());
  if (!alive())
    throw PlatformLost(what + ": the SSH connection is gone; check the host and the network, then run again");
  std::error_code ec;
  fs::remove(local, ec); // (a socket of an earlier attempt: ssh refuses to bind over it)
  auto argv = base_argv(m_settings);
  argv.insert(argv.end(), {"-S", m_control_path.string(), "-O", "forward", "-L", spec, "--", m_settings.target.host});
  ProcessOptions po;
  po.timeout = std::chrono::seconds(10);
  ProcessResult r;
  try {
    r = co_await run_process(argv, po);
  } catch (...) {
    rethrow_with_context(what);
  }
  if (r.exit_code != 0 || r.timed_out)
    throw Error(fmt::format("{}: `{}` {}: {}; is stream-local forwarding allowed by the host's sshd "
                            "(AllowStreamLocalForwarding, DisableForwarding)?",
                            what, format_argv(argv),
                            r.timed_out ? std::string("did not answer within 10 s")
                                        : fmt::format("exited with {}", r.exit_code),
                            last_ssh_line(r.err + r.out)));
}

void SshConnection::cancel_forward(const std::string& local, const std::string& remote) noexcept {
  try {
    if (alive()) {
      auto argv = base_argv(m_settings);
      argv.insert(argv.end(), {"-S", m_control_path.string(), "-O", "cancel", "-L", unix_forward_spec(local, remote),
                               "--", m_settings.target.host});
      (void)run_control(argv);
    }
  } catch (...) {
  }
  std::error_code ec;
  fs::remove(local, ec); // (ssh leaves the file of a cancelled Unix-socket listener)
}

void SshConnection::throw_failure(const std::string& what, const ProcessResult& r) {
  if (!alive()) {
    auto tail = master_log_tail();
    throw PlatformLost(fmt::format("{}: lost the SSH connection to {} (the master ssh exited{}); check the host "
                                   "and the network, then run again",
                                   what, m_settings.target.url(), tail.empty() ? "" : ": " + last_ssh_line(tail)));
  }
  auto failure = classify_ssh_failure(r.err, m_settings.target, m_settings.config_file);
  throw Error(what + ": " + failure.message);
}

std::string sweep_ssh_master(const fs::path& run_dir) {
  try {
    std::istringstream in(read_file(run_dir / k_ssh_master_file));
    long pid = 0;
    unsigned long long started = 0;
    if (!(in >> pid >> started) || pid <= 0)
      return {};
    auto now = process_start_time(pid);
    if (!now || *now != started)
      return {};
    auto comm = read_file(fmt::format("/proc/{}/comm", pid));
    auto stat = read_file(fmt::format("/proc/{}/stat", pid));
    auto paren = stat.rfind(')');
    bool zombie = paren != std::string::npos && stat.find(" Z ", paren) == paren + 1;
    if (!comm.starts_with("ssh") || zombie) // (a zombie: it died with its run, nobody reaped it yet)
      return {};
    ::kill(static_cast<pid_t>(pid), SIGTERM);
    return fmt::format("ended its SSH master (pid {})", pid);
  } catch (const std::exception&) {
    return {};
  }
}

} // namespace virtbench
