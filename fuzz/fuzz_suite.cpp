// The suite loader on any TOML text. The registry is replaced by one driver ("qemu")
// declaring an option of every kind, so [platform.qemu] tables reach the option checks
// without linking the drivers. Seeds: the built-in suites and fuzz/seeds/suite/.
#include "fuzz/fuzz.hpp"
#include "registry.hpp"
#include "suite.hpp"

namespace virtbench {

namespace {
const Driver& fuzz_driver() {
  static const Driver d = [] {
    Driver driver;
    driver.name = "qemu";
    driver.options = {
        OptionSpec::text_option("libvirt-uri", "a URI", "qemu:///system", "URI"),
        OptionSpec::choice_option("cache-mode", "how the host caches", "none", {"none", "writeback", "unsafe"}),
        OptionSpec::integer_option("vcpus", "vCPUs", 2, 1, 64),
        OptionSpec::list_option("qemu-arg", "extra arguments", "ARG"),
    };
    return driver;
  }();
  return d;
}
} // namespace

// The two registry functions suite.cpp uses.
const Driver* find_driver(std::string_view name) { return name == "qemu" ? &fuzz_driver() : nullptr; }
std::vector<std::string> platform_names() { return {"native", "qemu"}; }

} // namespace virtbench

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtbench;
  fuzz::refusing_only_with_error([&] {
    auto suite = parse_suite(fuzz::text_of(data, size), "fuzz.toml");
    for (auto& e : suite.experiments) {
      (void)e.sysbench_argv("run");
      if (e.workload == Workload::fileio)
        (void)e.fileio_bytes();
    }
  });
  return 0;
}
