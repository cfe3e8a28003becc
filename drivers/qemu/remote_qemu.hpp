#pragma once
// What the qemu platform needs to know of, and do on, a remote host (--host) that has no
// file system here: the facts it probes there (one script) and the remote scripts it runs
// through HostServices::exec. No I/O (unit-tested).

#include <string>
#include <string_view>
#include <vector>

namespace virtbench::qemu {

// Prints what a QEMU run on the host needs to know: the first "flags" line of /proc/cpuinfo,
// then "virtbench:dev_kvm", "virtbench:kvm_pvm", "virtbench:qboot" where they hold, and
// "virtbench:missing TOOL" for each tool of the run that is not in the PATH.
extern const char* const k_remote_probe_script;

struct RemoteQemuFacts {
  std::string cpuinfo; // the flags line, for vm::choose_accel
  bool dev_kvm = false, kvm_pvm = false, qboot = false;
  std::vector<std::string> missing; // tools not installed there
};
RemoteQemuFacts parse_remote_probe(std::string_view text);

// The packages that hold what `facts.missing` lists, for the message that names them:
// "qemu-img, mke2fs not installed ...; install qemu-system-x86 qemu-utils e2fsprogs".
inline constexpr const char* k_remote_qemu_packages = "qemu-system-x86 qemu-utils e2fsprogs";
// The missing tools, comma-separated ("qemu-img, mke2fs").
std::string missing_tools_text(const RemoteQemuFacts& facts);

// Until the Unix sockets $1 and $2 exist (QEMU made its QMP and agent servers); exit 1 after
// about 30 s.
std::vector<std::string> wait_for_sockets_argv(const std::string& qmp, const std::string& agent);

// Ends the QEMU whose pid is in `pid_file` if it still runs with `marker` in its command line
// (its directory: never another process that got the pid): SIGTERM, SIGKILL after `grace_s`
// seconds (0: at once), then waits until it is gone; exit 1 if it survives.
std::vector<std::string> kill_remote_qemu_argv(const std::string& pid_file, const std::string& marker, int grace_s);

} // namespace virtbench::qemu
