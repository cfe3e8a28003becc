#pragma once
// Forwarding header: the accelerator decision is shared with libvirt and lives in
// drivers/vm/accel.hpp. Kept only for src/doctor.cpp until it includes that header.

#include "drivers/vm/accel.hpp"

namespace virtbench::qemu {
using vm::choose_accel;
using vm::choose_accel_for_host;
} // namespace virtbench::qemu
