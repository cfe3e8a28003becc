#pragma once
// Looking into a captured failure (std::exception_ptr) in coroutine code, where Asio may
// wrap several failures in one (multiple_exceptions from `&&`) or report a cancellation.

#include "util/asio.hpp"

#include <exception>
#include <string>

namespace virtbench {

// The failure that matters: the first of several thrown together, or `e` itself.
std::exception_ptr first_of(const std::exception_ptr& e);
// True when the (first) failure is a cancellation (Ctrl-C): rethrow it as it is, never wrap it.
bool is_cancellation(const std::exception_ptr& e);
// Throws the cancellation is_cancellation() recognises (operation_aborted), for code that
// notices it was cancelled (Ctrl-C) without an operation of its own failing.
[[noreturn]] void throw_cancellation();
// The (first) failure's what(), or "unknown error".
std::string what_of(const std::exception_ptr& e);

// Runs op and hands back its failure (nullptr on success) instead of throwing it. Asio's
// `a || b` waits for one *success*: a failing `a` would otherwise wait for `b` to end
// (`captured(agent.wait_until_ready(t)) || wait_for_exit(...)` ends when either does).
template <typename T>
awaitable<std::exception_ptr> captured(awaitable<T> op) {
  try {
    co_await std::move(op);
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

} // namespace virtbench
