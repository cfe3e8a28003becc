#pragma once
// The Docker Engine API without I/O: the multiplexed stream framing of attached output,
// error responses, and the few response bodies the driver reads. The libcurl layer
// (engine_client.hpp) only moves bytes; everything here is unit-tested on recorded
// responses in tests/data/docker/<api version>/.

#include "platform.hpp"
#include "util/error.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench::docker {

// The newest and oldest Engine API versions the driver speaks; calls go under /v<version>/.
inline constexpr const char* k_max_api_version = "1.41";
inline constexpr const char* k_min_api_version = "1.40";

// The label every virtbench container and volume carries, with the run id as its value.
inline constexpr const char* k_run_label = "virtbench.run";
// The pid of the virtbench process that created it (a live one is a concurrent run, not a leftover).
inline constexpr const char* k_pid_label = "virtbench.pid";
// The machine that virtbench process runs on (/etc/machine-id): the pid means something only there
// (a --host's engine serves other controllers too).
inline constexpr const char* k_controller_label = "virtbench.controller";

// What an exec's output may be, each of stdout and stderr (sysbench prints a few KiB).
inline constexpr std::size_t k_max_exec_output = std::size_t(64) << 20;
// The largest Engine API answer read into memory (the biggest, GET /containers/json, is KiB).
inline constexpr std::size_t k_max_body = std::size_t(64) << 20;

// Incremental decoder of the multiplexed stream ("application/vnd.docker.raw-stream" /
// "multiplexed-stream") an attached exec without a TTY sends: frames of an 8-byte header
// (stream type: 0 stdin, 1 stdout, 2 stderr, 3 system error; three zero bytes; big-endian
// uint32 payload length) followed by the payload. Bytes may be fed in any chunking.
class StreamDecoder {
public:
  // `max_output`: the bytes kept of each stream; more is an Error (a command printing
  // gigabytes must not grow virtbench's memory).
  explicit StreamDecoder(std::size_t max_output = k_max_exec_output) : m_max_output(max_output) {}
  // Consumes the next bytes; payloads go to out() (stdin, stdout) or err() (stderr).
  // Throws Error on a header that is not a frame header (e.g. a TTY stream), and when a
  // stream passes max_output bytes.
  void feed(std::string_view bytes);
  // Checks the stream ended on a frame boundary; throws Error naming what was cut off.
  void finish() const;

  const std::string& out() const { return m_out; }
  const std::string& err() const { return m_err; }
  // Frames decoded so far (zero-length ones included).
  std::size_t frames() const { return m_frames; }
  // Text the engine sent as a system-error frame (stream 3), if any.
  const std::string& system_error() const { return m_system_error; }

private:
  std::size_t m_max_output;
  std::array<unsigned char, 8> m_header{};
  std::size_t m_header_len = 0; // bytes of the current header received so far
  std::uint32_t m_remaining = 0; // payload bytes of the current frame still to come
  int m_stream = 0;
  std::size_t m_frames = 0;
  std::uint64_t m_offset = 0; // bytes consumed, for error messages
  std::string m_out, m_err, m_system_error;
};

// An Engine API call answered with an error status.
class EngineError : public Error {
public:
  EngineError(const std::string& message, long status) : Error(message), m_status(status) {}
  long status() const { return m_status; }

private:
  long m_status;
};

// "<call>: HTTP <status> (<reason>): <engine's message>" from an error response body
// ({"message": ...}, or any text); `call` is e.g. "POST /v1.41/containers/abc/pause".
std::string engine_error_message(std::string_view call, long status, std::string_view body);

// The socket path from --docker-host or DOCKER_HOST ("unix:///path" or "/path");
// throws UsageError for other schemes (tcp:// is endpoint_from_docker_host's, ssh:// is not supported).
std::string socket_path_from_docker_host(std::string_view docker_host);

// Where the engine listens: a Unix socket, or tcp://HOST:PORT with TLS (https, the server
// verified against ca.pem and a client certificate) or, only when asked for, without (http).
struct DockerEndpoint {
  enum class Kind { unix_socket, https, http };
  Kind kind = Kind::unix_socket;
  std::string socket_path;       // unix_socket
  std::string host_port;         // https, http: "127.0.0.1:2376"
  std::string ca, cert, key;     // https: files under DOCKER_CERT_PATH
  // A forwarded one (a --host's engine): socket_path is the local end, these the remote's.
  std::string remote_socket_path; // the engine's socket on the remote host
  std::string via;                // "ssh://user@host:port"
  static DockerEndpoint unix_socket_at(std::string path);
  // `local_socket` here leads to the engine's `remote_socket` on the host at `via` (ssh -L).
  static DockerEndpoint forwarded(std::string local_socket, std::string remote_socket, std::string via);
  bool tcp() const { return kind != Kind::unix_socket; }
  bool remote() const { return !via.empty(); }
  // "unix:///run/docker.sock", "tcp://127.0.0.1:2376 (TLS)", "tcp://127.0.0.1:2375 (no TLS)",
  // "unix:///var/run/docker.sock on ssh://root@bench-2:22 (forwarded over SSH)"
  std::string describe() const;
};

// The engine's socket on a --host from --docker-host: empty is /var/run/docker.sock, else
// "unix:///path" or "/path" there; throws UsageError for "private" (no private engine is
// started on a remote host) and tcp:// (an address reached from here, not over the connection).
std::string remote_engine_socket(std::string_view docker_host, const std::string& host_url);

// What the docker CLI reads besides DOCKER_HOST.
struct DockerTlsEnv {
  std::string tls_verify; // DOCKER_TLS_VERIFY: non-empty = TLS, verifying the server
  std::string cert_path;  // DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem (empty: HOME/.docker)
  std::string home;       // HOME
  static DockerTlsEnv from_environment();
};

// The endpoint for --docker-host or DOCKER_HOST: "unix:///path" or "/path" as
// socket_path_from_docker_host, "tcp://HOST:PORT" with TLS when DOCKER_TLS_VERIFY is set (every
// certificate file must exist, else Error naming it), plain only with `insecure` (else
// UsageError naming DOCKER_TLS_VERIFY, DOCKER_CERT_PATH and --insecure).
DockerEndpoint endpoint_from_docker_host(std::string_view docker_host, const DockerTlsEnv& env, bool insecure);

struct EngineVersion {
  std::string version;         // "20.10.24+dfsg1"
  std::string api_version;     // the engine's newest, "1.41"
  std::string min_api_version; // the engine's oldest, "1.12"
  std::string kernel;
  std::string negotiated;      // what virtbench uses: min(engine newest, k_max_api_version)
};

// Parses GET /version and picks the API version to speak; throws Error when the engine is
// too old for virtbench (or too new to speak k_min_api_version).
EngineVersion parse_version(std::string_view body);

// GET /info: what describe() reports of the engine; a field the engine leaves out stays empty.
struct EngineInfo {
  std::string storage_driver; // Driver: "overlay2"
  std::string cgroup_driver;  // CgroupDriver: "cgroupfs", "systemd"
  std::string cgroup_version; // CgroupVersion: "1", "2"
};
EngineInfo parse_info(std::string_view body);

// The "Id" of an answer naming one object: GET /images/{name}/json, POST /containers/create,
// POST /containers/{id}/exec. Throws Error naming `call` (e.g. "POST /containers/create")
// when the answer has no string Id.
std::string parse_id(std::string_view body, std::string_view call);

// GET /containers/{id}/json: the State the driver reads (Pid 0 once it stopped).
struct ContainerState {
  long pid = 0;
  bool running = false;
  bool oom_killed = false;
  std::string status; // "running", "exited" ...
};
ContainerState parse_container_inspect(std::string_view body);

// POST /volumes/create.
struct CreatedVolume {
  std::string driver;     // "local"
  std::string mountpoint; // where its data lives on the host
};
CreatedVolume parse_volume_create(std::string_view body);

struct LabelledVolume {
  std::string name;
  long pid = 0; // the virtbench.pid label, 0 if absent
  std::string controller; // the virtbench.controller label, empty if absent
};
// GET /volumes?filters={"label":["virtbench.run"]} (Volumes may be null or empty); volumes
// without a name are left out.
std::vector<LabelledVolume> parse_labelled_volumes(std::string_view body);

struct ExecInspect {
  bool running = false;
  int exit_code = -1;
};
ExecInspect parse_exec_inspect(std::string_view body);

// cpu_stats.cpu_usage.usage_in_usermode / usage_in_kernelmode (ns) of a stats response, in
// seconds; nullopt when the engine does not report the split.
std::optional<CpuSeconds> parse_stats_cpu(std::string_view body);

struct LabelledContainer {
  std::string id;
  std::string name;
  std::string run_id; // the virtbench.run label
  long pid = 0;       // the virtbench.pid label, 0 if absent
  std::string controller; // the virtbench.controller label, empty if absent
  std::string state;  // "running", "paused", "exited" ...
};
// GET /containers/json?all=1&filters={"label":["virtbench.run"]}.
std::vector<LabelledContainer> parse_labelled_containers(std::string_view body);

// Image id from the progress lines of POST /images/create?fromSrc=-; throws Error with the
// engine's message when a line reports an error (the status is 200 once the stream started).
std::string parse_import_response(std::string_view body);

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view s);

} // namespace virtbench::docker
