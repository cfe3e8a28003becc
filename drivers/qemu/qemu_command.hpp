#pragma once
// QEMU's command line for a virtbench guest, built without I/O (unit-tested).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace virtbench::qemu {

struct QemuCommand {
  std::string accel = "tcg";   // kvm | tcg
  std::string machine = "q35"; // q35 (virtio on PCI) | microvm (virtio-mmio, ACPI on)
  std::filesystem::path firmware; // -bios; empty: QEMU's default (SeaBIOS on q35, qboot on microvm)
  std::string cpu_model = "max"; // "host" under KVM
  int vcpus = 2;
  std::uint64_t memory_bytes = 2ull << 30;
  std::filesystem::path kernel, initrd;
  std::string kernel_cmdline;
  std::filesystem::path root_disk;    // qcow2 overlay
  std::filesystem::path scratch_disk; // fileio's disk (/dev/vdb in the guest)
  std::string scratch_format = "raw"; // raw | qcow2
  std::string cache_mode = "none";
  std::string aio = "native";
  std::filesystem::path console_log, qmp_socket, agent_socket;
  std::string agent_port_name;
  std::string name; // -name, also shown by ps and in thread names
  std::vector<std::string> extra_args;
};

// Commas in QEMU option values are doubled.
std::string escape_qemu_option(const std::string& value);

// The machine types build_qemu_argv knows.
bool is_known_machine(const std::string& machine);

// Throws UsageError for a machine type build_qemu_argv does not know.
std::vector<std::string> build_qemu_argv(const QemuCommand& c);

} // namespace virtbench::qemu
