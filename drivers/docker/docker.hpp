#pragma once
// The `docker` platform: workloads run in a container through the Docker Engine API over
// its Unix socket (libcurl), with the VM's CPU and memory limits and the guest image.

#include "driver.hpp" // Check
#include "platform.hpp"

#include <filesystem>

namespace virtbench::docker {

std::unique_ptr<Platform> make_platform(const PlatformOptions& options);

// `virtbench doctor`'s row: an engine answering at DOCKER_HOST / /var/run/docker.sock, or
// whether virtbench can start a private dockerd.
Check doctor_check();
// `doctor --host`'s row: the engine socket there (/var/run/docker.sock, the default of
// run --host), forwarded into `runtime_dir` and asked GET /version. Never throws.
Check doctor_check_on_host(HostServices& host, const std::filesystem::path& runtime_dir);

} // namespace virtbench::docker
