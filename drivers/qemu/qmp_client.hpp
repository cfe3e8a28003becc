#pragma once
// QMP over a Unix socket on Boost.Asio. A reader coroutine feeds every byte to
// QmpProtocol and hands replies to the command waiting for that id, while events are
// recorded as they come (also between a command and its reply).

#include "drivers/vm/channel_errors.hpp"
#include "util/asio.hpp"
#include "util/error.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace virtbench::qemu {

// A command QEMU refused: "<command>: <class>: <desc>".
class QmpCommandError : public vm::ChannelCommandError {
public:
  QmpCommandError(const std::string& what, std::string error_class)
      : vm::ChannelCommandError(what), m_class(std::move(error_class)) {}
  const std::string& error_class() const { return m_class; }

private:
  std::string m_class;
};

struct QmpEvent {
  std::string name;         // SHUTDOWN, STOP, RESUME, BLOCK_IO_ERROR ...
  double timestamp = 0;     // QEMU's timestamp, seconds since the epoch
  boost::json::value data;  // the event's "data" (null when it has none)
};

// No reply within the command's timeout (QEMU stopped or wedged, or just slow).
class QmpTimeout : public vm::ChannelTimeout {
public:
  using vm::ChannelTimeout::ChannelTimeout;
};

class QmpClient {
public:
  explicit QmpClient(asio::any_io_executor executor);
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Connects to `path` (retrying while QEMU has not created the socket yet), reads the
  // greeting and negotiates capabilities, all within `timeout`.
  awaitable<void> connect(std::string path, std::chrono::milliseconds timeout);

  // Runs a command and returns its "return" value. Throws QmpCommandError when QEMU
  // answers with an error, Error on timeout or when the socket is closed.
  awaitable<boost::json::value> execute(std::string command, boost::json::object arguments = {},
                                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Every event received so far, in order.
  const std::vector<QmpEvent>& events() const;
  // Called for each event as it arrives (after it is recorded).
  void on_event(std::function<void(const QmpEvent&)> handler);
  // Lines that were not QMP (kept for diagnostics; the stream goes on after them).
  const std::vector<std::string>& garbled_lines() const;
  // The greeting's "QMP" object: {"version": {...}, "capabilities": [...]}.
  const boost::json::object& greeting() const;

  bool is_open() const;
  // Closes the socket; waiting and later commands fail with `reason`.
  void close(const std::string& reason);

  struct State;

private:
  std::shared_ptr<State> m_state;
};

} // namespace virtbench::qemu
