// The docker driver's registry entry.
#include "drivers/docker/docker.hpp"

#include "driver.hpp"
#include "drivers/docker/protocol.hpp"

#include <cstdlib>
#include <string>
#include <thread>

namespace virtbench::docker {

namespace {

std::vector<OptionSpec> options() {
  return {
      // The same declarations as the VMs' (drivers/vm/vm_options.cpp): one value for both.
      // In a matrix, as `docker run` spells them: cpus, memory, storage.
      OptionSpec::integer_option("vcpus", "VM vCPUs and container CPU limit", 2, 1, 256).as_axis("cpus"),
      OptionSpec::mebibytes_option("memory", "VM memory and container memory limit (MiB, or 512M, 2G)", 2048, 128,
                                   1 << 20)
          .as_axis(),
      OptionSpec::text_option("docker-host",
                              "engine: unix:///path/docker.sock or tcp://HOST:PORT (TLS from DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) "
                              "(default: $DOCKER_HOST, then /var/run/docker.sock; when none answers and "
                              "you are root, virtbench starts a private dockerd for the run); \"private\" always uses a "
                              "private dockerd",
                              "", "HOST"),
      OptionSpec::choice_option("insecure",
                                "yes: allow a tcp:// docker engine without TLS (DOCKER_TLS_VERIFY unset); warns", "no",
                                {"no", "yes"}),
      OptionSpec::text_option("docker-image", "image tag (default: the guest image's virtbench/guest:<hash>)", "", "TAG"),
      OptionSpec::choice_option("docker-storage", "where fileio's files live: bind (host directory) or volume", "bind",
                                {"bind", "volume"})
          .as_axis("storage"),
  };
}

// A container cannot have more CPUs than the host: the engine refuses NanoCpus above them.
std::string check_options(const OptionValues& values) {
  auto host_cpus = static_cast<std::int64_t>(std::thread::hardware_concurrency());
  if (values.has("vcpus") && host_cpus > 0 && values.integer("vcpus") > host_cpus)
    return "docker: " + std::to_string(values.integer("vcpus")) + " CPUs for a container on a host with " +
           std::to_string(host_cpus) + "; the engine refuses more CPUs than the host has: lower --vcpus (in a matrix, "
           "docker's cpus axis) to at most " + std::to_string(host_cpus);
  // A tcp:// engine is checked before anything starts: TLS settings, certificate files, storage.
  std::string host = values.has("docker-host") ? values.text("docker-host") : std::string();
  std::string source = "--docker-host";
  if (host.empty())
    if (const char* env = std::getenv("DOCKER_HOST"); env && *env) {
      host = env;
      source = "DOCKER_HOST";
    }
  if (host.starts_with("tcp://")) {
    try {
      (void)endpoint_from_docker_host(host, DockerTlsEnv::from_environment(),
                                      values.has("insecure") && values.text("insecure") == "yes");
    } catch (const Error& e) {
      return std::string("docker: ") + e.what();
    }
    if (!values.has("docker-storage") || values.text("docker-storage") == "bind")
      return "docker: --docker-storage bind with the engine at " + host + " (" + source +
             "): a bind mount names a directory on the engine's host, which virtbench makes here; pass "
             "--docker-storage volume for a tcp:// engine";
  }
  return {};
}

} // namespace

const Driver& driver() {
  static const Driver k_driver{
      .name = "docker",
      .summary = "a container through the Docker Engine API, with the guest image's root filesystem",
      .options = options(),
      .make_platform = make_platform,
      .doctor = [](const DriverContext&) { return std::vector<Check>{doctor_check()}; },
      .doctor_on_host =
          [](const DriverContext& ctx) { return std::vector<Check>{doctor_check_on_host(*ctx.host, ctx.runtime_dir)}; },
      .commands = {},
      .fingerprint_keys = {"vcpus", "memory_bytes", "nano_cpus", "storage_driver", "cgroup_version", "cgroup_driver",
                           "docker_storage", "engine_version", "sysbench_sha256"},
      .methodology = {"Engine API `pause`", "the host", "the container's cgroup"},
      .check_options = check_options,
  };
  return k_driver;
}

} // namespace virtbench::docker
