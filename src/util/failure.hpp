#pragma once
// Looking into a captured failure (std::exception_ptr) in coroutine code, where Asio may
// wrap several failures in one (multiple_exceptions from `&&`) or report a cancellation.

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

} // namespace virtbench
