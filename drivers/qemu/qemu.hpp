#pragma once
// The `qemu` platform: a QEMU virtual machine booted from the guest image (a qcow2
// overlay per run, direct kernel boot), driven through QMP and the QEMU guest agent.

#include "platform.hpp"

namespace virtbench::qemu {

std::unique_ptr<Platform> make_platform(const PlatformOptions& options);

} // namespace virtbench::qemu
