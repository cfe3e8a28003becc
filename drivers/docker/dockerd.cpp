#include "drivers/docker/dockerd.hpp"

#include "drivers/docker/engine_client.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace virtbench::docker {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_sbin_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string log_tail(const fs::path& p) {
  try {
    return tail_lines(read_file(p), 15);
  } catch (const std::exception&) {
    return "(no log)";
  }
}

bool is_live_process(pid_t pid, std::string_view comm_prefix) {
  if (pid <= 0 || ::kill(pid, 0) != 0)
    return false;
  try {
    return read_file(fmt::format("/proc/{}/comm", pid)).starts_with(comm_prefix);
  } catch (const std::exception&) {
    return false;
  }
}

pid_t read_pid(const fs::path& p) {
  try {
    return static_cast<pid_t>(std::stol(read_file(p)));
  } catch (const std::exception&) {
    return 0;
  }
}

// A virtbench run that was killed (SIGKILL, crash) leaves its private dockerd running, on
// a data root the next run would share: stop every one whose owner is gone. Owners write
// their pid next to the engine's (owner.pid in the same runtime directory).
void stop_orphaned_engines(const fs::path& runtime_parent, const std::function<void(const std::string&)>& log) {
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(runtime_parent, ec)) {
    auto engine_pid = read_pid(entry.path() / "docker.pid");
    auto owner_pid = read_pid(entry.path() / "owner.pid");
    if (owner_pid == 0 || is_live_process(owner_pid, "virtbench") || !is_live_process(engine_pid, "dockerd"))
      continue;
    if (log)
      log(fmt::format("docker: stopping the private dockerd (pid {}) of a virtbench run that did not stop it "
                      "(pid {}, {})",
                      engine_pid, owner_pid, entry.path().string()));
    ::kill(engine_pid, SIGTERM);
    for (int i = 0; i < 400 && is_live_process(engine_pid, "dockerd"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (is_live_process(engine_pid, "dockerd"))
      ::kill(engine_pid, SIGKILL);
    fs::remove_all(entry.path(), ec);
  }
}

} // namespace

fs::path find_dockerd() {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"}) {
    auto p = fs::path(dir) / "dockerd";
    if (::access(p.c_str(), X_OK) == 0)
      return p;
  }
  return {};
}

PrivateEngine::PrivateEngine(PrivateEngineOptions options) : m_options(std::move(options)) {
  m_socket_path = (m_options.runtime_dir / "docker.sock").string();
}

PrivateEngine::~PrivateEngine() { stop(std::chrono::seconds(5)); }

bool PrivateEngine::running() {
  if (m_pid <= 0)
    return false;
  int status = 0;
  pid_t r = ::waitpid(m_pid, &status, WNOHANG);
  if (r == m_pid || (r < 0 && errno == ECHILD)) {
    ::kill(-m_pid, SIGKILL); // containerd and anything else dockerd left in its group
    m_pid = 0;
    return false;
  }
  return true;
}

awaitable<void> PrivateEngine::start(std::chrono::seconds timeout) {
  auto dockerd = find_dockerd();
  if (dockerd.empty())
    throw Error("start a private docker engine: dockerd is not installed; apt-get install docker.io (tools/setup does)");

  stop_orphaned_engines(m_options.runtime_dir.parent_path(), m_options.log);
  write_file_atomic(m_options.runtime_dir / "owner.pid", std::to_string(::getpid()));

  // One private engine at a time on the shared data root (dockerd does not lock it); a
  // second concurrent run gets a data root of its own and imports the image again.
  fs::create_directories(m_options.data_dir);
  auto lock_path = m_options.data_dir / "docker.lock";
  m_lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (m_lock_fd >= 0 && ::flock(m_lock_fd, LOCK_EX | LOCK_NB) == 0) {
    m_data_root = m_options.data_dir / "docker";
  } else {
    if (m_lock_fd >= 0)
      ::close(m_lock_fd);
    m_lock_fd = -1;
    m_data_root = m_options.data_dir / ("docker-" + m_options.run_id);
    m_data_root_per_run = true;
    if (m_options.log)
      m_options.log("docker: " + (m_options.data_dir / "docker").string() +
                    " is in use by another virtbench run's engine; using " + m_data_root.string() +
                    " for this run (the image is imported again)");
  }
  fs::create_directories(m_data_root);
  fs::permissions(m_data_root, fs::perms::owner_all, fs::perm_options::replace);

  auto exec_root = m_options.runtime_dir / "docker-exec";
  auto config = m_options.runtime_dir / "daemon.json";
  // An empty configuration: /etc/docker/daemon.json (hosts, bridges ...) must not apply.
  write_file_atomic(config, "{}\n");
  fs::create_directories(m_options.log_file.parent_path());

  std::vector<std::string> argv{dockerd.string(),
                                "--config-file=" + config.string(),
                                "--data-root=" + m_data_root.string(),
                                "--exec-root=" + exec_root.string(),
                                "--pidfile=" + (m_options.runtime_dir / "docker.pid").string(),
                                "--host=unix://" + m_socket_path,
                                "--bridge=none",
                                "--iptables=false",
                                "--ip-masq=false",
                                "--userland-proxy=false",
                                "--exec-opt=native.cgroupdriver=cgroupfs"};
  std::vector<char*> cargv;
  for (auto& a : argv)
    cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env_strings{std::string("PATH=") + k_sbin_path};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "PATH=", 5) != 0 && std::strncmp(*e, "DOCKER_", 7) != 0)
      env_strings.emplace_back(*e);
  std::vector<char*> cenv;
  for (auto& e : env_strings)
    cenv.push_back(e.data());
  cenv.push_back(nullptr);

  // fork and exec rather than posix_spawn, for PR_SET_PDEATHSIG: when virtbench dies
  // without cleaning up (SIGKILL, a crash), the kernel sends the engine SIGTERM, and dockerd
  // stops its containers and containerd as it shuts down instead of running on until the
  // next run's sweep. Only async-signal-safe calls between fork and exec; an exec failure
  // comes back as errno through a close-on-exec pipe.
  int log_fd = ::open(m_options.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0)
    throw Error(fmt::format("start a private docker engine: open its log {}: {}", m_options.log_file.string(),
                            std::strerror(errno)));
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(log_fd);
    throw Error(fmt::format("start a private docker engine: pipe: {}", std::strerror(e)));
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    int err = 0;
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (::setpgid(0, 0) != 0 || ::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || null_fd < 0 || ::dup2(null_fd, 0) < 0 ||
        ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0)
      err = errno;
    if (!err && ::getppid() != parent) // virtbench died before prctl: no signal would come
      ::_exit(1);
    if (!err) {
      ::signal(SIGPIPE, SIG_DFL); // virtbench ignores it; the engine must not inherit that
      ::execve(cargv[0], cargv.data(), cenv.data());
      err = errno;
    }
    [[maybe_unused]] auto n = ::write(report[1], &err, sizeof err);
    ::_exit(127);
  }
  int fork_errno = errno;
  ::close(report[1]);
  ::close(log_fd);
  if (pid < 0) {
    ::close(report[0]);
    throw Error(fmt::format("start a private docker engine: fork: {}", std::strerror(fork_errno)));
  }
  int exec_errno = 0;
  ssize_t got = 0;
  do
    got = ::read(report[0], &exec_errno, sizeof exec_errno);
  while (got < 0 && errno == EINTR);
  ::close(report[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    ::waitpid(pid, nullptr, 0);
    throw Error(fmt::format("start a private docker engine: {}: {}", format_argv(argv), std::strerror(exec_errno)));
  }
  m_pid = pid;
  if (m_options.log)
    m_options.log(fmt::format("docker: no engine answered; started a private dockerd (pid {}) on unix://{}, "
                              "data root {}, log {}; it is stopped at the end of the run",
                              pid, m_socket_path, m_data_root.string(), m_options.log_file.string()));

  EngineClient client(DockerEndpoint::unix_socket_at(m_socket_path));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  for (;;) {
    if (!running())
      throw Error(fmt::format("start a private docker engine: {} exited before answering on {}; its log ({}):\n{}",
                              format_argv(argv), m_socket_path, m_options.log_file.string(),
                              log_tail(m_options.log_file)));
    if (fs::exists(m_socket_path)) {
      HttpRequest ping;
      ping.path = "/_ping";
      ping.timeout = std::chrono::seconds(5);
      try {
        auto r = co_await client.send(std::move(ping));
        if (r.status == 200)
          co_return;
        last = fmt::format("HTTP {} {}", r.status, r.body);
      } catch (const TransportError& e) {
        last = e.what();
      }
    }
    if (std::chrono::steady_clock::now() > deadline)
      break;
    co_await sleep_for(std::chrono::milliseconds(100));
  }
  throw Error(fmt::format("start a private docker engine: no answer on {} within {} s ({}); its log ({}):\n{}",
                          m_socket_path, timeout.count(), last.empty() ? "no socket" : last,
                          m_options.log_file.string(), log_tail(m_options.log_file)));
}

void PrivateEngine::stop(std::chrono::seconds grace) noexcept {
  if (m_pid > 0) {
    pid_t pid = m_pid;
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (m_pid > 0) {
      if (m_options.log)
        m_options.log(fmt::format("docker: the private dockerd (pid {}) did not exit within {} s of SIGTERM; killing it",
                                  pid, grace.count()));
      ::kill(-pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
      m_pid = 0;
    } else if (m_options.log) {
      m_options.log(fmt::format("docker: stopped the private dockerd (pid {})", pid));
    }
  }
  if (m_lock_fd >= 0) {
    ::close(m_lock_fd);
    m_lock_fd = -1;
  }
  if (m_data_root_per_run) {
    std::error_code ec;
    fs::remove_all(m_data_root, ec);
    m_data_root_per_run = false;
  }
}

} // namespace virtbench::docker
