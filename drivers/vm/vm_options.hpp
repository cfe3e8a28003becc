#pragma once
// The options every VM platform (qemu, libvirt) takes, declared once for both.

#include "options.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace virtbench::vm {

// accel, vcpus, memory (MiB), cache-mode, scratch-format, agent-timeout.
std::vector<OptionSpec> vm_options();

// Those options' values, as the VM drivers use them.
struct VmConfig {
  std::string accel = "auto"; // auto | kvm | tcg
  int vcpus = 2;
  std::uint64_t memory_bytes = 2ull << 30;
  std::string cache_mode = "none";    // none | writeback | writethrough | directsync | unsafe
  std::string scratch_format = "raw"; // raw | qcow2
  std::string machine = "q35";        // the qemu driver's --machine; q35 where it is not declared
  std::chrono::milliseconds agent_timeout{30000}; // one agent call's answer (AgentTimeouts::call)
};
VmConfig vm_config(const OptionValues& values);

} // namespace virtbench::vm
