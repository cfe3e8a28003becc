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

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The last non-empty line of ssh's stderr (without its \r).
std::string last_line(std::string_view err) {
  std::string best;
  std::istringstream in{std::string(err)};
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.pop_back();
    if (!line.empty())
      best = line;
  }
  return best;
}

int port_of(const SshTarget& t) { return t.port.value_or(22); }

// "[127.0.0.1]:2222" as known_hosts writes a host on another port than 22.
std::string known_hosts_name(const SshTarget& t) {
  return port_of(t) == 22 ? t.host : fmt::format("[{}]:{}", t.host, port_of(t));
}

} // namespace

std::string SshTarget::url() const {
  std::string s = "ssh://";
  if (!user.empty())
    s += user + "@";
  s += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port)
    s += fmt::format(":{}", *port);
  return s;
}

SshTarget parse_ssh_url(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return UsageError(fmt::format("--host {}: {}; give ssh://[user@]host[:port], e.g. ssh://root@bench-2:22", url, why));
  };
  constexpr std::string_view scheme = "ssh://";
  if (!url.starts_with(scheme))
    throw bad("only ssh:// hosts are supported");
  auto rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos)
    throw bad("a path, query or fragment has no meaning here");
  SshTarget t;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    if (userinfo.find(':') != std::string_view::npos)
      throw bad("a password in the URL is refused (it would show in the process list and the results); use a key "
                "(ssh-copy-id) and your ssh agent or IdentityFile");
    if (userinfo.empty())
      throw bad("an empty user name before '@'");
    t.user = std::string(userinfo);
    rest = rest.substr(at + 1);
  }
  std::string_view port_text;
  if (rest.starts_with("[")) {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      throw bad("an IPv6 address without its closing ']'");
    t.host = std::string(rest.substr(1, close - 1));
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        throw bad("unexpected text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty())
        throw bad("an empty port after ':'");
    }
  } else {
    auto colon = rest.find(':');
    t.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty())
        throw bad("an empty port after ':'");
    }
  }
  if (t.host.empty())
    throw bad("no host");
  for (auto& [what, text] : {std::pair<const char*, const std::string*>{"host", &t.host}, {"user", &t.user}}) {
    if (!text->empty() && text->front() == '-')
      throw bad(fmt::format("a {} starting with '-' would be taken for an ssh option", what));
    for (unsigned char c : *text)
      if (c <= ' ' || c == 0x7f || c == '\'' || c == '"' || c == '\\')
        throw bad(fmt::format("the {} holds a space, quote or control character", what));
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string_view::npos)
      throw bad(fmt::format("port \"{}\" is not a number", port_text));
    int port = std::stoi(std::string(port_text));
    if (port < 1 || port > 65535)
      throw bad(fmt::format("port {} is outside 1-65535", port));
    t.port = port;
  }
  return t;
}

std::string shell_quote(const std::vector<std::string>& argv) {
  std::string s;
  for (auto& a : argv) {
    if (!s.empty())
      s += ' ';
    s += '\'';
    for (char c : a) {
      if (c == '\'')
        s += "'\\''";
      else
        s += c;
    }
    s += '\'';
  }
  return s;
}

SshFailure classify_ssh_failure(std::string_view err, const SshTarget& t, const std::string& ssh_config) {
  auto e = lower(err);
  auto url = t.url();
  auto has = [&](std::string_view s) { return e.find(s) != std::string::npos; };
  auto known = ssh_config.empty() ? std::string("~/.ssh/known_hosts")
                                  : "the UserKnownHostsFile of " + ssh_config;
  if (has("remote host identification has changed")) {
    // ssh names the file and the command: "  remove with:\n  ssh-keygen -f "FILE" -R "HOST"".
    auto remove = fmt::format("ssh-keygen -R '{}'", known_hosts_name(t));
    if (auto at = err.find("remove with:"); at != std::string_view::npos) {
      auto line = last_line(err.substr(at + 12, err.find('\n', err.find_first_not_of(" \r\n", at + 12)) - at - 12));
      if (line.find("ssh-keygen") != std::string::npos)
        remove = line.substr(line.find("ssh-keygen"));
    }
    return {fmt::format("ssh {}: the host key of {} CHANGED since it was recorded in {} (possibly someone "
                        "intercepting the connection, or a reinstalled host); check the new key's fingerprint with "
                        "its administrator, then remove the stale entry with `{}` and connect once by hand",
                        url, t.host, known, remove),
            false};
  }
  if (has("host key verification failed") || has("host key is known") || has("no matching host key"))
    return {fmt::format("ssh {}: the host key of {} is not in {} (virtbench never accepts a key by itself); fetch it "
                        "with `ssh-keyscan -p {} {}`, check its fingerprint (ssh-keygen -lf) against the host's, then "
                        "append it to known_hosts, or connect once by hand with ssh",
                        url, known_hosts_name(t), known, port_of(t), t.host),
            true};
  if (has("could not resolve hostname") || has("name or service not known") || has("temporary failure in name"))
    return {fmt::format("ssh {}: cannot resolve the host name {} (DNS); check the spelling, /etc/hosts or the "
                        "ssh config's HostName",
                        url, t.host),
            true};
  if (has("connection refused"))
    return {fmt::format("ssh {}: connection refused on port {}: no sshd listens there; start sshd on {} or give "
                        "the right port (ssh://host:PORT)",
                        url, port_of(t), t.host),
            false};
  if (has("no route to host") || has("network is unreachable") || has("connection timed out") ||
      has("operation timed out"))
    return {fmt::format("ssh {}: {} is unreachable ({}); check that it is up and that the network and firewall "
                        "let port {} through",
                        url, t.host, last_line(err), port_of(t)),
            false};
  if (has("permission denied") || has("too many authentication failures"))
    return {fmt::format("ssh {}: the host refused the key ({}); add your public key to ~{}/.ssh/authorized_keys "
                        "there (ssh-copy-id), or name the right key with IdentityFile in your ssh config "
                        "(--ssh-config FILE); virtbench never asks for a password (BatchMode)",
                        url, last_line(err), t.user.empty() ? "USER" : t.user),
            true};
  if (has("bad configuration option") || has("can't open user config file") || has("terminating,") ||
      (has("no such file or directory") && has("config")))
    return {fmt::format("ssh {}: the ssh configuration is not usable: {}; fix {}", url, last_line(err),
                        ssh_config.empty() ? std::string("~/.ssh/config") : ssh_config),
            true};
  if (has("kex_exchange_identification") || has("connection closed by") || has("connection reset"))
    return {fmt::format("ssh {}: {} closed the connection during the SSH handshake ({}); is it an SSH server, and "
                        "does its sshd accept connections (MaxStartups, AllowUsers, firewall)?",
                        url, t.host, last_line(err)),
            false};
  auto line = last_line(err);
  return {fmt::format("ssh {}: {}", url, line.empty() ? "ssh failed without saying why" : line), false};
}

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
                              m_settings.target.url(), tail.empty() ? "" : " (" + last_line(tail) + ")"));
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
  asio::io_context io;
  ProcessOptions po;
  po.timeout = timeout;
  ProcessResult result;
  std::exception_ptr failure;
  asio::co_spawn(io, run(argv, po), [&](std::exception_ptr e, ProcessResult r) {
    failure = e;
    result = std::move(r);
  });
  io.run();
  if (failure)
    std::rethrow_exception(failure);
  return result;
}

void SshConnection::throw_failure(const std::string& what, const ProcessResult& r) {
  if (!alive()) {
    auto tail = master_log_tail();
    throw PlatformLost(fmt::format("{}: lost the SSH connection to {} (the master ssh exited{}); check the host "
                                   "and the network, then run again",
                                   what, m_settings.target.url(), tail.empty() ? "" : ": " + last_line(tail)));
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

// --- remote commands ---------------------------------------------------------------------

namespace {

// $1: the directory (empty: the login directory); $2...: the command. See remote_exec_argv.
constexpr const char* k_exec_wrapper = R"sh([ -z "$1" ] || cd "$1" || exit 125
shift
exec 3<&0
"$@" </dev/null &
p=$!
{ read -r _ <&3; kill -TERM "$p" 2>/dev/null; } &
w=$!
wait "$p"
r=$?
kill "$w" 2>/dev/null
printf '\n@virtbench-times@\n' >&2
times >&2
exit "$r")sh";

std::optional<double> parse_times_field(const std::string& field) { // "1m2.50s"
  auto m = field.find('m');
  if (m == std::string::npos || field.empty() || field.back() != 's')
    return std::nullopt;
  try {
    return std::stod(field.substr(0, m)) * 60 + std::stod(field.substr(m + 1, field.size() - m - 2));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace

std::vector<std::string> remote_exec_argv(const std::string& cwd, const std::vector<std::string>& argv) {
  std::vector<std::string> full{"sh", "-c", k_exec_wrapper, "sh", cwd};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

std::optional<std::pair<double, double>> take_remote_times(std::string& err) {
  auto pos = err.rfind(k_times_marker);
  if (pos == std::string::npos)
    return std::nullopt;
  std::istringstream in(err.substr(pos + k_times_marker.size()));
  err.erase(pos);
  std::string shell_user, shell_sys, user, sys;
  if (!(in >> shell_user >> shell_sys >> user >> sys))
    return std::nullopt;
  auto u = parse_times_field(user), s = parse_times_field(sys);
  if (!u || !s)
    return std::nullopt;
  return std::pair{*u, *s};
}

} // namespace virtbench
