#pragma once
// The `native` platform: workloads run as plain processes on the host.

#include "platform.hpp"

namespace virtbench::native {

std::unique_ptr<Platform> make_platform(const PlatformOptions& options);

} // namespace virtbench::native
