#include "drivers/vm/agent.hpp"

#include "drivers/vm/json_lines.hpp"
#include "util/failure.hpp" // throw_cancellation

#include <fmt/format.h>

#include <random>

namespace virtbench::vm {

namespace json = boost::json;
using stream_protocol = asio::local::stream_protocol;
using Clock = std::chrono::steady_clock;

namespace {

std::string command_name(const json::object& command) {
  if (auto* e = command.if_contains("execute"); e && e->is_string())
    return std::string(e->as_string());
  return "agent command";
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format_seconds(std::chrono::milliseconds d) { return fmt::format("{:g} s", d.count() / 1000.0); }

} // namespace

// ---------------------------------------------------------------------------------------
// UnixAgentTransport

UnixAgentTransport::UnixAgentTransport(asio::any_io_executor executor, std::string socket_path)
    : m_executor(executor), m_path(std::move(socket_path)) {
  // Ids start at a random point so answers meant for an earlier client on the same
  // port can never match ours.
  std::random_device rd;
  m_next_id = (static_cast<std::uint64_t>(rd()) % 1000000 + 1) * 1000;
}

UnixAgentTransport::~UnixAgentTransport() { close("guest agent client destroyed"); }

void UnixAgentTransport::close(const std::string& reason) {
  if (!m_closed) {
    m_closed = true;
    m_closed_reason = reason;
  }
  if (m_socket) {
    boost::system::error_code ec;
    m_socket->close(ec);
  }
}

std::string UnixAgentTransport::lost(const std::string& what, const std::string& cause) const {
  return "guest agent " + what + " on " + m_path + ": " + cause;
}

template <typename Race>
void UnixAgentTransport::check_race(const Race& race, const std::string& what, const std::string& timeout_cause) {
  if (m_closed)
    throw Error(lost(what, m_closed_reason));
  if (race.index() != 1)
    return;
  if (std::get<0>(std::get<1>(race)) == asio::error::operation_aborted)
    throw_cancellation();
  m_needs_sync = true;
  throw AgentTimeout(lost(what, timeout_cause));
}

void UnixAgentTransport::fail_io(boost::system::error_code ec, const std::string& what, const std::string& cause) {
  if (ec == asio::error::operation_aborted)
    throw boost::system::system_error(ec);
  if (m_socket) {
    boost::system::error_code ignored;
    m_socket->close(ignored);
    m_socket.reset();
  }
  throw Error(lost(what, cause));
}

awaitable<void> UnixAgentTransport::ensure_connected(Deadline deadline, const std::string& what) {
  if (m_closed)
    throw Error(lost(what, m_closed_reason));
  if (m_socket && m_socket->is_open())
    co_return;
  if (Clock::now() >= deadline)
    throw AgentTimeout(lost(what, "no time left to connect within the timeout"));
  m_socket.emplace(m_executor);
  asio::steady_timer timer(m_executor, deadline);
  auto r = co_await (m_socket->async_connect(stream_protocol::endpoint(m_path), asio::as_tuple(use_awaitable)) ||
                     timer.async_wait(asio::as_tuple(use_awaitable)));
  if (r.index() == 1)
    m_socket.reset(); // a connect cut short leaves no usable socket
  check_race(r, what, "could not connect within the timeout");
  if (auto [ec] = std::get<0>(r); ec)
    fail_io(ec, what, "connect: " + ec.message());
  m_decoder.reset();
  m_needs_sync = true;
}

awaitable<void> UnixAgentTransport::write_all(std::string bytes, Deadline deadline, const std::string& what) {
  asio::steady_timer timer(m_executor, deadline);
  auto r = co_await (asio::async_write(*m_socket, asio::buffer(bytes), asio::as_tuple(use_awaitable)) ||
                     timer.async_wait(asio::as_tuple(use_awaitable)));
  check_race(r, what, "could not send the command within the timeout");
  if (auto [ec, n] = std::get<0>(r); ec)
    fail_io(ec, what, "write: " + ec.message());
}

awaitable<AgentMessage> UnixAgentTransport::next_message(Deadline deadline, const std::string& what) {
  char buf[16384];
  for (;;) {
    if (auto m = m_decoder.next())
      co_return std::move(*m);
    asio::steady_timer timer(m_executor, deadline);
    auto r = co_await (m_socket->async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable)) ||
                       timer.async_wait(asio::as_tuple(use_awaitable)));
    check_race(r, what, "no answer within the timeout");
    auto [ec, n] = std::get<0>(r);
    if (n > 0) {
      try {
        m_decoder.feed(std::string_view(buf, n));
      } catch (const Error& e) {
        fail_io({}, what, e.what()); // the socket is closed: the next call reconnects and resyncs
      }
    }
    if (ec)
      fail_io(ec, what, ec == asio::error::eof ? "the socket was closed by QEMU" : "read: " + ec.message());
  }
}

awaitable<void> UnixAgentTransport::sync_locked(Deadline deadline) {
  std::string what = "guest-sync-delimited";
  co_await ensure_connected(deadline, what);
  auto id = m_next_id++;
  m_needs_sync = true;
  co_await write_all(encode_sync_delimited(id), deadline, what);
  m_decoder.expect_delimiter();
  for (;;) {
    auto m = co_await next_message(deadline, what);
    if (m.kind == AgentMessage::Kind::reply && m.value.is_number()) {
      boost::system::error_code ec;
      if (m.value.to_number<std::uint64_t>(ec) == id && !ec) {
        m_needs_sync = false;
        co_return;
      }
    }
    // else an answer to an earlier sync or command: skipped
  }
}

awaitable<AsyncMutex::Guard> UnixAgentTransport::lock_until(Deadline deadline, const std::string& what) {
  // The deadline counts from the call, not from its turn: behind a call that gets no
  // answer (a hung guest) the next one must not wait a whole timeout more.
  auto guard = co_await m_mutex.lock_until(deadline);
  if (!guard)
    throw AgentTimeout(lost(what, "no turn on the channel within the timeout (an earlier call is still waiting "
                                  "for its answer)"));
  co_return std::move(*guard);
}

awaitable<void> UnixAgentTransport::sync(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  auto guard = co_await lock_until(deadline, "guest-sync-delimited");
  co_await sync_locked(deadline);
}

awaitable<json::value> UnixAgentTransport::call(json::object command, std::chrono::milliseconds timeout) {
  auto what = command_name(command);
  auto deadline = Clock::now() + timeout;
  auto guard = co_await lock_until(deadline, what);
  co_await ensure_connected(deadline, what);
  if (m_needs_sync)
    co_await sync_locked(deadline);
  auto id = m_next_id++;
  command["id"] = id;
  m_needs_sync = true; // until its answer has been read
  co_await write_all(encode_agent_command(command), deadline, what);
  for (;;) {
    auto m = co_await next_message(deadline, what);
    if (m.kind == AgentMessage::Kind::garbled) {
      ++m_garbled;
      continue;
    }
    if (m.id && *m.id != id)
      continue; // a stale answer, to an earlier command
    m_needs_sync = false;
    if (m.kind == AgentMessage::Kind::error)
      throw AgentCommandError(what + ": " + describe_qmp_error(m.value));
    co_return std::move(m.value);
  }
}

awaitable<void> UnixAgentTransport::send(json::object command, std::chrono::milliseconds timeout) {
  auto what = command_name(command);
  auto deadline = Clock::now() + timeout;
  auto guard = co_await lock_until(deadline, what);
  co_await ensure_connected(deadline, what);
  if (m_needs_sync)
    co_await sync_locked(deadline);
  m_needs_sync = true; // an error answer may still come
  co_await write_all(encode_agent_command(command), deadline, what);
}

// ---------------------------------------------------------------------------------------
// GuestAgent

GuestAgent::GuestAgent(AgentTransport& transport, AgentTimeouts timeouts)
    : m_transport(transport), m_timeouts(timeouts) {}

awaitable<json::value> GuestAgent::call(json::object command) {
  co_return co_await m_transport.call(std::move(command), m_timeouts.call);
}

awaitable<double> GuestAgent::wait_until_ready(std::chrono::milliseconds timeout, std::chrono::milliseconds attempt) {
  auto start = Clock::now();
  auto deadline = start + timeout;
  std::string last = "no answer";
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      throw AgentTimeout("guest agent: no answer within " + format_seconds(timeout) + " (last: " + last + ")");
    bool retry_now = false;
    try {
      co_await m_transport.sync(std::min(attempt, left));
      co_return seconds_since(start);
    } catch (const AgentTimeout& e) {
      last = e.what();
      retry_now = true; // the try itself waited
    } catch (const AgentCommandError&) {
      throw;
    } catch (const Error& e) {
      last = e.what(); // e.g. the socket is not there yet
    }
    if (!retry_now)
      co_await sleep_for(std::chrono::milliseconds(50));
  }
}

awaitable<GuestExecResult> GuestAgent::exec_once(const std::vector<std::string>& full_argv,
                                                 std::chrono::milliseconds timeout, bool kill_on_timeout) {
  auto start = Clock::now();
  auto deadline = start + timeout;
  auto command = guest_exec_command(full_argv);
  auto pid = parse_exec_started(co_await call(std::move(command)));

  GuestExecResult result;
  auto interval = m_timeouts.poll_min;
  json::object status_command{{"execute", "guest-exec-status"}, {"arguments", {{"pid", pid}}}};
  for (;;) {
    auto copy = status_command;
    auto status = parse_exec_status(co_await call(std::move(copy)));
    if (status.exited) {
      result.exit_code = status.exit_code;
      result.signal = status.signal;
      result.out = std::move(status.out);
      result.err = std::move(status.err);
      result.truncated = status.out_truncated || status.err_truncated;
      result.wall_s = seconds_since(start);
      co_return result;
    }
    auto now = Clock::now();
    if (now >= deadline)
      break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    co_await sleep_for(std::min(interval, left + std::chrono::milliseconds(1)));
    interval = std::min(interval * 2, m_timeouts.poll_max);
  }

  // Timed out: kill it (through the agent: dash's builtin kill), then collect its status so
  // the agent forgets it.
  result.timed_out = true;
  result.exit_code = -1;
  result.wall_s = seconds_since(start);
  if (!kill_on_timeout)
    co_return result;
  std::vector<std::string> kill_argv{"sh", "-c", "kill -9 \"$1\"", "sh", std::to_string(pid)};
  try {
    co_await exec_once(kill_argv, std::chrono::seconds(10), false);
  } catch (const Error&) {
    // Not fatal here: the status poll below shows whether it still runs.
  }
  auto reap_deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < reap_deadline) {
    auto copy = status_command;
    auto status = parse_exec_status(co_await call(std::move(copy)));
    if (status.exited) {
      result.signal = status.signal;
      result.out = std::move(status.out);
      result.err = std::move(status.err);
      break;
    }
    co_await sleep_for(std::chrono::milliseconds(50));
  }
  result.wall_s = seconds_since(start);
  co_return result;
}

awaitable<GuestExecResult> GuestAgent::exec(std::vector<std::string> argv, std::string cwd,
                                            std::chrono::milliseconds timeout) {
  if (argv.empty())
    throw Error("guest-exec: empty command");
  auto full = guest_exec_argv(argv, cwd);
  auto result = co_await exec_once(full, timeout);
  // qemu-ga cut the output at its capture limit. The command is never run a second time to
  // get the rest (it may have side effects: a fileio prepare, a cache drop); nothing
  // virtbench runs in a guest prints that much, so it is an error that says what happened.
  if (!result.timed_out && result.truncated)
    throw Error(fmt::format("guest-exec {}: its output passed the guest agent's {} MiB capture limit and was cut "
                            "(exit code {}; {} bytes of stdout and {} of stderr kept); the command ran once and "
                            "was not run again; make it print less",
                            argv.front(), k_agent_capture_limit >> 20, result.exit_code, result.out.size(),
                            result.err.size()));
  co_return result;
}

awaitable<std::string> GuestAgent::read_file(std::string path) {
  json::object open{{"execute", "guest-file-open"}, {"arguments", {{"path", path}, {"mode", "r"}}}};
  auto handle = parse_file_handle(path, co_await call(std::move(open)));
  std::string content;
  std::exception_ptr failure;
  try {
    for (;;) {
      json::object read{{"execute", "guest-file-read"}, {"arguments", {{"handle", handle}, {"count", 65536}}}};
      auto chunk = parse_file_read(path, co_await call(std::move(read)));
      if (content.size() + chunk.data.size() > k_guest_file_max)
        throw Error(fmt::format("guest-file-read {}: the file is larger than {} MiB, more than virtbench reads "
                                "from a guest",
                                path, k_guest_file_max >> 20));
      content += chunk.data;
      if (chunk.eof || chunk.count == 0)
        break;
    }
  } catch (...) {
    failure = std::current_exception();
  }
  co_await close_file(handle, failure);
  co_return content;
}

awaitable<void> GuestAgent::close_file(std::int64_t handle, std::exception_ptr failure) {
  json::object close{{"execute", "guest-file-close"}, {"arguments", {{"handle", handle}}}};
  if (failure) {
    try {
      co_await call(std::move(close));
    } catch (const Error&) {
      // the first failure is the one to report
    }
    std::rethrow_exception(failure);
  }
  co_await call(std::move(close));
}

awaitable<void> GuestAgent::write_file(std::string path, std::string content) {
  json::object open{{"execute", "guest-file-open"}, {"arguments", {{"path", path}, {"mode", "w"}}}};
  auto handle = parse_file_handle(path, co_await call(std::move(open)));
  std::exception_ptr failure;
  try {
    json::object write{{"execute", "guest-file-write"},
                       {"arguments", {{"handle", handle}, {"buf-b64", base64_encode(content)}}}};
    co_await call(std::move(write));
  } catch (...) {
    failure = std::current_exception();
  }
  co_await close_file(handle, failure);
}

awaitable<void> GuestAgent::shutdown(std::chrono::milliseconds timeout) {
  json::object command{{"execute", "guest-shutdown"}};
  co_await m_transport.send(std::move(command), timeout);
}

} // namespace virtbench::vm
