#include "drivers/docker/protocol.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <utility>

namespace virtbench::docker {

namespace json = boost::json;

void StreamDecoder::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (m_remaining == 0 && m_header_len < m_header.size()) {
      auto n = std::min(bytes.size(), m_header.size() - m_header_len);
      std::copy_n(bytes.data(), n, m_header.data() + m_header_len);
      m_header_len += n;
      m_offset += n;
      bytes.remove_prefix(n);
      if (m_header_len < m_header.size())
        return;
      if (m_header[0] > 3 || m_header[1] != 0 || m_header[2] != 0 || m_header[3] != 0)
        throw Error(fmt::format("decode the engine's output stream: byte {} does not start a frame header "
                                "(stream {}, padding {:02x}{:02x}{:02x}); was the exec created with a TTY?",
                                m_offset - m_header.size(), m_header[0], m_header[1], m_header[2], m_header[3]));
      m_stream = m_header[0];
      m_remaining = (std::uint32_t(m_header[4]) << 24) | (std::uint32_t(m_header[5]) << 16) |
                    (std::uint32_t(m_header[6]) << 8) | std::uint32_t(m_header[7]);
      ++m_frames;
      if (m_remaining == 0) { // a zero-length frame: nothing follows its header
        m_header_len = 0;
        continue;
      }
    }
    auto n = std::min<std::size_t>(bytes.size(), m_remaining);
    auto& sink = m_stream == 2 ? m_err : m_stream == 3 ? m_system_error : m_out;
    if (sink.size() + n > m_max_output)
      throw Error(fmt::format("decode the engine's output stream: the command printed more than {} MiB on {}; "
                              "stopped reading it (a limit against runaway output)",
                              m_max_output >> 20, m_stream == 2 ? "stderr" : m_stream == 3 ? "its error stream" : "stdout"));
    sink.append(bytes.data(), n);
    m_remaining -= static_cast<std::uint32_t>(n);
    m_offset += n;
    bytes.remove_prefix(n);
    if (m_remaining == 0)
      m_header_len = 0;
  }
}

void StreamDecoder::finish() const {
  if (m_remaining != 0)
    throw Error(fmt::format("decode the engine's output stream: it ended {} byte(s) short of the end of a frame",
                            m_remaining));
  if (m_header_len != 0 && m_header_len < m_header.size())
    throw Error(fmt::format("decode the engine's output stream: it ended inside a frame header ({} of 8 bytes)",
                            m_header_len));
}

namespace {

std::string reason_phrase(long status) {
  switch (status) {
  case 304: return "not modified";
  case 400: return "bad parameter";
  case 403: return "forbidden";
  case 404: return "not found";
  case 409: return "conflict";
  case 500: return "engine error";
  case 503: return "engine unavailable";
  default: return "error";
  }
}

const json::value* find_path(const json::value& v, std::initializer_list<const char*> keys) {
  const json::value* p = &v;
  for (auto* k : keys) {
    if (!p->is_object())
      return nullptr;
    p = p->as_object().if_contains(k);
    if (!p)
      return nullptr;
  }
  return p;
}

std::string string_at(const json::value& v, std::initializer_list<const char*> keys) {
  auto* p = find_path(v, keys);
  return p && p->is_string() ? std::string(p->as_string()) : std::string();
}

json::value parse_json(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec)
    throw Error(fmt::format("read the engine's answer to {}: not JSON ({}): {}", what, ec.message(),
                            body.substr(0, 200)));
  return v;
}

[[noreturn]] void malformed(std::string_view call, std::string_view what, std::string_view body) {
  throw Error(fmt::format("read the engine's answer to {}: {}: {}", call, what, body.substr(0, 200)));
}

// The answer to `call` as a JSON object; throws Error when it is not JSON or not an object.
json::object parse_object(std::string_view body, std::string_view call) {
  auto v = parse_json(body, call);
  if (!v.is_object())
    malformed(call, "not a JSON object", body);
  return std::move(v.as_object());
}

// A string, or a number as the engine might spell it ("CgroupVersion": "1" or 1); empty otherwise.
std::string text_at(const json::value& v, std::initializer_list<const char*> keys) {
  auto* p = find_path(v, keys);
  if (!p)
    return {};
  if (p->is_string())
    return std::string(p->as_string());
  return p->is_number() ? json::serialize(*p) : std::string();
}

long label_pid(const json::value& v, std::initializer_list<const char*> keys) {
  auto pid = string_at(v, keys);
  return pid.empty() ? 0 : std::strtol(pid.c_str(), nullptr, 10);
}

struct Version {
  int major = 0, minor = 0;
  auto operator<=>(const Version&) const = default;
};

Version parse_api(std::string_view s) {
  Version v;
  auto dot = s.find('.');
  try {
    v.major = std::stoi(std::string(s.substr(0, dot)));
    v.minor = dot == std::string_view::npos ? 0 : std::stoi(std::string(s.substr(dot + 1)));
  } catch (const std::exception&) {
    throw Error(fmt::format("read the engine's API version: \"{}\" is not a version", s));
  }
  return v;
}

} // namespace

std::string engine_error_message(std::string_view call, long status, std::string_view body) {
  std::string message;
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (!ec)
    message = string_at(v, {"message"});
  if (message.empty()) {
    std::string_view text = body.substr(0, 300);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
      text.remove_suffix(1);
    message = text.empty() ? std::string("(no message)") : std::string(text);
  }
  return fmt::format("{}: HTTP {} ({}): {}", call, status, reason_phrase(status), message);
}

std::string socket_path_from_docker_host(std::string_view host) {
  constexpr std::string_view unix_scheme = "unix://";
  if (host.starts_with(unix_scheme))
    host.remove_prefix(unix_scheme.size());
  else if (host.find("://") != std::string_view::npos)
    throw UsageError(fmt::format("docker host \"{}\": only local Unix sockets (unix:///path/to/docker.sock or "
                                 "/path/to/docker.sock) and tcp://HOST:PORT are supported",
                                 host));
  if (host.empty() || host.front() != '/')
    throw UsageError(fmt::format("docker host \"{}\": give an absolute socket path, e.g. unix:///var/run/docker.sock",
                                 host));
  return std::string(host);
}

DockerEndpoint DockerEndpoint::unix_socket_at(std::string path) {
  DockerEndpoint e;
  e.socket_path = std::move(path);
  return e;
}

DockerEndpoint DockerEndpoint::forwarded(std::string local_socket, std::string remote_socket, std::string via) {
  DockerEndpoint e;
  e.socket_path = std::move(local_socket);
  e.remote_socket_path = std::move(remote_socket);
  e.via = std::move(via);
  return e;
}

std::string remote_engine_socket(std::string_view docker_host, const std::string& host_url) {
  if (docker_host.empty())
    return "/var/run/docker.sock";
  if (docker_host == "private")
    throw UsageError(fmt::format("--docker-host private with --host {}: virtbench starts a private dockerd only on "
                                 "this host; start dockerd on {} and leave --docker-host unset (or give its socket "
                                 "there, unix:///path)",
                                 host_url, host_url));
  if (docker_host.starts_with("tcp://"))
    throw UsageError(fmt::format("--docker-host {} with --host {}: a tcp:// engine is reached from here, not over the "
                                 "SSH connection; give the engine's Unix socket on that host (unix:///path, default "
                                 "/var/run/docker.sock), or drop --host",
                                 docker_host, host_url));
  return socket_path_from_docker_host(docker_host);
}

std::string DockerEndpoint::describe() const {
  switch (kind) {
  case Kind::unix_socket:
    if (remote())
      return "unix://" + remote_socket_path + " on " + via + " (forwarded over SSH)";
    return "unix://" + socket_path;
  case Kind::https:
    return "tcp://" + host_port + " (TLS)";
  case Kind::http:
    break;
  }
  return "tcp://" + host_port + " (no TLS)";
}

DockerTlsEnv DockerTlsEnv::from_environment() {
  auto get = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  return {get("DOCKER_TLS_VERIFY"), get("DOCKER_CERT_PATH"), get("HOME")};
}

DockerEndpoint endpoint_from_docker_host(std::string_view host, const DockerTlsEnv& env, bool insecure) {
  constexpr std::string_view tcp_scheme = "tcp://";
  if (!host.starts_with(tcp_scheme))
    return DockerEndpoint::unix_socket_at(socket_path_from_docker_host(host));
  std::string_view rest = host.substr(tcp_scheme.size());
  while (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  auto colon = rest.rfind(':');
  bool port_ok = colon != std::string_view::npos && colon > 0 && colon + 1 < rest.size() && colon + 6 >= rest.size();
  for (std::size_t i = port_ok ? colon + 1 : rest.size(); i < rest.size(); ++i)
    port_ok = port_ok && rest[i] >= '0' && rest[i] <= '9';
  if (!port_ok || rest.find('/') != std::string_view::npos)
    throw UsageError(fmt::format("docker host \"{}\": give tcp://HOST:PORT, e.g. tcp://10.0.0.1:2376", host));
  DockerEndpoint e;
  e.host_port = std::string(rest);
  if (env.tls_verify.empty()) {
    if (!insecure)
      throw UsageError(fmt::format("docker host \"{}\": plain tcp:// has no TLS; set DOCKER_TLS_VERIFY=1 and "
                                   "DOCKER_CERT_PATH (a directory with ca.pem, cert.pem, key.pem) as for the docker "
                                   "CLI, or pass --insecure yes to talk to the engine unencrypted and unauthenticated",
                                   host));
    e.kind = DockerEndpoint::Kind::http;
    return e;
  }
  e.kind = DockerEndpoint::Kind::https;
  std::filesystem::path dir = !env.cert_path.empty() ? std::filesystem::path(env.cert_path)
                                                     : std::filesystem::path(env.home) / ".docker";
  for (auto [file, out] : {std::pair{"ca.pem", &e.ca}, std::pair{"cert.pem", &e.cert}, std::pair{"key.pem", &e.key}}) {
    auto path = dir / file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      throw UsageError(fmt::format("docker host {}: {} is missing; put {} in DOCKER_CERT_PATH ({}{})", host,
                              path.string(), file, dir.string(), env.cert_path.empty() ? ", the default ~/.docker" : ""));
    *out = path.string();
  }
  return e;
}

EngineVersion parse_version(std::string_view body) {
  auto v = parse_json(body, "GET /version");
  EngineVersion e;
  e.version = string_at(v, {"Version"});
  e.api_version = string_at(v, {"ApiVersion"});
  e.min_api_version = string_at(v, {"MinAPIVersion"});
  e.kernel = string_at(v, {"KernelVersion"});
  if (e.api_version.empty())
    throw Error("read the engine's version: GET /version has no ApiVersion; is this a Docker engine?");
  auto engine_max = parse_api(e.api_version);
  auto ours_max = parse_api(k_max_api_version), ours_min = parse_api(k_min_api_version);
  if (engine_max < ours_min)
    throw Error(fmt::format("docker engine {} speaks API {}, older than {} which virtbench needs; "
                            "upgrade the engine (Debian 12's docker.io speaks 1.41)",
                            e.version, e.api_version, k_min_api_version));
  auto chosen = std::min(engine_max, ours_max);
  if (!e.min_api_version.empty() && chosen < parse_api(e.min_api_version))
    throw Error(fmt::format("docker engine {} no longer speaks API {} (its oldest is {})", e.version,
                            k_max_api_version, e.min_api_version));
  e.negotiated = fmt::format("{}.{}", chosen.major, chosen.minor);
  return e;
}

EngineInfo parse_info(std::string_view body) {
  constexpr std::string_view call = "GET /info";
  json::value v = parse_object(body, call);
  EngineInfo info;
  info.storage_driver = text_at(v, {"Driver"});
  info.cgroup_driver = text_at(v, {"CgroupDriver"});
  info.cgroup_version = text_at(v, {"CgroupVersion"});
  return info;
}

std::string parse_id(std::string_view body, std::string_view call) {
  auto v = parse_object(body, call);
  auto* id = v.if_contains("Id");
  if (!id || !id->is_string() || id->as_string().empty())
    malformed(call, "no Id", body);
  return std::string(id->as_string());
}

ContainerState parse_container_inspect(std::string_view body) {
  constexpr std::string_view call = "GET /containers/{id}/json";
  auto v = parse_object(body, call);
  auto* state = v.if_contains("State");
  if (!state || !state->is_object())
    malformed(call, "no State object", body);
  auto* running = state->as_object().if_contains("Running");
  if (!running || !running->is_bool())
    malformed(call, "State.Running is not true or false", body);
  ContainerState s;
  s.running = running->as_bool();
  if (auto* pid = find_path(*state, {"Pid"}); pid && pid->is_number())
    s.pid = pid->to_number<long>();
  if (auto* oom = find_path(*state, {"OOMKilled"}); oom && oom->is_bool())
    s.oom_killed = oom->as_bool();
  s.status = string_at(*state, {"Status"});
  return s;
}

CreatedVolume parse_volume_create(std::string_view body) {
  constexpr std::string_view call = "POST /volumes/create";
  json::value v = parse_object(body, call);
  CreatedVolume volume;
  volume.driver = string_at(v, {"Driver"});
  volume.mountpoint = string_at(v, {"Mountpoint"});
  if (volume.mountpoint.empty())
    malformed(call, "no Mountpoint", body);
  return volume;
}

std::vector<LabelledVolume> parse_labelled_volumes(std::string_view body) {
  constexpr std::string_view call = "GET /volumes";
  auto v = parse_object(body, call);
  auto* volumes = v.if_contains("Volumes");
  std::vector<LabelledVolume> list;
  if (!volumes || volumes->is_null())
    return list;
  if (!volumes->is_array())
    malformed(call, "Volumes is not a list", body);
  for (auto& vol : volumes->as_array()) {
    LabelledVolume l;
    l.name = string_at(vol, {"Name"});
    if (l.name.empty())
      continue;
    l.pid = label_pid(vol, {"Labels", k_pid_label});
    l.controller = string_at(vol, {"Labels", k_controller_label});
    list.push_back(std::move(l));
  }
  return list;
}

ExecInspect parse_exec_inspect(std::string_view body) {
  auto v = parse_json(body, "GET /exec/{id}/json");
  ExecInspect r;
  if (auto* p = find_path(v, {"Running"}); p && p->is_bool())
    r.running = p->as_bool();
  if (auto* p = find_path(v, {"ExitCode"}); p && p->is_number())
    r.exit_code = p->to_number<int>();
  return r;
}

std::optional<CpuSeconds> parse_stats_cpu(std::string_view body) {
  auto v = parse_json(body, "GET /containers/{id}/stats");
  auto* user = find_path(v, {"cpu_stats", "cpu_usage", "usage_in_usermode"});
  auto* kernel = find_path(v, {"cpu_stats", "cpu_usage", "usage_in_kernelmode"});
  if (!user || !kernel || !user->is_number() || !kernel->is_number())
    return std::nullopt;
  return CpuSeconds{user->to_number<double>() / 1e9, kernel->to_number<double>() / 1e9};
}

std::vector<LabelledContainer> parse_labelled_containers(std::string_view body) {
  auto v = parse_json(body, "GET /containers/json");
  std::vector<LabelledContainer> list;
  if (!v.is_array())
    return list;
  for (auto& c : v.as_array()) {
    LabelledContainer l;
    l.id = string_at(c, {"Id"});
    if (auto* names = find_path(c, {"Names"}); names && names->is_array() && !names->as_array().empty() &&
                                               names->as_array()[0].is_string())
      l.name = std::string(names->as_array()[0].as_string());
    if (!l.name.empty() && l.name.front() == '/')
      l.name.erase(0, 1);
    l.run_id = string_at(c, {"Labels", k_run_label});
    l.pid = label_pid(c, {"Labels", k_pid_label});
    l.controller = string_at(c, {"Labels", k_controller_label});
    l.state = string_at(c, {"State"});
    list.push_back(std::move(l));
  }
  return list;
}

std::string parse_import_response(std::string_view body) {
  std::string id;
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto nl = body.find('\n', pos);
    auto line = body.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? body.size() : nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.remove_suffix(1);
    if (line.empty())
      continue;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec)
      continue;
    auto error = string_at(v, {"error"});
    if (error.empty())
      error = string_at(v, {"errorDetail", "message"});
    if (!error.empty())
      throw Error("import the image: the engine reported: " + error);
    auto status = string_at(v, {"status"});
    if (status.starts_with("sha256:"))
      id = status;
  }
  if (id.empty())
    throw Error("import the image: the engine's answer names no image id: " + std::string(body.substr(0, 300)));
  return id;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

} // namespace virtbench::docker
