#pragma once
// Helpers shared by unit tests.

#include "util/asio.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>

namespace virtbench::test {

// A file under tests/data (the build passes its location in VIRTBENCH_TEST_DATA).
inline std::string data_file(const std::string& relative) {
  const char* dir = std::getenv("VIRTBENCH_TEST_DATA");
  std::filesystem::path base = dir ? dir : VIRTBENCH_SOURCE_TEST_DATA;
  return read_file(base / relative);
}

// Runs a coroutine to completion on a fresh io_context and returns its value.
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

} // namespace virtbench::test
