#pragma once
#include <vector>
// /proc/stat and /proc/meminfo, parsed without I/O, and the CPU split over an interval.

#include <boost/json/object.hpp>

#include <cstdint>
#include <string_view>

namespace virtbench {

// The aggregate "cpu" line of /proc/stat, in clock ticks.
struct CpuTimes {
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0,
                guest = 0, guest_nice = 0;
};

// Where the CPU time went between two samples, in percent of all CPU time.
// user = user + nice (guest time included, as the kernel counts it); kernel = system + irq + softirq.
struct CpuSplit {
  double user_pct = 0, kernel_pct = 0, iowait_pct = 0, steal_pct = 0, guest_pct = 0, idle_pct = 0;
};

// Throws Error quoting the text when there is no "cpu " line.
CpuTimes parse_proc_stat(std::string_view text);
CpuSplit cpu_split(const CpuTimes& before, const CpuTimes& after);
boost::json::object cpu_split_to_json(const CpuSplit& s);

// A "Key:   1234 kB" value of /proc/meminfo in KiB; throws Error when the key is absent.
std::uint64_t parse_meminfo_kib(std::string_view text, std::string_view key);

// Every value of `key` in /proc/cpuinfo text ("flags", "bogomips"; one per CPU), left-trimmed.
std::vector<std::string_view> cpuinfo_values(std::string_view cpuinfo, std::string_view key);
// True when the space- or tab-separated `list` (a cpuinfo "flags" value) holds `word`.
bool has_word(std::string_view list, std::string_view word);

} // namespace virtbench
