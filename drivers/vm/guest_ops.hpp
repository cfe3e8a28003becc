#pragma once
// What the qemu and libvirt platforms do through the guest agent in the same way (they
// differ only in how agent commands reach the guest: a socket, or virDomainQemuAgentCommand).

#include "drivers/vm/agent.hpp"
#include "platform.hpp"
#include "util/failure.hpp" // is_cancellation, what_of

#include <chrono>
#include <exception>
#include <string>
#include <vector>

namespace virtbench::vm {

// Where the scratch disk is mounted in the guest, and fileio's files live (qemu and libvirt).
inline constexpr const char* k_guest_scratch_dir = "/scratch";

// The platform interface's ExecResult for an agent exec (a signal is said in err).
ExecResult to_exec_result(GuestExecResult r);

// Runs argv in the guest; throws Error with its exit code and output tail unless it exited 0.
awaitable<GuestExecResult> checked_guest_exec(GuestAgent& agent, std::vector<std::string> argv,
                                              std::chrono::milliseconds timeout);

// sync + `3 > /proc/sys/vm/drop_caches` in the guest, with its "Cached:" around it.
awaitable<CacheDrop> drop_guest_caches(GuestAgent& agent);

// Mounts the scratch disk (/dev/vdb, ext4) at `dir` in the guest; returns the first line of
// the guest's `sysbench --version`.
awaitable<std::string> prepare_guest(GuestAgent& agent, std::string dir);

} // namespace virtbench::vm
