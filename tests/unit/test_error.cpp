#include "test_util.hpp"
#include "util/error.hpp"
#include "util/failure.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/multiple_exceptions.hpp>
#include <boost/system/system_error.hpp>

#include <doctest/doctest.h>

#include <stdexcept>

using namespace virtbench;

namespace {

// What rethrow_with_context("ctx") makes of `thrown`, captured.
template <typename E>
std::exception_ptr rethrown(E thrown) {
  try {
    try {
      throw thrown;
    } catch (...) {
      rethrow_with_context("ctx");
    }
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

// Rethrows `e` so that doctest's CHECK_THROWS_AS can look at its type.
void raise(const std::exception_ptr& e) { std::rethrow_exception(e); }

awaitable<void> failing_step() {
  co_await sleep_for(std::chrono::milliseconds(1));
  throw PlatformLost("qemu exited");
}

awaitable<void> step_with_context() {
  try {
    co_await failing_step();
  } catch (...) {
    rethrow_with_context("boot the guest");
  }
}

} // namespace

TEST_CASE("rethrow_with_context puts the context in front and keeps the kind of error") {
  auto usage = rethrown(UsageError("no such suite"));
  CHECK_THROWS_WITH_AS(raise(usage), "ctx: no such suite", UsageError);
  auto lost = rethrown(PlatformLost("engine gone"));
  CHECK_THROWS_WITH_AS(raise(lost), "ctx: engine gone", PlatformLost);
  auto error = rethrown(Error("exit code 3"));
  CHECK_THROWS_WITH_AS(raise(error), "ctx: exit code 3", Error);
}

TEST_CASE("rethrow_with_context turns any other exception into Error, never into a narrower kind") {
  auto runtime = rethrown(std::runtime_error("stoi"));
  CHECK_THROWS_WITH_AS(raise(runtime), "ctx: stoi", Error);
  try {
    raise(runtime);
  } catch (const UsageError&) {
    FAIL("a std::runtime_error must not become a UsageError");
  } catch (const PlatformLost&) {
    FAIL("a std::runtime_error must not become PlatformLost");
  } catch (const Error&) {
  }
  auto odd = rethrown(42);
  CHECK_THROWS_WITH_AS(raise(odd), "ctx: unknown error", Error);
}

TEST_CASE("rethrow_with_context lets a cancellation pass untouched") {
  auto cancelled = rethrown(boost::system::system_error(boost::asio::error::operation_aborted));
  CHECK(is_cancellation(cancelled));
  CHECK_THROWS_AS(raise(cancelled), boost::system::system_error);
  CHECK(std::string(what_of(cancelled)).find("ctx") == std::string::npos);
}

TEST_CASE("rethrow_with_context wraps the error that matters of several thrown together") {
  auto first = std::make_exception_ptr(PlatformLost("qmp closed"));
  auto several = rethrown(boost::asio::multiple_exceptions(first));
  CHECK_THROWS_WITH_AS(raise(several), "ctx: qmp closed", PlatformLost);
}

TEST_CASE("rethrow_with_context works in a coroutine's catch block, around a co_await") {
  CHECK_THROWS_WITH_AS(test::run_sync(step_with_context()), "boot the guest: qemu exited", PlatformLost);
}
