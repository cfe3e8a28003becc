// DOCKER_HOST / --docker-host as tcp://: the docker CLI's TLS environment, the --insecure refusal.
#include "drivers/docker/engine_client.hpp"
#include "drivers/docker/protocol.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace virtbench;
using namespace virtbench::docker;

namespace {

// A temporary DOCKER_CERT_PATH holding the files named (contents are not read here).
struct TlsCertDir {
  std::filesystem::path path;
  explicit TlsCertDir(std::initializer_list<const char*> files) {
    path = std::filesystem::temp_directory_path() / ("vb-tls-unit-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
    for (auto f : files)
      std::ofstream(path / f) << "x";
  }
  ~TlsCertDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string tls_error_of(const std::string& host, const DockerTlsEnv& env, bool insecure) {
  try {
    (void)endpoint_from_docker_host(host, env, insecure);
  } catch (const UsageError& e) {
    return std::string("usage: ") + e.what();
  } catch (const Error& e) {
    return std::string("error: ") + e.what();
  }
  return {};
}

} // namespace

TEST_CASE("docker endpoints: unix sockets as before, described as unix://") {
  auto e = endpoint_from_docker_host("unix:///run/x.sock", {}, false);
  CHECK(e.kind == DockerEndpoint::Kind::unix_socket);
  CHECK(e.socket_path == "/run/x.sock");
  CHECK(e.describe() == "unix:///run/x.sock");
  CHECK_FALSE(e.tcp());
  CHECK(endpoint_from_docker_host("/run/y.sock", {}, false).socket_path == "/run/y.sock");
  CHECK_THROWS_WITH_AS(endpoint_from_docker_host("ssh://me@host", {}, false), doctest::Contains("tcp://HOST:PORT"),
                       UsageError);
}

TEST_CASE("docker endpoints: tcp:// with DOCKER_TLS_VERIFY takes ca/cert/key from DOCKER_CERT_PATH") {
  TlsCertDir dir({"ca.pem", "cert.pem", "key.pem"});
  DockerTlsEnv env{"1", dir.path.string(), "/nonexistent-home"};
  auto e = endpoint_from_docker_host("tcp://127.0.0.1:2376", env, false);
  CHECK(e.kind == DockerEndpoint::Kind::https);
  CHECK(e.host_port == "127.0.0.1:2376");
  CHECK(e.ca == (dir.path / "ca.pem").string());
  CHECK(e.cert == (dir.path / "cert.pem").string());
  CHECK(e.key == (dir.path / "key.pem").string());
  CHECK(e.describe() == "tcp://127.0.0.1:2376 (TLS)");
  CHECK(endpoint_from_docker_host("tcp://bench-2:2376/", env, false).host_port == "bench-2:2376");

  // Without DOCKER_CERT_PATH: HOME/.docker, as the docker CLI.
  std::filesystem::create_directories(dir.path / "home" / ".docker");
  for (auto f : {"ca.pem", "cert.pem", "key.pem"})
    std::ofstream(dir.path / "home" / ".docker" / f) << "x";
  DockerTlsEnv home_env{"1", "", (dir.path / "home").string()};
  CHECK(endpoint_from_docker_host("tcp://h:1", home_env, false).ca == (dir.path / "home" / ".docker" / "ca.pem").string());
}

TEST_CASE("docker endpoints: a missing certificate file is named with DOCKER_CERT_PATH") {
  TlsCertDir dir({"ca.pem", "cert.pem"});
  DockerTlsEnv env{"1", dir.path.string(), ""};
  auto msg = tls_error_of("tcp://127.0.0.1:2376", env, false);
  CHECK(msg.starts_with("usage: "));
  CHECK(msg.find((dir.path / "key.pem").string() + " is missing") != std::string::npos);
  CHECK(msg.find("DOCKER_CERT_PATH") != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
}

TEST_CASE("docker endpoints: plain tcp:// is refused unless --insecure, naming the variables and the flag") {
  auto msg = tls_error_of("tcp://127.0.0.1:2375", {}, false);
  CHECK(msg.starts_with("usage: "));
  for (auto word : {"DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "--insecure"})
    CHECK_MESSAGE(msg.find(word) != std::string::npos, word);
  auto e = endpoint_from_docker_host("tcp://127.0.0.1:2375", {}, true);
  CHECK(e.kind == DockerEndpoint::Kind::http);
  CHECK(e.describe() == "tcp://127.0.0.1:2375 (no TLS)");
}

TEST_CASE("docker endpoints: malformed tcp:// addresses") {
  for (auto bad : {"tcp://", "tcp://host", "tcp://host:", "tcp://:2376", "tcp://host:23x6", "tcp://host:2376/path",
                   "tcp://host:1234567"})
    CHECK_MESSAGE(tls_error_of(bad, {"1", "/nonexistent", ""}, true).starts_with("usage: "), bad);
}

TEST_CASE("docker endpoints: nothing listening on tcp:// is a connect TransportError naming the endpoint") {
  // Port 1 on loopback: nothing listens there in the test environment.
  auto e = endpoint_from_docker_host("tcp://127.0.0.1:1", {}, true);
  HttpRequest ping;
  ping.path = "/_ping";
  std::atomic<bool> abort{false};
  try {
    (void)perform_request(e, ping, abort);
    FAIL("expected a TransportError");
  } catch (const TransportError& err) {
    CHECK(err.kind() == TransportError::Kind::connect);
    CHECK(std::string(err.what()).find("tcp://127.0.0.1:1 (no TLS)") != std::string::npos);
  }
}

TEST_CASE("docker endpoints: a --host's engine, its socket there forwarded to one here") {
  auto e = DockerEndpoint::forwarded("/run/vb/run-1/docker-engine.sock", "/var/run/docker.sock", "ssh://root@bench-2:2222");
  CHECK(e.kind == DockerEndpoint::Kind::unix_socket);
  CHECK(e.socket_path == "/run/vb/run-1/docker-engine.sock"); // what libcurl connects to
  CHECK(e.remote());
  CHECK_FALSE(e.tcp());
  CHECK(e.describe() == "unix:///var/run/docker.sock on ssh://root@bench-2:2222 (forwarded over SSH)");
  CHECK_FALSE(DockerEndpoint::unix_socket_at("/run/x.sock").remote());

  CHECK(remote_engine_socket("", "ssh://h") == "/var/run/docker.sock");
  CHECK(remote_engine_socket("unix:///run/docker.sock", "ssh://h") == "/run/docker.sock");
  CHECK(remote_engine_socket("/srv/d.sock", "ssh://h") == "/srv/d.sock");
  CHECK_THROWS_WITH_AS(remote_engine_socket("private", "ssh://root@h"),
                       doctest::Contains("a private dockerd only on this host"), UsageError);
  CHECK_THROWS_WITH_AS(remote_engine_socket("tcp://10.0.0.1:2376", "ssh://root@h"),
                       doctest::Contains("is reached from here, not over the SSH connection"), UsageError);
  CHECK_THROWS_AS(remote_engine_socket("ssh://root@h", "ssh://root@h"), UsageError);
  CHECK_THROWS_AS(remote_engine_socket("docker.sock", "ssh://root@h"), UsageError);
}
