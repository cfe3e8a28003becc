// `virtbench doctor`'s Docker row: does an engine answer, or can virtbench start one?
#include "drivers/docker/docker.hpp"
#include "drivers/docker/engine_client.hpp"
#include "drivers/docker/protocol.hpp"

#include <boost/process/v2/environment.hpp>
#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <unistd.h>

namespace virtbench::docker {

Check doctor_check() {
  const char* env = std::getenv("DOCKER_HOST");
  DockerEndpoint endpoint;
  try {
    endpoint = env && *env ? endpoint_from_docker_host(env, DockerTlsEnv::from_environment(), false)
                           : DockerEndpoint::unix_socket_at("/var/run/docker.sock");
  } catch (const std::exception& e) {
    return {"docker", "fail", e.what(),
            "set DOCKER_HOST=unix:///path/to/docker.sock, or tcp://HOST:PORT with DOCKER_TLS_VERIFY=1 and "
            "DOCKER_CERT_PATH"};
  }
  std::string socket = endpoint.describe();
  std::atomic<bool> abort{false};
  try {
    HttpRequest ping;
    ping.path = "/version";
    ping.timeout = std::chrono::seconds(5);
    auto r = perform_request(endpoint, ping, abort);
    if (r.status == 200) {
      EngineVersion v;
      try {
        v = parse_version(r.body);
      } catch (const Error& e) {
        return {"docker", "fail", fmt::format("the engine at {}: {}", socket, e.what()),
                "upgrade the engine (Debian 12's docker.io speaks API 1.41), or point DOCKER_HOST at another one"};
      }
      return {"docker", "ok", fmt::format("engine {} (API {}) answers at {}", v.version, v.api_version, socket), ""};
    }
    return {"docker", "fail", fmt::format("{} answered GET /version with HTTP {}", socket, r.status),
            "check the engine's log; restart it"};
  } catch (const std::exception& e) {
    bool have_dockerd = !boost::process::v2::environment::find_executable("dockerd").empty();
    if (have_dockerd && ::geteuid() == 0 && !endpoint.tcp())
      return {"docker", "ok",
              fmt::format("no engine answers at {}; `run --platform docker` starts a private dockerd for the run", socket),
              ""};
    return {"docker", "fail", fmt::format("no engine answers at {} ({})", socket, e.what()),
            have_dockerd ? "start one (`dockerd &` as root), or run virtbench as root so it can start a private one"
                         : "run tools/setup (or apt-get install docker.io)"};
  }
}

Check doctor_check_on_host(HostServices& host, const std::filesystem::path& runtime_dir) {
  std::string remote = "/var/run/docker.sock", where = host.location();
  auto forward = (runtime_dir / "docker.sock").string();
  Check row{"remote docker", "ok", "", ""};
  try {
    ExecRequest probe{{"test", "-S", remote}, "", std::chrono::seconds(30)};
    if (run_sync(host.exec(std::move(probe))).exit_code != 0)
      return {"remote docker", "warn", fmt::format("no engine socket {} on {}", remote, where),
              "for --platform docker there: start its dockerd (a private engine is started on this host only), or "
              "name its socket with --docker-host unix:///PATH"};
    run_sync(host.forward_socket(forward, remote));
  } catch (const std::exception& e) {
    return {"remote docker", "fail", e.what(), "check the connection"};
  }
  std::atomic<bool> abort{false};
  try {
    HttpRequest ping;
    ping.path = "/version";
    ping.timeout = std::chrono::seconds(5);
    auto r = perform_request(DockerEndpoint::unix_socket_at(forward), ping, abort);
    if (r.status != 200)
      throw Error(fmt::format("GET /version answered HTTP {}", r.status));
    auto v = parse_version(r.body);
    row.detail = fmt::format("engine {} (API {}) answers at {} on {} (forwarded over SSH)", v.version, v.api_version,
                             remote, where);
  } catch (const std::exception& e) {
    row = {"remote docker", "warn", fmt::format("the engine at {} on {}: {}", remote, where, e.what()),
           "check that dockerd runs there and this user may open its socket (root or the docker group)"};
  }
  host.cancel_forward(forward, remote);
  return row;
}

} // namespace virtbench::docker
