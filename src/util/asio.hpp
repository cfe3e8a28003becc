#pragma once
// The Asio spellings used across virtbench.

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <exception>
#include <optional>

namespace virtbench {
namespace asio = boost::asio;
template <typename T = void>
using awaitable = boost::asio::awaitable<T>;
using boost::asio::use_awaitable;
using namespace boost::asio::experimental::awaitable_operators;

// Suspends the calling coroutine for `d` (cancellable).
inline awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(use_awaitable);
}
// Runs `op` and hands back its failure (nullptr on success) instead of throwing it: Asio's
// `a || b` waits for one branch to *succeed*, and `a && b` cancels b when a fails, so
// branches whose failures are handled one by one are wrapped in this.
inline awaitable<std::exception_ptr> captured(awaitable<void> op) {
  try {
    co_await std::move(op);
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

// Runs a coroutine to completion on a fresh io_context (for synchronous callers: CLI
// commands that are not a run, tests) and returns its value or rethrows its error.
template <typename T>
T run_sync(awaitable<T> a) {
  asio::io_context io;
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
    error = e;
    if (!e)
      result = std::move(v);
  });
  io.run();
  if (error)
    std::rethrow_exception(error);
  return std::move(*result);
}

inline void run_sync(awaitable<void> a) {
  asio::io_context io;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(a), [&](std::exception_ptr e) { error = e; });
  io.run();
  if (error)
    std::rethrow_exception(error);
}
} // namespace virtbench
