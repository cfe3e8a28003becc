#include "drivers/vm/vm_options.hpp"

namespace virtbench::vm {

std::vector<OptionSpec> vm_options() {
  return {
      OptionSpec::choice_option("accel", "accelerator; auto uses KVM only when it is really usable", "auto",
                                {"auto", "kvm", "tcg"}),
      OptionSpec::integer_option("vcpus", "VM vCPUs and container CPU limit", 2, 1, 256).as_axis(),
      OptionSpec::mebibytes_option("memory", "VM memory and container memory limit (MiB, or 512M, 2G)", 2048, 128,
                                   1 << 20)
          .as_axis(),
      OptionSpec::choice_option("cache-mode", "disk cache mode", "none",
                                {"none", "writeback", "writethrough", "directsync", "unsafe"})
          .as_axis(),
      OptionSpec::choice_option("scratch-format", "format of the fileio scratch disk", "raw", {"raw", "qcow2"})
          .as_axis(),
      OptionSpec::integer_option("agent-timeout",
                                 "seconds one guest-agent call may go unanswered; then the VM gets 2 s to answer "
                                 "query-status, else the platform is lost and its VM killed",
                                 30, 2, 3600, "SECONDS"),
  };
}

VmConfig vm_config(const OptionValues& values) {
  VmConfig c;
  c.accel = values.text("accel");
  c.vcpus = static_cast<int>(values.integer("vcpus"));
  c.memory_bytes = static_cast<std::uint64_t>(values.integer("memory")) << 20;
  c.cache_mode = values.text("cache-mode");
  c.scratch_format = values.text("scratch-format");
  c.agent_timeout = std::chrono::seconds(values.integer("agent-timeout"));
  if (values.has("machine"))
    c.machine = values.text("machine");
  return c;
}

} // namespace virtbench::vm
