#include "drivers/docker/docker.hpp"

#include "drivers/docker/dockerd.hpp"
#include "drivers/docker/engine_client.hpp"
#include "drivers/docker/protocol.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

#include <cstdio>

#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace virtbench::docker {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* k_scratch_in_container = "/scratch";
constexpr const char* k_default_socket = "/var/run/docker.sock";

// True when `pid` is a live virtbench process (its containers are not leftovers).
bool is_live_virtbench(long pid) {
  if (pid <= 0)
    return false;
  try {
    auto comm = read_file(fmt::format("/proc/{}/comm", pid));
    return comm.starts_with("virtbench");
  } catch (const std::exception&) {
    return false;
  }
}

// Cumulative CPU seconds of a cgroup from its files, found through a member's /proc/<pid>/cgroup.
std::optional<CpuSeconds> cgroup_cpu_of(long pid) {
  std::string cgroups;
  try {
    cgroups = read_file(fmt::format("/proc/{}/cgroup", pid));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::size_t pos = 0;
  while (pos < cgroups.size()) {
    auto nl = cgroups.find('\n', pos);
    std::string line = cgroups.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? cgroups.size() : nl + 1;
    auto c1 = line.find(':'), c2 = line.find(':', c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos)
      continue;
    auto controllers = line.substr(c1 + 1, c2 - c1 - 1);
    auto path = line.substr(c2 + 1);
    try {
      if (controllers.find("cpuacct") != std::string::npos) { // cgroup v1: USER_HZ ticks
        auto stat = read_file("/sys/fs/cgroup/cpuacct" + path + "/cpuacct.stat");
        double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
        CpuSeconds s;
        s.user_s = std::stod(stat.substr(stat.find("user ") + 5)) / hz;
        s.kernel_s = std::stod(stat.substr(stat.find("system ") + 7)) / hz;
        return s;
      }
      if (line.starts_with("0::")) { // cgroup v2: microseconds
        auto stat = read_file("/sys/fs/cgroup" + path + "/cpu.stat");
        CpuSeconds s;
        s.user_s = std::stod(stat.substr(stat.find("user_usec ") + 10)) / 1e6;
        s.kernel_s = std::stod(stat.substr(stat.find("system_usec ") + 12)) / 1e6;
        return s;
      }
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

class DockerPlatform final : public Platform {
public:
  explicit DockerPlatform(PlatformOptions options)
      : m_options(std::move(options)), m_vcpus(static_cast<int>(m_options.values.integer("vcpus"))),
        m_memory_bytes(static_cast<std::uint64_t>(m_options.values.integer("memory")) << 20),
        m_docker_host(m_options.values.text("docker-host")), m_docker_image(m_options.values.text("docker-image")),
        m_docker_storage(m_options.values.text("docker-storage")) {}
  ~DockerPlatform() override { cleanup(); }

  std::string name() const override { return "docker"; }

  awaitable<void> start() override {
    if (m_docker_storage != "bind" && m_docker_storage != "volume")
      throw UsageError("--docker-storage \"" + m_docker_storage +
                       "\": use bind (a host directory bind-mounted at /scratch) or volume (a named volume)");
    m_container_name = "virtbench-" + m_options.run_id;
    co_await connect();
    co_await remove_leftovers();
    co_await ensure_image();
    co_await create_container();
    m_started = true;
    co_await verify_sysbench();
  }

  awaitable<void> stop() override {
    cleanup();
    co_return;
  }

  awaitable<void> freeze() override {
    if (m_paused || m_container_id.empty())
      co_return;
    auto path = "/containers/" + m_container_id + "/pause";
    co_await api("POST", path);
    m_paused = true;
  }

  awaitable<void> thaw() override {
    if (!m_paused)
      co_return;
    auto path = "/containers/" + m_container_id + "/unpause";
    co_await api("POST", path);
    m_paused = false;
  }

  awaitable<ExecResult> exec(ExecRequest request) override {
    auto r = co_await run_exec(std::move(request), true);
    co_return r;
  }

  awaitable<std::string> read_file(std::string path) override {
    ExecRequest request;
    request.argv = {"cat", path};
    request.timeout = 30s;
    auto r = co_await run_exec(std::move(request), true);
    if (r.exit_code != 0)
      throw Error(fmt::format("read {} in container {}: cat exited with {}: {}", path, m_container_name, r.exit_code,
                              tail_lines(r.err, 3)));
    co_return r.out;
  }

  // The container shares the host's kernel and page cache, and may not write
  // /proc/sys/vm/drop_caches: the drop happens on the host.
  awaitable<std::vector<CacheDrop>> drop_caches() override { co_return std::vector<CacheDrop>{m_options.host->drop_caches()}; }

  // The container's cgroup files first: the engine's stats are the same numbers (cgroup
  // v1 cpuacct.stat, v2 cpu.stat), but after a container's first stats call the engine
  // answers each one on its collector's next 1 s tick, even with one-shot=true (measured
  // with dockerd 20.10, running and paused alike), and the runner asks before and after
  // every step.
  // Over tcp:// or on a --host the container's pid is the engine host's, not this one's:
  // engine stats only.
  awaitable<std::optional<CpuSeconds>> host_accounting() override {
    if (m_container_pid > 0 && !m_client->endpoint().tcp() && !m_client->endpoint().remote()) {
      if (auto cpu = cgroup_cpu_of(m_container_pid)) {
        m_accounting_source = "cgroup files of the container (cpuacct.stat on cgroup v1, cpu.stat on v2)";
        co_return cpu;
      }
    }
    auto path = "/containers/" + m_container_id + "/stats?stream=false&one-shot=true";
    auto body = co_await api("GET", path);
    if (auto cpu = parse_stats_cpu(body)) {
      m_accounting_source = "engine stats (cpu_stats.cpu_usage.usage_in_usermode/usage_in_kernelmode)";
      co_return cpu;
    }
    co_return std::nullopt;
  }

  bool has_guest_view() const override { return false; }

  // bind: a directory under DATA_DIR/scratch; volume: the engine's data root, known here
  // only for a private engine (DATA_DIR/docker).
  // On a --host: bind is the run's directory there; a volume is in the engine's data root.
  std::optional<HostStorage> fileio_host_storage() const override {
    if (m_docker_storage == "bind")
      return remote() ? HostStorage{m_options.host->remote_scratch_dir()} : HostStorage{m_options.data_dir / "scratch"};
    if (m_docker_host == "private" && !remote())
      return HostStorage{m_options.data_dir / "docker"};
    return std::nullopt;
  }

  std::string scratch_dir() const override { return k_scratch_in_container; }

  boost::json::object describe() const override {
    json::object d{{"name", "docker"},
                   {"engine_version", m_version.version},
                   {"api_version", m_version.negotiated},
                   {"engine_api_version", m_version.api_version},
                   {"engine_kernel", m_version.kernel},
                   {"docker_host", m_client ? m_client->endpoint().describe() : std::string()},
                   {"engine_host", remote() ? m_options.host->location() : std::string("this host")},
                   {"engine_private", m_private != nullptr},
                   {"storage_driver", m_info.storage_driver},
                   {"cgroup_version", m_info.cgroup_version},
                   {"cgroup_driver", m_info.cgroup_driver},
                   {"image_tag", m_image_tag},
                   {"image_id", m_image_id},
                   {"container_id", m_container_id},
                   {"container_name", m_container_name},
                   {"network_mode", "none"},
                   {"vcpus", m_vcpus},
                   {"nano_cpus", static_cast<std::int64_t>(m_vcpus) * 1000000000LL},
                   {"memory_bytes", m_memory_bytes},
                   {"sysbench_version", m_sysbench_version},
                   {"sysbench_sha256", m_sysbench_sha256},
                   {"sysbench_sha256_manifest", m_manifest_sha256},
                   {"fileio_storage", m_fileio_storage},
                   {"docker_storage", m_docker_storage}};
    if (m_client && m_client->endpoint().tcp())
      d["host_side_caveat"] = "the engine is reached over tcp://: the container's CPU time comes from the engine's "
                              "stats, but /proc/stat sampling (the host-side split) and cache drops are of the host "
                              "virtbench runs on, which is the engine's host only when the address is local";
    if (m_import_s > 0)
      d["image_import_s"] = std::round(m_import_s * 100) / 100;
    d["host_accounting"] = m_accounting_source.empty() ? "engine stats (cpu_stats.cpu_usage)" : m_accounting_source;
    return d;
  }

private:
  // The engine is on the run's --host, reached through a forwarded socket.
  bool remote() const { return m_options.host && !m_options.host->location().empty(); }

  void log(const std::string& line) const {
    if (m_options.log)
      m_options.log(line);
  }

  // What to say when the engine stopped answering during the run.
  std::string engine_lost(const std::string& cause) {
    std::string where = "the docker engine at " + m_client->endpoint().describe();
    if (m_private) {
      bool alive = m_private->running();
      return fmt::format("{} (virtbench's private dockerd) stopped answering: {}; {} (its log: {})", where, cause,
                         alive ? "it is still running" : "it exited",
                         (m_options.raw_dir / "dockerd.log").string());
    }
    if (remote())
      return fmt::format("{} stopped answering: {}; is dockerd still running there, and the SSH connection up? "
                         "Container {} (label {}={}) is removed at the next virtbench run on this engine",
                         where, cause, m_container_name, k_run_label, m_options.run_id);
    return fmt::format("{} stopped answering: {}; is dockerd still running? Container {} (label {}={}) is removed at "
                       "the next virtbench run on this engine",
                       where, cause, m_container_name, k_run_label, m_options.run_id);
  }

  // One Engine API call under the negotiated prefix. After start, a connection that fails
  // means the platform is gone (PlatformLost), and so does our container vanishing.
  awaitable<std::string> api(std::string_view method, std::string_view path, std::string_view body = {},
                             std::chrono::milliseconds timeout = 30s) {
    std::string lost;
    try {
      co_return co_await m_client->call(method, path, body, timeout);
    } catch (const TransportError& e) {
      if (!m_started || e.kind() == TransportError::Kind::aborted)
        throw;
      lost = engine_lost(e.what());
    } catch (const EngineError& e) {
      bool ours = !m_container_id.empty() && path.find(m_container_id) != std::string_view::npos;
      std::string what = e.what();
      if (!(m_started && ours &&
            (e.status() == 404 || what.find("is not running") != std::string::npos ||
             what.find("is restarting") != std::string::npos)))
        throw;
      lost = fmt::format("the container {} is gone: {}", m_container_name, what);
    }
    throw PlatformLost(lost);
  }

  // GET /_ping through m_client: "" when the engine answered 200, else why not.
  awaitable<std::string> ping_engine(std::chrono::milliseconds timeout) {
    HttpRequest ping;
    ping.path = "/_ping";
    ping.timeout = timeout;
    try {
      auto r = co_await m_client->send(std::move(ping));
      if (r.status != 200)
        co_return engine_error_message("GET /_ping", r.status, r.body);
    } catch (const TransportError& e) {
      co_return std::string(e.what());
    }
    co_return std::string();
  }

  // A --host's engine: its Unix socket there forwarded to one in this platform's runtime
  // directory through the run's SSH connection (ssh -O forward); the client talks to that
  // socket exactly as to a local engine. Never a private engine there.
  awaitable<void> connect_forwarded() {
    auto url = m_options.host->location();
    auto remote_socket = remote_engine_socket(m_docker_host, url);
    if (const char* env = std::getenv("DOCKER_HOST"); env && *env && m_docker_host.empty())
      log(fmt::format("docker: DOCKER_HOST ({}) is not used with --host: the engine is {} on {}", env, remote_socket,
                      url));
    auto local = (m_options.runtime_dir / "docker-engine.sock").string();
    co_await m_options.host->forward_socket(local, remote_socket);
    m_forward = {local, remote_socket};
    auto endpoint = DockerEndpoint::forwarded(local, remote_socket, url);
    m_client = std::make_unique<EngineClient>(endpoint);
    if (auto why = co_await ping_engine(10s); !why.empty())
      throw Error(fmt::format("connect to the docker engine at {}: {}; is dockerd running there (`service docker "
                              "start`), and may the SSH user open {} (root, or the docker group)?",
                              endpoint.describe(), why, remote_socket));
  }

  awaitable<void> connect() {
    if (remote())
      co_await connect_forwarded();
    else
      co_await connect_here();
    auto version_body = co_await m_client->call("GET", "/version");
    m_version = parse_version(version_body);
    m_client->set_api_version(m_version.negotiated);
    auto info_body = co_await m_client->call("GET", "/info");
    m_info = parse_info(info_body);
    log(fmt::format("docker: engine {} (API {}) at {}, storage {}, cgroup v{} ({})", m_version.version,
                    m_version.negotiated, m_client->endpoint().describe(), m_info.storage_driver, m_info.cgroup_version,
                    m_info.cgroup_driver));
  }

  // This host's engine: --docker-host, DOCKER_HOST, the default socket, or a private one.
  awaitable<void> connect_here() {
    std::string host = m_docker_host, source = "--docker-host";
    if (host.empty()) {
      if (const char* env = std::getenv("DOCKER_HOST"); env && *env) {
        host = env;
        source = "DOCKER_HOST";
      }
    }
    bool explicit_host = !host.empty() && host != "private";
    if (host != "private") {
      auto endpoint = explicit_host
                          ? endpoint_from_docker_host(host, DockerTlsEnv::from_environment(),
                                                      m_options.values.text("insecure") == "yes")
                          : DockerEndpoint::unix_socket_at(k_default_socket);
      std::string socket = endpoint.describe();
      // (--docker-storage bind with tcp:// is refused by check_options, driver.cpp.)
      if (endpoint.kind == DockerEndpoint::Kind::http)
        std::fprintf(stderr, "virtbench: warning: the docker engine at %s is reached without TLS (--insecure yes): "
                             "anyone on the network can read and drive it\n",
                     socket.c_str());
      if (endpoint.tcp())
        std::fprintf(stderr, "virtbench: warning: the docker engine at %s: the host-side CPU split and cache drops "
                             "are measured on this host, right only if the engine runs here\n",
                     socket.c_str());
      m_client = std::make_unique<EngineClient>(endpoint);
      if (auto why = co_await ping_engine(5s); !why.empty()) {
        m_client.reset();
        if (explicit_host)
        {
          if (endpoint.tcp())
            throw Error(fmt::format("connect to the docker engine at {} ({} {}): {}", socket, source, host, why));
          throw Error(fmt::format("connect to the docker engine at {} ({} {}): {}; start it (as root: "
                                  "`dockerd -H {} &`), or leave {} unset to let virtbench start a private "
                                  "engine (as root)",
                                  socket, source, host, why, socket, source));
        }
        if (::geteuid() != 0)
          throw Error(fmt::format("connect to the docker engine at {}: {}; start one (as root: `dockerd &` or "
                                  "`service docker start`), point --docker-host or DOCKER_HOST at a running one, or "
                                  "run virtbench as root so that it starts a private engine of its own",
                                  socket, why));
        if (find_dockerd().empty())
          throw Error(fmt::format("connect to the docker engine at {}: {}; and dockerd is not installed to "
                                  "start a private one: apt-get install docker.io (tools/setup does)",
                                  socket, why));
        log(fmt::format("docker: no engine at {} ({})", socket, why));
      }
    }
    if (!m_client) {
      PrivateEngineOptions po;
      po.runtime_dir = m_options.runtime_dir;
      po.data_dir = m_options.data_dir;
      po.log_file = m_options.raw_dir / "dockerd.log";
      po.run_id = m_options.run_id;
      po.log = m_options.log;
      m_private = std::make_unique<PrivateEngine>(std::move(po));
      co_await m_private->start();
      m_client = std::make_unique<EngineClient>(DockerEndpoint::unix_socket_at(m_private->socket_path()));
    }
  }

  // Containers and volumes labelled by an earlier virtbench run that did not clean up
  // (crashed, killed, or its engine went away) are removed; a live run's are left alone,
  // this process's too (another variant of a matrix run, on the same engine).
  awaitable<void> remove_leftovers() {
    auto filters = url_encode(fmt::format(R"({{"label":["{}"]}})", k_run_label));
    auto list_path = "/containers/json?all=1&filters=" + filters;
    auto body = co_await m_client->call("GET", list_path);
    auto me = controller_id();
    for (auto& c : parse_labelled_containers(body)) {
      if (!c.controller.empty() && c.controller != me) {
        log(fmt::format("docker: leaving container {} alone: virtbench run {} on another machine ({}) made it; its "
                        "next run there removes it if it is a leftover",
                        c.name, c.run_id, c.controller));
        continue;
      }
      if (c.pid == ::getpid() && c.run_id != m_options.run_id)
        continue;
      if (c.pid != ::getpid() && is_live_virtbench(c.pid)) {
        log(fmt::format("docker: leaving container {} alone: it belongs to virtbench run {} (pid {}), still running",
                        c.name, c.run_id, c.pid));
        continue;
      }
      auto del = "/containers/" + c.id + "?force=1&v=1";
      co_await m_client->call("DELETE", del);
      log(fmt::format("docker: removed container {} ({}, {}) left behind by an earlier virtbench run {} that did not "
                      "clean up",
                      c.name, c.id.substr(0, 12), c.state, c.run_id));
    }
    auto volumes_path = "/volumes?filters=" + filters;
    auto vbody = co_await m_client->call("GET", volumes_path);
    for (auto& vol : parse_labelled_volumes(vbody)) {
      if (!vol.controller.empty() && vol.controller != me)
        continue;
      if ((vol.pid == ::getpid() && vol.name != m_container_name) || (vol.pid != ::getpid() && is_live_virtbench(vol.pid)))
        continue;
      auto del = "/volumes/" + vol.name + "?force=1";
      co_await m_client->call("DELETE", del);
      log(fmt::format("docker: removed volume {} left behind by an earlier virtbench run", vol.name));
    }
  }

  awaitable<void> ensure_image() {
    bool ours = m_docker_image.empty();
    std::optional<GuestImage> guest;
    try {
      guest = m_options.host->guest_image(m_options.data_dir);
    } catch (const Error&) {
      if (ours)
        throw;
    }
    if (guest)
      m_manifest_sha256 = guest->sysbench_sha256;
    m_image_tag = ours ? "virtbench/guest:" + guest->recipe_hash.substr(0, 12) : m_docker_image;
    auto inspect_path = "/images/" + m_image_tag + "/json";
    try {
      auto body = co_await m_client->call("GET", inspect_path);
      m_image_id = parse_id(body, "GET /images/" + m_image_tag + "/json");
      co_return;
    } catch (const EngineError& e) {
      if (e.status() != 404)
        throw;
      if (!ours)
        throw Error(fmt::format("docker image {} (--docker-image) is not in the engine at {}: {}; omit "
                                "--docker-image to use virtbench's guest image",
                                m_image_tag, m_client->endpoint().describe(), e.what()));
    }
    co_await import_image(guest->rootfs_tar);
    auto body = co_await m_client->call("GET", inspect_path);
    m_image_id = parse_id(body, "GET /images/" + m_image_tag + "/json");
  }

  awaitable<void> import_image(fs::path rootfs_tar) {
    auto colon = m_image_tag.rfind(':');
    auto repo = m_image_tag.substr(0, colon), tag = m_image_tag.substr(colon + 1);
    std::error_code ec;
    auto size = fs::file_size(rootfs_tar, ec);
    log(fmt::format("docker: importing {} ({:.0f} MiB) as {} ...", rootfs_tar.string(), size / 1048576.0, m_image_tag));
    auto executor = co_await asio::this_coro::executor;
    auto last_decile = std::make_shared<std::atomic<int>>(0);
    auto logger = m_options.log;
    HttpRequest request;
    request.method = "POST";
    request.path = m_client->versioned("/images/create?fromSrc=-&repo=" + url_encode(repo) + "&tag=" + url_encode(tag));
    request.upload_file = rootfs_tar;
    request.content_type = "application/x-tar";
    request.timeout = 20min;
    request.on_upload = [executor, last_decile, logger](std::uint64_t sent, std::uint64_t total) {
      int decile = static_cast<int>(sent * 10 / total);
      if (decile > last_decile->exchange(std::max(decile, last_decile->load())) && decile < 10 && logger)
        asio::post(executor, [logger, decile] { logger(fmt::format("docker: import {}0% uploaded", decile)); });
    };
    auto started = std::chrono::steady_clock::now();
    auto call = request.method + " " + request.path;
    auto response = co_await m_client->send(std::move(request));
    if (response.status < 200 || response.status >= 300)
      throw EngineError(engine_error_message(call, response.status, response.body), response.status);
    auto id = parse_import_response(response.body);
    m_import_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    log(fmt::format("docker: imported {} as {} in {:.1f} s", id.substr(0, 19), m_image_tag, m_import_s));
  }

  awaitable<void> create_container() {
    json::object host_config{{"NetworkMode", "none"},
                             {"NanoCpus", static_cast<std::int64_t>(m_vcpus) * 1000000000LL},
                             {"Memory", m_memory_bytes},
                             {"MemorySwap", m_memory_bytes}}; // no swap beyond the limit, like the VM
    json::object labels{{k_run_label, m_options.run_id},
                        {k_pid_label, std::to_string(::getpid())},
                        {k_controller_label, controller_id()}};
    if (m_docker_storage == "bind" && remote()) {
      // In the run's directory there, which the remote host removes at the end of the run.
      auto dir = m_options.host->remote_scratch_dir() + "/" + m_container_name;
      auto type = co_await remote_directory(dir);
      host_config["Binds"] = json::array{json::string(dir + ":" + k_scratch_in_container)};
      m_fileio_storage = fmt::format("bind-mounted directory {} ({}) on {} at {}", dir, type,
                                     m_options.host->location(), k_scratch_in_container);
    } else if (m_docker_storage == "bind") {
      m_scratch.emplace(m_options.data_dir / "scratch", "docker-");
      m_scratch->record_owner(); // a later run sweeps it if this one is killed (cli.cpp)
      host_config["Binds"] = json::array{json::string(m_scratch->path().string() + ":" + k_scratch_in_container)};
      m_fileio_storage = fmt::format("bind-mounted host directory {} ({}) at {}", m_scratch->path().string(),
                                     filesystem_type(m_scratch->path()), k_scratch_in_container);
    } else {
      json::object volume{{"Name", m_container_name}, {"Labels", labels}};
      auto create_path = std::string("/volumes/create");
      auto volume_body = json::serialize(volume);
      auto created = co_await m_client->call("POST", create_path, volume_body);
      m_volume = m_container_name;
      auto volume_created = parse_volume_create(created);
      host_config["Mounts"] = json::array{
          json::object{{"Type", "volume"}, {"Source", m_volume}, {"Target", k_scratch_in_container}}};
      auto parent = fs::path(volume_created.mountpoint).parent_path().string();
      std::string type;
      if (remote())
        type = co_await remote_filesystem_type(parent);
      else
        type = filesystem_type(parent);
      m_fileio_storage = fmt::format("volume {} ({} driver, {} on {}, {}) at {}", m_volume, volume_created.driver,
                                     volume_created.mountpoint,
                                     remote() ? m_options.host->location() : std::string("the host"), type,
                                     k_scratch_in_container);
    }
    json::object config{{"Image", m_image_tag},
                        {"Cmd", json::array{"sleep", "infinity"}},
                        {"Labels", labels},
                        {"StopSignal", "SIGKILL"}, // nothing to shut down gracefully: stop and removal are instant
                        {"NetworkDisabled", true},
                        {"WorkingDir", k_scratch_in_container},
                        {"HostConfig", host_config}};
    auto create_path = "/containers/create?name=" + url_encode(m_container_name);
    auto body = json::serialize(config);
    auto created = co_await m_client->call("POST", create_path, body);
    m_container_id = parse_id(created, "POST /containers/create");
    auto start_path = "/containers/" + m_container_id + "/start";
    co_await m_client->call("POST", start_path);
    auto inspect_path = "/containers/" + m_container_id + "/json";
    auto inspected = co_await m_client->call("GET", inspect_path);
    m_container_pid = parse_container_inspect(inspected).pid;
    log(fmt::format("docker: container {} ({}) running {} with {} CPU(s), {} MiB, no network; fileio in {}",
                    m_container_name, m_container_id.substr(0, 12), m_image_tag, m_vcpus,
                    m_memory_bytes >> 20, m_fileio_storage));
  }

  // Makes `dir` on the --host (mkdir -p) and returns its filesystem's type there.
  awaitable<std::string> remote_directory(std::string dir) {
    ExecRequest mkdir;
    mkdir.argv = {"mkdir", "-p", "--", dir};
    mkdir.timeout = 30s;
    auto r = co_await m_options.host->exec(std::move(mkdir));
    if (r.exit_code != 0)
      throw Error(fmt::format("make the bind-mount directory {} on {}: mkdir exited with {}: {}", dir,
                              m_options.host->location(), r.exit_code, tail_lines(r.err, 3)));
    co_return co_await remote_filesystem_type(std::move(dir));
  }

  // The type of the filesystem holding `path` on the --host (`stat -f`); "unknown" when it cannot say.
  awaitable<std::string> remote_filesystem_type(std::string path) {
    ExecRequest stat;
    stat.argv = {"stat", "-f", "-c", "%T", "--", path};
    stat.timeout = 30s;
    auto r = co_await m_options.host->exec(std::move(stat));
    auto type = r.out.substr(0, r.out.find('\n'));
    co_return r.exit_code == 0 && !type.empty() ? type : std::string("unknown");
  }

  awaitable<void> verify_sysbench() {
    ExecRequest sum;
    sum.argv = {"sha256sum", "/usr/bin/sysbench"};
    sum.timeout = 60s;
    auto r = co_await run_exec(std::move(sum), true);
    if (r.exit_code != 0)
      throw Error(fmt::format("sha256sum /usr/bin/sysbench in container {}: exit code {}: {}", m_container_name,
                              r.exit_code, tail_lines(r.err + r.out, 5)));
    m_sysbench_sha256 = r.out.substr(0, r.out.find(' '));
    if (!m_manifest_sha256.empty() && m_manifest_sha256 != m_sysbench_sha256) {
      auto message = fmt::format("the container's /usr/bin/sysbench (sha256 {}) is not the guest image's (manifest: {})",
                                 m_sysbench_sha256, m_manifest_sha256);
      if (m_docker_image.empty())
        throw Error(message + "; rebuild the image (`virtbench image build --force`) and remove the stale tag " +
                    m_image_tag + " from the engine");
      log("docker: warning: " + message + " (--docker-image " + m_image_tag + ")");
    }
    ExecRequest version;
    version.argv = {"sysbench", "--version"};
    version.timeout = 60s;
    auto v = co_await run_exec(std::move(version), true);
    m_sysbench_version = v.out.substr(0, v.out.find('\n'));
  }

  awaitable<ExecResult> run_exec(ExecRequest request, bool kill_on_timeout) {
    auto executor = co_await asio::this_coro::executor;
    auto started = std::chrono::steady_clock::now();
    json::array cmd;
    for (auto& a : request.argv)
      cmd.push_back(json::string(a));
    json::object spec{{"AttachStdout", true}, {"AttachStderr", true}, {"AttachStdin", false}, {"Tty", false},
                      {"Cmd", std::move(cmd)}};
    if (!request.cwd.empty())
      spec["WorkingDir"] = request.cwd;
    auto create_path = "/containers/" + m_container_id + "/exec";
    auto create_body = json::serialize(spec);
    auto created = co_await api("POST", create_path, create_body);
    auto exec_id = parse_id(created, "POST " + create_path);

    auto decoder = std::make_shared<StreamDecoder>();
    HttpRequest attach;
    attach.method = "POST";
    attach.path = m_client->versioned("/exec/" + exec_id + "/start");
    attach.body = R"({"Detach":false,"Tty":false})";
    // A backstop only: the deadline below kills the command first.
    attach.timeout = request.timeout + std::chrono::minutes(2);
    attach.on_data = [decoder](std::string_view bytes) { decoder->feed(bytes); };
    auto transfer = m_client->start(std::move(attach), executor);
    AbortUnlessDone guard{*transfer};

    ExecResult result;
    asio::steady_timer deadline(executor, request.timeout);
    auto first = co_await (EngineClient::wait(transfer) || deadline.async_wait(use_awaitable));
    if (first.index() == 1) {
      result.timed_out = true;
      if (kill_on_timeout) {
        // Everything but the container's init (sleep): the timed-out command and its children.
        ExecRequest kill;
        kill.argv = {"kill", "-KILL", "-1"};
        kill.timeout = 20s;
        try {
          co_await run_exec(std::move(kill), false);
        } catch (const PlatformLost&) {
          throw;
        } catch (const std::exception& e) {
          log(fmt::format("docker: could not kill {} after its timeout: {}", format_argv(request.argv), e.what()));
        }
      }
      asio::steady_timer grace(executor, 20s);
      auto second = co_await (EngineClient::wait(transfer) || grace.async_wait(use_awaitable));
      if (second.index() == 1) {
        transfer->abort = true;
        co_await EngineClient::wait(transfer);
      }
    }
    if (transfer->error && !result.timed_out) {
      try {
        std::rethrow_exception(transfer->error);
      } catch (const TransportError& e) {
        if (e.kind() == TransportError::Kind::aborted)
          throw;
        throw PlatformLost(engine_lost(e.what()));
      }
    }
    if (!transfer->error && (transfer->response.status < 200 || transfer->response.status >= 300)) {
      auto call = "POST " + m_client->versioned("/exec/" + exec_id + "/start");
      throw EngineError(engine_error_message(call, transfer->response.status, transfer->response.body),
                        transfer->response.status);
    }
    if (!result.timed_out)
      decoder->finish();

    auto inspect_path = "/exec/" + exec_id + "/json";
    ExecInspect inspect;
    for (int i = 0; i < 100; ++i) { // the stream can end a moment before the exit code is recorded
      inspect = parse_exec_inspect(co_await api("GET", inspect_path));
      if (!inspect.running)
        break;
      co_await sleep_for(20ms);
    }
    result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    result.exit_code = result.timed_out || inspect.running ? -1 : inspect.exit_code;
    result.out = decoder->out();
    result.err = decoder->err();
    if (!decoder->system_error().empty())
      result.err += decoder->system_error();
    // Killed (137) can mean the container itself went down with the command.
    if (result.exit_code == 137 && !result.timed_out) {
      auto container_path = "/containers/" + m_container_id + "/json";
      auto state = parse_container_inspect(co_await api("GET", container_path));
      if (!state.running)
        throw PlatformLost(fmt::format("the container {} stopped while running {} (state {}, OOM killed: {})",
                                       m_container_name, format_argv(request.argv), state.status, state.oom_killed));
    }
    co_return result;
  }

  // Removes the container, the volume and the scratch directory, and stops a private
  // engine. Blocking (it runs after measuring, and from the destructor); never throws.
  void cleanup() noexcept {
    if (m_client)
      m_client->abort_all();
    if (m_client && !m_container_id.empty()) {
      try {
        auto del = "/containers/" + m_container_id + "?force=1&v=1";
        m_client->call_blocking("DELETE", del, {}, 30s);
      } catch (const EngineError& e) {
        if (e.status() != 404)
          log(fmt::format("docker: could not remove container {}: {}", m_container_name, e.what()));
      } catch (const std::exception& e) {
        log(fmt::format("docker: could not remove container {} ({}): {}; the next virtbench run on this engine "
                        "removes it (label {}={})",
                        m_container_name, m_container_id.substr(0, 12), e.what(), k_run_label, m_options.run_id));
      }
      m_container_id.clear();
    }
    if (m_client && !m_volume.empty()) {
      try {
        auto del = "/volumes/" + m_volume + "?force=1";
        m_client->call_blocking("DELETE", del, {}, 30s);
      } catch (const std::exception& e) {
        log(fmt::format("docker: could not remove volume {}: {}", m_volume, e.what()));
      }
      m_volume.clear();
    }
    m_scratch.reset();
    if (!m_forward.first.empty()) {
      m_client->abort_all();
      m_options.host->cancel_forward(m_forward.first, m_forward.second);
      m_forward = {};
    }
    if (m_private)
      m_private->stop();
  }

  PlatformOptions m_options;
  // Its options' values (the registry entry declares them, drivers/docker/driver.cpp).
  int m_vcpus;
  std::uint64_t m_memory_bytes;
  std::string m_docker_host, m_docker_image, m_docker_storage;
  std::unique_ptr<PrivateEngine> m_private; // when virtbench started the engine itself
  std::unique_ptr<EngineClient> m_client;
  std::pair<std::string, std::string> m_forward; // a --host's engine socket while forwarded: here, there
  bool m_started = false; // after start, a connection failure means PlatformLost
  bool m_paused = false;
  EngineVersion m_version;
  EngineInfo m_info;
  std::string m_image_tag, m_image_id;
  std::string m_container_name, m_container_id, m_volume;
  long m_container_pid = 0;
  std::optional<TempDir> m_scratch; // the bind-mounted host directory
  std::string m_fileio_storage;
  std::string m_sysbench_sha256, m_manifest_sha256, m_sysbench_version;
  std::string m_accounting_source;
  double m_import_s = 0;
};

} // namespace

std::unique_ptr<Platform> make_platform(const PlatformOptions& options) {
  return std::make_unique<DockerPlatform>(options);
}

} // namespace virtbench::docker
