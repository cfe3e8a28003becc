#pragma once
// A mutex for coroutines on one executor: lock() suspends until the holder unlocks, in
// FIFO order. Used so concurrent callers of one socket (the CPU sampler reading
// /proc/stat while guest-exec-status polls) queue instead of interleaving their bytes.

#include "util/asio.hpp"
#include "util/failure.hpp" // throw_cancellation

#include <chrono>
#include <deque>
#include <memory>
#include <optional>

namespace virtbench::vm {

class AsyncMutex {
public:
  // Unlocks on destruction (move-only).
  class Guard {
  public:
    explicit Guard(AsyncMutex* m) : m_mutex(m) {}
    Guard(Guard&& o) noexcept : m_mutex(o.m_mutex) { o.m_mutex = nullptr; }
    Guard& operator=(Guard&&) = delete;
    Guard(const Guard&) = delete;
    ~Guard() {
      if (m_mutex)
        m_mutex->unlock();
    }

  private:
    AsyncMutex* m_mutex;
  };

  // Waits for the mutex. Cancelling the wait (Ctrl-C) leaves the queue as it was and
  // throws operation_aborted.
  awaitable<Guard> lock() {
    if (!m_locked) {
      m_locked = true;
      co_return Guard(this);
    }
    auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    m_waiters.push_back(waiter);
    auto [ec] = co_await waiter->timer.async_wait(asio::as_tuple(use_awaitable));
    (void)ec;
    if (!waiter->granted) {
      std::erase(m_waiters, waiter);
      throw_cancellation();
    }
    co_return Guard(this);
  }

  // The same, giving up at `deadline`: nullopt when the mutex was still held then.
  awaitable<std::optional<Guard>> lock_until(std::chrono::steady_clock::time_point deadline) {
    if (!m_locked) {
      m_locked = true;
      co_return Guard(this);
    }
    auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    waiter->timer.expires_at(deadline);
    m_waiters.push_back(waiter);
    auto [ec] = co_await waiter->timer.async_wait(asio::as_tuple(use_awaitable));
    if (!waiter->granted) {
      std::erase(m_waiters, waiter);
      if (ec == asio::error::operation_aborted)
        throw_cancellation();
      co_return std::nullopt;
    }
    co_return Guard(this);
  }

private:
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex) : timer(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool granted = false; // ownership passed to this waiter by unlock()
  };

  void unlock() {
    if (m_waiters.empty()) {
      m_locked = false;
      return;
    }
    auto next = m_waiters.front();
    m_waiters.pop_front();
    next->granted = true; // stays locked: ownership moves to the next waiter
    next->timer.cancel();
  }

  bool m_locked = false;
  std::deque<std::shared_ptr<Waiter>> m_waiters;
};

} // namespace virtbench::vm
