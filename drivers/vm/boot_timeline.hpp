#pragma once
// The guest's boot timeline, read from its console without I/O (unit-tested on a recorded
// console log in tests/data/console/). The guest's init (guest-images/init) prints
// "virtbench-init: <step> (uptime N.NNs)" at each step of the boot.

#include <boost/json/array.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench::vm {

// qboot, Debian's qemu-system-data firmware that only loads the kernel: both the qemu and
// the libvirt platform boot q35 with it when it is there (SeaBIOS takes longer under TCG).
inline constexpr const char* k_qboot_rom = "/usr/share/qemu/qboot.rom";

struct BootStep {
  std::string step;   // "init started", "root mounted", "agent started" ...
  double uptime_s = 0; // the guest's /proc/uptime when it printed the step
};

// Every "virtbench-init: <step> (uptime N.NNs)" line of a console log, in order. Kernel
// messages, carriage returns and lines of other forms are skipped; a step whose uptime
// does not parse is skipped too. Only the first boot counts: parsing stops at a step
// whose uptime is lower than the previous one (a reboot).
std::vector<BootStep> parse_boot_timeline(std::string_view console);

// The first field of /proc/uptime ("12.34 5.67\n" gives 12.34); nullopt when malformed.
std::optional<double> parse_proc_uptime(std::string_view text);

// results.json's boot_timeline: {"step", "uptime_s"} per step, framed by "kernel started"
// (uptime 0) and "agent answered" (its first reply, boot_to_ready_s after QEMU started).
// kernel_started_s: seconds from QEMU's start to the guest's uptime 0, when measured; then
// every entry also gets "since_qemu_start_s" and the agent's answer its guest uptime.
boost::json::array boot_timeline_json(const std::vector<BootStep>& steps, std::optional<double> kernel_started_s,
                                      double boot_to_ready_s);

} // namespace virtbench::vm
