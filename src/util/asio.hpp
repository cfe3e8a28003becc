#pragma once
// The Asio spellings used across virtbench.

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

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
} // namespace virtbench
