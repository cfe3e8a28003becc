#pragma once
// The QEMU guest agent: operations (readiness, exec with status polling, file read and
// write, shutdown) on top of an abstract transport. The Unix-socket transport here is one
// implementation; libvirt's virDomainQemuAgentCommand (a JSON command string in, the JSON
// reply out) can be another without touching the operations.

#include "drivers/vm/agent_protocol.hpp"
#include "drivers/vm/async_mutex.hpp"
#include "drivers/vm/channel_errors.hpp"
#include "util/asio.hpp"
#include "util/error.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace virtbench::vm {

// The agent answered a command with an error: "<command>: <class>: <desc>".
class AgentCommandError : public ChannelCommandError {
public:
  using ChannelCommandError::ChannelCommandError;
};

// No answer within the call's timeout; the transport resynchronises before its next call.
class AgentTimeout : public ChannelTimeout {
public:
  using ChannelTimeout::ChannelTimeout;
};

class AgentTransport {
public:
  virtual ~AgentTransport() = default;
  // Sends one command ({"execute": ..., "arguments": ...}) and returns its "return" value.
  // Throws AgentCommandError for an error answer, AgentTimeout when none came in time,
  // Error when the channel is gone. Concurrent calls queue; they never interleave.
  virtual awaitable<boost::json::value> call(boost::json::object command, std::chrono::milliseconds timeout) = 0;
  // Sends a command that has no success response (guest-shutdown) without waiting for one.
  virtual awaitable<void> send(boost::json::object command, std::chrono::milliseconds timeout) = 0;
  // Makes sure the agent listens and that no stale answer can be taken for a new one
  // (guest-sync-delimited on a socket). Throws AgentTimeout when it did not answer.
  virtual awaitable<void> sync(std::chrono::milliseconds timeout) = 0;
};

// The host side of the virtio-serial port (a QEMU chardev socket, server=on).
class UnixAgentTransport final : public AgentTransport {
public:
  UnixAgentTransport(asio::any_io_executor executor, std::string socket_path);
  ~UnixAgentTransport() override;

  awaitable<boost::json::value> call(boost::json::object command, std::chrono::milliseconds timeout) override;
  awaitable<void> send(boost::json::object command, std::chrono::milliseconds timeout) override;
  awaitable<void> sync(std::chrono::milliseconds timeout) override;

  // Closes the socket; the call in flight and later ones fail with `reason`.
  void close(const std::string& reason);
  // Lines that were not agent JSON (for diagnostics and tests).
  std::size_t garbled_count() const { return m_garbled; }

private:
  using Deadline = std::chrono::steady_clock::time_point;
  // Connects unless connected; AgentTimeout when `deadline` passes first.
  awaitable<void> ensure_connected(Deadline deadline, const std::string& what);
  awaitable<void> write_all(std::string bytes, Deadline deadline, const std::string& what);
  awaitable<AgentMessage> next_message(Deadline deadline, const std::string& what);
  awaitable<void> sync_locked(Deadline deadline);
  awaitable<AsyncMutex::Guard> lock_until(Deadline deadline, const std::string& what);
  std::string lost(const std::string& what, const std::string& cause) const;
  // After an I/O operation raced the deadline timer (`race`: the operation's result, or the
  // timer's): throws Error when the transport was closed meanwhile, the cancellation when
  // the wait was cancelled, AgentTimeout(timeout_cause) when the deadline passed first.
  template <typename Race>
  void check_race(const Race& race, const std::string& what, const std::string& timeout_cause);
  // Throws for a failed I/O operation: the cancellation as it is, else Error(cause) after
  // closing the socket (the next call connects again).
  [[noreturn]] void fail_io(boost::system::error_code ec, const std::string& what, const std::string& cause);

  asio::any_io_executor m_executor;
  std::string m_path;
  std::optional<asio::local::stream_protocol::socket> m_socket;
  AgentDecoder m_decoder;
  AsyncMutex m_mutex;
  bool m_needs_sync = true; // invariant: false only when no unanswered request is outstanding
  bool m_closed = false;
  std::string m_closed_reason;
  std::uint64_t m_next_id;
  std::size_t m_garbled = 0;
};

struct GuestExecResult {
  int exit_code = -1; // -1 when killed by a signal or timed out
  int signal = 0;
  bool timed_out = false;
  bool truncated = false; // the agent's capture limit cut the output (exec() then throws)
  std::string out, err;
  double wall_s = 0;
};

struct AgentTimeouts {
  std::chrono::milliseconds call{30000};              // one command's answer
  std::chrono::milliseconds poll_min{1};              // guest-exec-status polling, doubling ...
  std::chrono::milliseconds poll_max{50};             // ... up to this
};

class GuestAgent {
public:
  explicit GuestAgent(AgentTransport& transport, AgentTimeouts timeouts = {});

  // Syncs until the agent answers (tries of `attempt` each) or `timeout` passes; returns
  // the seconds it took. Throws AgentTimeout.
  awaitable<double> wait_until_ready(std::chrono::milliseconds timeout,
                                     std::chrono::milliseconds attempt = std::chrono::milliseconds(1000));

  // Runs argv in the guest (cwd via `env -C`), polls guest-exec-status until it exited;
  // past `timeout` kills it (`kill -9 <pid>` via guest-exec) and returns timed_out. Output
  // cut at the agent's capture limit is an Error; the command is never run twice.
  awaitable<GuestExecResult> exec(std::vector<std::string> argv, std::string cwd, std::chrono::milliseconds timeout);

  // guest-file-open/read/close; Error past k_guest_file_max bytes.
  awaitable<std::string> read_file(std::string path);
  // guest-file-open (mode "w") / write / close.
  awaitable<void> write_file(std::string path, std::string content);
  // Asks the guest to power off (no answer is sent on success).
  awaitable<void> shutdown(std::chrono::milliseconds timeout);

private:
  awaitable<boost::json::value> call(boost::json::object command);
  // guest-file-close; after `failure`, a failing close is ignored and `failure` rethrown.
  awaitable<void> close_file(std::int64_t handle, std::exception_ptr failure);
  // kill_on_timeout: false for the kill itself (which must not recurse).
  awaitable<GuestExecResult> exec_once(const std::vector<std::string>& full_argv, std::chrono::milliseconds timeout,
                                       bool kill_on_timeout = true);

  AgentTransport& m_transport;
  AgentTimeouts m_timeouts;
};

} // namespace virtbench::vm
