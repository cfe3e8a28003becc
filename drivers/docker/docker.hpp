#pragma once
// The `docker` platform: workloads run in a container through the Docker Engine API over
// its Unix socket (libcurl), with the VM's CPU and memory limits and the guest image.

#include "driver.hpp" // Check
#include "platform.hpp"

namespace virtbench::docker {

std::unique_ptr<Platform> make_platform(const PlatformOptions& options);

// `virtbench doctor`'s row: an engine answering at DOCKER_HOST / /var/run/docker.sock, or
// whether virtbench can start a private dockerd.
Check doctor_check();

} // namespace virtbench::docker
