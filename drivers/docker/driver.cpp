// The docker driver's registry entry.
#include "drivers/docker/docker.hpp"

#include "driver.hpp"

namespace virtbench::docker {

namespace {

std::vector<OptionSpec> options() {
  return {
      // The same declarations as the VMs' (drivers/vm/vm_options.cpp): one value for both.
      OptionSpec::integer_option("vcpus", "VM vCPUs and container CPU limit", 2, 1, 256),
      OptionSpec::integer_option("memory", "VM memory and container memory limit, MiB", 2048, 128, 1 << 20),
      OptionSpec::text_option("docker-host",
                              "engine socket (default: $DOCKER_HOST, then /var/run/docker.sock; when none answers and "
                              "you are root, virtbench starts a private dockerd for the run); \"private\" always uses a "
                              "private dockerd",
                              "", "SOCKET"),
      OptionSpec::text_option("docker-image", "image tag (default: the guest image's virtbench/guest:<hash>)", "", "TAG"),
      OptionSpec::choice_option("docker-storage", "where fileio's files live: bind (host directory) or volume", "bind",
                                {"bind", "volume"}),
  };
}

} // namespace

const Driver& driver() {
  static const Driver k_driver{
      .name = "docker",
      .summary = "a container through the Docker Engine API, with the guest image's root filesystem",
      .options = options(),
      .make_platform = make_platform,
      .doctor = [](const DriverContext&) { return std::vector<Check>{doctor_check()}; },
      .commands = {},
      .fingerprint_keys = {"vcpus", "memory_bytes", "nano_cpus", "storage_driver", "cgroup_version", "cgroup_driver",
                           "docker_storage", "engine_version", "sysbench_sha256"},
      .methodology = {"Engine API `pause`", "the host", "the container's cgroup"},
      .check_options = {},
  };
  return k_driver;
}

} // namespace virtbench::docker
