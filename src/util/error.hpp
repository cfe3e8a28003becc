#pragma once
// One error scheme everywhere: exceptions that carry "<operation> <object>: <cause>",
// with each layer adding its context as the error rises (see with_context()).

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

// Runs fn(); if it throws, rethrows the same kind of error with "context: " in front.
template <typename Fn>
decltype(auto) with_context(std::string_view context, Fn&& fn) {
  try {
    return fn();
  } catch (const UsageError& e) {
    throw UsageError(std::string(context) + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error(std::string(context) + ": " + e.what());
  }
}

// The last `max_lines` lines of text, for quoting stderr or a console log in an error.
std::string tail_lines(std::string_view text, std::size_t max_lines);

} // namespace virtbench
