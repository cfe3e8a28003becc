#include "drivers/qemu/qmp_client.hpp"

#include "drivers/vm/async_mutex.hpp"
#include "drivers/qemu/qmp_protocol.hpp"

#include <fmt/format.h>

#include <map>
#include <optional>

namespace virtbench::qemu {

namespace json = boost::json;
using stream_protocol = asio::local::stream_protocol;
using Clock = std::chrono::steady_clock;

namespace {

// One command waiting for its reply: the reader fills result or error and cancels the timer.
struct Pending {
  explicit Pending(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  std::optional<json::value> result;
  std::optional<json::value> qmp_error; // an {"error": ...} reply
  std::optional<std::string> failure;   // the socket failed or was closed
};

} // namespace

struct QmpClient::State {
  explicit State(asio::any_io_executor ex) : executor(ex), socket(ex) {}
  asio::any_io_executor executor;
  stream_protocol::socket socket;
  std::string path;
  QmpProtocol protocol;
  vm::AsyncMutex write_mutex;
  std::map<std::uint64_t, std::shared_ptr<Pending>> pending;
  std::shared_ptr<Pending> greeting_waiter;
  std::vector<QmpEvent> events;
  std::function<void(const QmpEvent&)> on_event;
  std::vector<std::string> garbled;
  bool closed = false;
  std::string closed_reason;

  void fail_all(const std::string& reason) {
    auto all = std::move(pending);
    pending.clear();
    if (greeting_waiter)
      all[0] = std::exchange(greeting_waiter, nullptr);
    for (auto& [id, p] : all) {
      p->failure = reason;
      p->timer.cancel();
    }
  }

  void dispatch(QmpMessage m) {
    switch (m.kind) {
    case QmpMessage::Kind::greeting:
      if (greeting_waiter) {
        greeting_waiter->result = m.value;
        greeting_waiter->timer.cancel();
        greeting_waiter = nullptr;
      }
      return;
    case QmpMessage::Kind::reply:
    case QmpMessage::Kind::error: {
      if (!m.id)
        return; // an answer nobody can claim (QEMU's reply to unparseable input)
      auto it = pending.find(*m.id);
      if (it == pending.end())
        return; // its command timed out and gave up
      auto p = it->second;
      pending.erase(it);
      if (m.kind == QmpMessage::Kind::reply)
        p->result = std::move(m.value);
      else
        p->qmp_error = std::move(m.value);
      p->timer.cancel();
      return;
    }
    case QmpMessage::Kind::event: {
      events.push_back({m.event, m.timestamp, std::move(m.value)});
      if (on_event)
        on_event(events.back());
      return;
    }
    case QmpMessage::Kind::garbled:
      if (garbled.size() < 100)
        garbled.push_back(m.text.substr(0, 500));
      return;
    }
  }
};

namespace {

awaitable<void> read_loop(std::shared_ptr<QmpClient::State> s) {
  char buf[8192];
  for (;;) {
    auto [ec, n] = co_await s->socket.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
    std::string broken; // the protocol's refusal of what QEMU sent (a line past k_qmp_max_line)
    if (n > 0) {
      try {
        s->protocol.feed(std::string_view(buf, n));
      } catch (const Error& e) {
        broken = e.what();
      }
      while (auto m = s->protocol.next())
        s->dispatch(std::move(*m));
    }
    if (ec || !broken.empty()) {
      if (!s->closed) {
        s->closed = true;
        s->closed_reason = fmt::format("QMP socket {}: {}", s->path,
                                       !broken.empty()           ? "QEMU sent " + broken
                                       : ec == asio::error::eof ? "closed by QEMU"
                                                                : ec.message());
        boost::system::error_code ignored;
        s->socket.close(ignored);
      }
      s->fail_all(s->closed_reason);
      co_return;
    }
  }
}

// Waits until the reader settles `p` or the deadline passes. Outer cancellation (Ctrl-C)
// propagates as operation_aborted.
awaitable<void> wait_settled(Pending& p, Clock::time_point deadline) {
  if (p.result || p.qmp_error || p.failure)
    co_return;
  p.timer.expires_at(deadline);
  auto [ec] = co_await p.timer.async_wait(asio::as_tuple(use_awaitable));
  if (p.result || p.qmp_error || p.failure)
    co_return;
  if (ec == asio::error::operation_aborted)
    throw boost::system::system_error(ec);
}

} // namespace

QmpClient::QmpClient(asio::any_io_executor executor) : m_state(std::make_shared<State>(executor)) {}

QmpClient::~QmpClient() { close("QMP client destroyed"); }

awaitable<void> QmpClient::connect(std::string path, std::chrono::milliseconds timeout) {
  auto s = m_state;
  auto deadline = Clock::now() + timeout;
  s->path = path;
  boost::system::error_code last;
  for (;;) {
    if (s->closed)
      throw Error("connect to QMP socket " + path + ": " + s->closed_reason);
    boost::system::error_code ec;
    s->socket.close(ec);
    auto [cec] = co_await s->socket.async_connect(stream_protocol::endpoint(path), asio::as_tuple(use_awaitable));
    if (!cec)
      break;
    if (cec == asio::error::operation_aborted)
      throw boost::system::system_error(cec);
    last = cec;
    if (Clock::now() >= deadline)
      throw Error(fmt::format("connect to QMP socket {}: {} (gave up after {} s)", path, last.message(),
                              timeout.count() / 1000.0));
    co_await sleep_for(std::chrono::milliseconds(20));
  }
  s->greeting_waiter = std::make_shared<Pending>(s->executor);
  auto greeting = s->greeting_waiter;
  asio::co_spawn(s->executor, read_loop(s), asio::detached);
  co_await wait_settled(*greeting, deadline);
  if (greeting->failure)
    throw Error("QMP greeting on " + path + ": " + *greeting->failure);
  if (!greeting->result) {
    s->greeting_waiter = nullptr;
    throw Error(fmt::format("QMP greeting on {}: nothing within {} s", path, timeout.count() / 1000.0));
  }
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  std::string capabilities = "qmp_capabilities";
  json::object none;
  co_await execute(capabilities, none, std::max(remaining, std::chrono::milliseconds(1000)));
}

awaitable<json::value> QmpClient::execute(std::string command, json::object arguments,
                                          std::chrono::milliseconds timeout) {
  auto s = m_state;
  if (s->closed)
    throw Error("QMP " + command + ": " + s->closed_reason);
  auto deadline = Clock::now() + timeout;
  std::uint64_t id = 0;
  auto bytes = s->protocol.encode(command, arguments, id);
  auto p = std::make_shared<Pending>(s->executor);
  s->pending[id] = p;
  struct Forget {
    State& s;
    std::uint64_t id;
    ~Forget() { s.pending.erase(id); }
  } forget{*s, id};
  {
    auto guard = co_await s->write_mutex.lock();
    auto [ec, n] = co_await asio::async_write(s->socket, asio::buffer(bytes), asio::as_tuple(use_awaitable));
    (void)n;
    if (ec == asio::error::operation_aborted && !s->closed)
      throw boost::system::system_error(ec);
    if (ec)
      throw Error("QMP " + command + ": " + (s->closed ? s->closed_reason : "write to " + s->path + ": " + ec.message()));
  }
  co_await wait_settled(*p, deadline);
  if (p->failure)
    throw Error("QMP " + command + ": " + *p->failure);
  if (p->qmp_error) {
    std::string cls;
    if (p->qmp_error->is_object())
      if (auto* c = p->qmp_error->as_object().if_contains("class"); c && c->is_string())
        cls = c->as_string();
    throw QmpCommandError("QMP " + command + ": " + vm::describe_qmp_error(*p->qmp_error), cls);
  }
  if (!p->result)
    throw QmpTimeout(fmt::format("QMP {}: no reply within {} s on {}", command, timeout.count() / 1000.0, s->path));
  co_return std::move(*p->result);
}

const std::vector<QmpEvent>& QmpClient::events() const { return m_state->events; }

void QmpClient::on_event(std::function<void(const QmpEvent&)> handler) { m_state->on_event = std::move(handler); }

const std::vector<std::string>& QmpClient::garbled_lines() const { return m_state->garbled; }

const json::object& QmpClient::greeting() const { return m_state->protocol.greeting(); }

bool QmpClient::is_open() const { return !m_state->closed && m_state->socket.is_open(); }

void QmpClient::close(const std::string& reason) {
  auto& s = *m_state;
  if (!s.closed) {
    s.closed = true;
    s.closed_reason = reason;
  }
  boost::system::error_code ec;
  s.socket.close(ec);
  s.fail_all(s.closed_reason);
}

} // namespace virtbench::qemu
