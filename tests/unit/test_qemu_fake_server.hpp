#pragma once
// A small in-process Unix-socket server for the QMP and guest-agent client tests: it
// accepts connections, splits what it receives into lines and hands each to a handler
// coroutine that answers through send() (in pieces, with pauses, garbled ... as a test
// needs).

#include "util/asio.hpp"
#include "util/fs.hpp"

#include <functional>
#include <string>
#include <vector>

namespace virtbench::test {

class FakeUnixServer {
public:
  using Handler = std::function<awaitable<void>(FakeUnixServer&, std::string line)>;

  FakeUnixServer(asio::any_io_executor ex, std::string path, Handler handler)
      : m_acceptor(ex, asio::local::stream_protocol::endpoint(path)), m_socket(ex), m_path(std::move(path)),
        m_handler(std::move(handler)) {}

  // Serves connections one after another until stop(); spawn it detached, and end with
  // shutdown() so the server outlives it.
  awaitable<void> serve() {
    struct Done {
      bool& done;
      ~Done() { done = true; }
    } done{m_done};
    for (;;) {
      auto [ec] = co_await m_acceptor.async_accept(m_socket, asio::as_tuple(use_awaitable));
      if (ec || m_stopping)
        co_return;
      ++m_connections;
      std::string buffer;
      char buf[4096];
      for (;;) {
        auto [rec, n] = co_await m_socket.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
        buffer.append(buf, n);
        std::size_t nl;
        while ((nl = buffer.find('\n')) != std::string::npos) {
          auto line = buffer.substr(0, nl);
          buffer.erase(0, nl + 1);
          if (!line.empty() && line.back() == '\r')
            line.pop_back();
          lines.push_back(line);
          if (buffer.find('\n') != std::string::npos)
            ++pipelined; // the client sent another request before this one was answered
          co_await m_handler(*this, line);
        }
        if (rec || m_stopping)
          break;
      }
      boost::system::error_code ignored;
      m_socket.close(ignored);
    }
  }

  // Writes bytes to the connected client; false when it could not (the client has gone).
  awaitable<bool> send(std::string bytes) {
    auto [ec, n] = co_await asio::async_write(m_socket, asio::buffer(bytes), asio::as_tuple(use_awaitable));
    (void)n;
    co_return !ec;
  }

  // Drops the current client (as QEMU's exit would).
  void disconnect() {
    boost::system::error_code ignored;
    m_socket.shutdown(asio::socket_base::shutdown_both, ignored);
    m_socket.close(ignored);
  }

  void stop() {
    m_stopping = true;
    boost::system::error_code ignored;
    m_acceptor.close(ignored);
    disconnect();
  }

  // stop(), then waits until serve() has returned (it must not run on a destroyed server).
  awaitable<void> shutdown() {
    stop();
    while (!m_done)
      co_await sleep_for(std::chrono::milliseconds(1));
  }

  int connections() const { return m_connections; }
  const std::string& path() const { return m_path; }

  std::vector<std::string> lines; // every line received, in order
  int pipelined = 0;              // lines that arrived while an earlier one was unanswered

private:
  asio::local::stream_protocol::acceptor m_acceptor;
  asio::local::stream_protocol::socket m_socket;
  std::string m_path;
  Handler m_handler;
  int m_connections = 0;
  bool m_stopping = false;
  bool m_done = false; // serve() has returned (or never ran: see shutdown())
};

} // namespace virtbench::test
