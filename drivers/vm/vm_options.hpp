#pragma once
// The options every VM platform (qemu, libvirt) takes, declared once for both.

#include "options.hpp"

#include <vector>

namespace virtbench::vm {

// accel, vcpus, memory (MiB), cache-mode, scratch-format.
std::vector<OptionSpec> vm_options();

} // namespace virtbench::vm
