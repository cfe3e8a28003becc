#pragma once
// The `docker` platform: workloads run in a container through the Docker Engine API over
// its Unix socket (libcurl), with the VM's CPU and memory limits and the guest image.

#include "platform.hpp"

namespace virtbench::docker {

std::unique_ptr<Platform> make_platform(const PlatformOptions& options);

} // namespace virtbench::docker
