#pragma once
// A remote host over OpenSSH: the `ssh://user@host[:port]` address, quoting an argv for
// the remote shell, classifying ssh's failures, and one ControlMaster connection per run
// through which every remote command goes.

#include "util/asio.hpp"
#include "util/process.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench {

// Where a remote host is: `ssh://[user@]host[:port]`.
struct SshTarget {
  std::string user; // empty: the ssh config's (or the local user)
  std::string host; // a name, an IPv4 address, or an IPv6 address without brackets
  std::optional<int> port; // nullopt: the ssh config's (or 22)
  // "ssh://user@host:port" as given (normalized: brackets around IPv6, no trailing slash).
  std::string url() const;
};

// Parses `ssh://[user@]host[:port]`; throws UsageError naming what is wrong (another scheme,
// no host, a bad port, a path, a password, a host or user starting with '-').
SshTarget parse_ssh_url(std::string_view url);

// One string for a POSIX shell that it splits back into exactly `argv`: every element in
// single quotes, a ' inside as '\''. (The only shell string virtbench builds: the remote
// login shell parses what ssh sends.)
std::string shell_quote(const std::vector<std::string>& argv);

// What went wrong, from ssh's stderr (its own failure, exit code 255): one line naming the
// fix, and whether it is the user's to fix (bad input: exit 2) or the host failed (exit 1).
struct SshFailure {
  std::string message;
  bool usage = false;
};
SshFailure classify_ssh_failure(std::string_view err, const SshTarget& target, const std::string& ssh_config);

// ssh's `-L` argument forwarding the Unix socket `local_socket` here to `remote_socket` on the
// host: "LOCAL:REMOTE". Throws UsageError for a path ssh cannot carry (not absolute; a ':', '[',
// ']', whitespace or a control character, which ssh's forward syntax would split on; longer
// than a Unix socket's 107 bytes).
std::string unix_forward_spec(const std::string& local, const std::string& remote);

// The last non-empty line of ssh's stderr (without its \r).
std::string last_ssh_line(std::string_view err);

struct SshSettings {
  SshTarget target;
  std::string config_file; // --ssh-config (ssh -F); empty: the user's own
};

// One OpenSSH ControlMaster for a run, its socket and log in `runtime_dir` (private, 0700).
// The master is virtbench's child with PR_SET_PDEATHSIG, so it dies with virtbench even when
// virtbench is SIGKILLed; close() (and the destructor) ends it with `ssh -O exit`.
class SshConnection {
public:
  SshConnection(SshSettings settings, std::filesystem::path runtime_dir);
  ~SshConnection();
  SshConnection(const SshConnection&) = delete;
  SshConnection& operator=(const SshConnection&) = delete;

  // Starts the master and waits (at most ~20 s) until it is logged in. Throws UsageError
  // or Error with ssh's failure classified (classify_ssh_failure).
  void open();
  // Ends the master (`ssh -O exit`, then SIGKILL) and reaps it; idempotent, never throws.
  void close() noexcept;
  // True while the master process runs.
  bool alive();

  // ssh's argv running `remote_command` (one string for the remote shell) over the master,
  // never making a connection of its own (ProxyCommand=false if the master is gone).
  std::vector<std::string> ssh_argv(const std::string& remote_command) const;
  // Runs `argv` (quoted with shell_quote) on the remote through the master; stdin is held
  // open so that the remote command's watchdog (remote_exec_wrapper) sees virtbench go.
  awaitable<ProcessResult> run(std::vector<std::string> argv, ProcessOptions options);
  // The same on a private io_context, for callers outside a coroutine.
  ProcessResult run_sync(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);
  // Forwards connections to the new Unix socket `local` here (bound by the master, 0600) to
  // the Unix socket `remote` on the host (`ssh -O forward -L`), until
  // cancel_forward() or the master ends. Throws UsageError for a path ssh cannot carry
  // (unix_forward_spec), Error with ssh's message when the master refuses.
  awaitable<void> forward(std::string local, std::string remote);
  // Ends that forward (`ssh -O cancel -L`, bounded) and removes `local`; never throws.
  void cancel_forward(const std::string& local, const std::string& remote) noexcept;
  // An Error (or PlatformLost when the master is gone) for a remote command that ended with
  // ssh's own failure (exit 255), naming `what`.
  [[noreturn]] void throw_failure(const std::string& what, const ProcessResult& r);


  const SshSettings& settings() const { return m_settings; }
  const std::filesystem::path& control_path() const { return m_control_path; }
  // The master's pid, 0 when none runs.
  long master_pid() const;

private:
  std::string master_log_tail();

  SshSettings m_settings;
  std::filesystem::path m_runtime_dir, m_control_path, m_log_path;
  struct Master;
  std::unique_ptr<Master> m_master;
};

// A file under the run's runtime directory naming the master (pid and start time), so that
// the leftovers sweep can end the master of a run that died (sweep_ssh_master).
inline constexpr const char* k_ssh_master_file = "ssh-master";
// Ends the master a dead run left in `run_dir` (if its recorded pid still is that ssh),
// and says what it did ("" when nothing). Never throws.
std::string sweep_ssh_master(const std::filesystem::path& run_dir);

// The remote side of a command run by RemoteHost::exec: `sh -c WRAPPER sh CWD ARGV...`. It
// runs ARGV in CWD with stdin from /dev/null, kills it (SIGTERM) when its own stdin ends (the
// ssh client went away: Ctrl-C, a timeout, virtbench killed), exits with ARGV's exit code,
// and appends the command's CPU seconds (`times`) to stderr after k_times_marker.
std::vector<std::string> remote_exec_argv(const std::string& cwd, const std::vector<std::string>& argv);
inline constexpr std::string_view k_times_marker = "\n@virtbench-times@\n";
// The remote side of a long-lived process (HostServices::long_lived_argv):
// `sh -c WRAPPER sh PID_FILE ARGV...` runs ARGV with stdin and stdout on /dev/null, writes its
// pid to PID_FILE, ends it (SIGTERM, then SIGKILL 5 s later) when its own stdin ends, and exits
// with ARGV's exit code.
std::vector<std::string> remote_long_lived_argv(const std::string& pid_file, const std::vector<std::string>& argv);

// Splits the marker and `times`' output off `err`; the command's user and kernel seconds
// (the second line of `times`: its waited-for children), nullopt when absent or malformed.
std::optional<std::pair<double, double>> take_remote_times(std::string& err);

} // namespace virtbench
