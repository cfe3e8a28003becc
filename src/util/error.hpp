#pragma once
// One error scheme everywhere: exceptions that carry "<operation> <object>: <cause>",
// with each layer adding its context as the error rises (rethrow_with_context() in a
// catch (...) block, which works in coroutines too). The discipline is described in
// CONTRIBUTING.md, "Rules of the code" -> Errors.

#include <stdexcept>
#include <string>
#include <string_view>

namespace virtbench {

// A failure at run time (engine down, guest not answering, workload failed): exit code 1.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Bad input from the user (suite file, command line, results file): exit code 2.
class UsageError : public Error {
public:
  using Error::Error;
};

// The platform itself is gone (QEMU exited, the engine stopped answering): the runner
// fails the platform and skips its remaining iterations instead of retrying.
class PlatformLost : public Error {
public:
  using Error::Error;
};

// Rethrows the exception being handled with "context: " in front of its message, keeping
// its kind: UsageError stays UsageError, PlatformLost stays PlatformLost, any other
// std::exception (Error and its subclasses included) becomes Error. A cancellation
// (is_cancellation() in util/failure.hpp) is rethrown untouched, never wrapped. Call it
// only inside a catch block: `catch (...) { rethrow_with_context("start qemu"); }`.
[[noreturn]] void rethrow_with_context(std::string_view context);

// The last `max_lines` lines of text, for quoting stderr or a console log in an error.
std::string tail_lines(std::string_view text, std::size_t max_lines);

} // namespace virtbench
