// The /proc parsers (stat, meminfo, cpuinfo) on any text: what a guest's /proc, read
// through its agent, may hold. Seeds: tests/data/proc/.
#include "fuzz/fuzz.hpp"
#include "procstat.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtbench;
  auto text = fuzz::text_of(data, size);
  fuzz::refusing_only_with_error([&] {
    auto t = parse_proc_stat(text);
    (void)cpu_split_to_json(cpu_split(CpuTimes{}, t));
    (void)cpu_split_to_json(cpu_split(t, CpuTimes{}));
  });
  fuzz::refusing_only_with_error([&] { (void)parse_meminfo_kib(text, "Cached"); });
  fuzz::refusing_only_with_error([&] { (void)parse_meminfo_kib(text, "MemTotal"); });
  for (auto flags : cpuinfo_values(text, "flags"))
    (void)has_word(flags, "hypervisor");
  return 0;
}
