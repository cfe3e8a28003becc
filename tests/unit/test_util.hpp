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

using virtbench::run_sync;

} // namespace virtbench::test
