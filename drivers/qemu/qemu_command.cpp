#include "drivers/qemu/qemu_command.hpp"

#include "util/error.hpp"

#include <algorithm>

namespace virtbench::qemu {

std::string escape_qemu_option(const std::string& value) {
  std::string out;
  for (char c : value) {
    out += c;
    if (c == ',')
      out += ',';
  }
  return out;
}

bool is_known_machine(const std::string& machine) { return machine == "q35" || machine == "microvm"; }

std::vector<std::string> build_qemu_argv(const QemuCommand& c) {
  if (!is_known_machine(c.machine))
    throw UsageError("QEMU machine type '" + c.machine + "' is not supported; use q35 or microvm");
  auto drive = [&](const std::string& id, const std::filesystem::path& file, const std::string& format) {
    return "file=" + escape_qemu_option(file.string()) + ",if=none,id=" + id + ",format=" + format +
           ",cache=" + c.cache_mode + ",aio=" + c.aio;
  };
  bool microvm = c.machine == "microvm";
  // microvm has no PCI: its virtio devices sit on virtio-mmio transports, which this
  // kernel finds only through ACPI (with acpi=off it sees none).
  std::string machine = microvm ? "microvm,acpi=on" : c.machine;
  std::string virtio = microvm ? "-device" : "-pci";
  std::vector<std::string> argv = {
      "qemu-system-x86_64",
      "-name", escape_qemu_option(c.name) + ",debug-threads=on",
      "-machine", machine,
      "-accel", c.accel,
      "-cpu", c.cpu_model,
      "-smp", std::to_string(c.vcpus),
      "-m", std::to_string(std::max<std::uint64_t>(c.memory_bytes >> 20, 64)) + "M",
      "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
      "-kernel", c.kernel.string(),
      "-initrd", c.initrd.string(),
      "-append", c.kernel_cmdline,
      // In this order the guest sees vda (root) and vdb (scratch).
      "-drive", drive("root", c.root_disk, "qcow2"),
      "-device", "virtio-blk" + virtio + ",drive=root",
      "-drive", drive("scratch", c.scratch_disk, c.scratch_format),
      "-device", "virtio-blk" + virtio + ",drive=scratch",
      "-nic", "none",
      "-chardev", "file,id=console,path=" + escape_qemu_option(c.console_log.string()),
      "-serial", "chardev:console",
      "-chardev", "socket,id=qmp,path=" + escape_qemu_option(c.qmp_socket.string()) + ",server=on,wait=off",
      "-mon", "chardev=qmp,mode=control",
      "-device", "virtio-serial" + virtio + ",id=vser0",
      "-chardev", "socket,id=qga,path=" + escape_qemu_option(c.agent_socket.string()) + ",server=on,wait=off",
      "-device", "virtserialport,bus=vser0.0,chardev=qga,name=" + c.agent_port_name,
  };
  if (!c.firmware.empty()) {
    argv.push_back("-bios");
    argv.push_back(c.firmware.string());
  }
  argv.insert(argv.end(), c.extra_args.begin(), c.extra_args.end());
  return argv;
}

} // namespace virtbench::qemu
