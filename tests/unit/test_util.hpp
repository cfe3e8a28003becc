#pragma once
// Helpers shared by unit tests.

#include "util/asio.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
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

// The message of the E that f() throws, or "(no error)" when it throws none.
template <typename E = Error, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

// The memory an operation on hostile input may add to the process (README: limits). Under
// ASan the process also holds the sanitizer's shadow and its quarantine of freed blocks (256
// MiB by default), so the bound checked there is wider by that much.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr std::size_t k_rss_budget_mib = 256 + 320;
#else
inline constexpr std::size_t k_rss_budget_mib = 256;
#endif

inline std::size_t status_mib(const char* field) {
  auto status = read_file("/proc/self/status");
  auto pos = status.find(field);
  if (pos == std::string::npos)
    throw std::runtime_error(std::string("no ") + field + " in /proc/self/status");
  return std::stoull(status.substr(pos + std::string(field).size())) / 1024;
}

// Resets the process's peak resident memory (VmHWM) to what it holds now
// (/proc/self/clear_refs, "5") and returns that, in MiB; throws when the kernel does not allow it.
inline std::size_t reset_peak_rss() {
  std::ofstream reset("/proc/self/clear_refs");
  reset << "5";
  if (!reset.flush())
    throw std::runtime_error("reset_peak_rss: cannot write /proc/self/clear_refs to reset the peak RSS; "
                             "this test needs Linux >= 4.0 and a writable /proc");
  return status_mib("VmRSS:");
}

// What the peak resident memory since reset_peak_rss() (which returned `base`) added, in MiB.
inline std::size_t peak_rss_growth_mib(std::size_t base) {
  auto peak = status_mib("VmHWM:");
  return peak > base ? peak - base : 0;
}

// What running `f` added to the peak resident memory, in MiB.
template <typename F>
std::size_t peak_rss_mib_during(F&& f) {
  auto base = reset_peak_rss();
  f();
  return peak_rss_growth_mib(base);
}

} // namespace virtbench::test
