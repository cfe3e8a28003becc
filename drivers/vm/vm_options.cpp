#include "drivers/vm/vm_options.hpp"

namespace virtbench::vm {

std::vector<OptionSpec> vm_options() {
  return {
      OptionSpec::choice_option("accel", "accelerator; auto uses KVM only when it is really usable", "auto",
                                {"auto", "kvm", "tcg"}),
      OptionSpec::integer_option("vcpus", "VM vCPUs and container CPU limit", 2, 1, 256),
      OptionSpec::integer_option("memory", "VM memory and container memory limit, MiB", 2048, 128, 1 << 20),
      OptionSpec::choice_option("cache-mode", "disk cache mode", "none",
                                {"none", "writeback", "writethrough", "directsync", "unsafe"}),
      OptionSpec::choice_option("scratch-format", "format of the fileio scratch disk", "raw", {"raw", "qcow2"}),
  };
}

} // namespace virtbench::vm
