// The text side of ssh.hpp and remote_host.hpp, without I/O: the ssh:// address, quoting for
// the remote shell, ssh's failures, the remote wrapper's times and the remote host's facts
// (fuzz/fuzz_ssh.cpp compiles only this).
#include "remote_host.hpp"
#include "ssh.hpp"

#include "util/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

namespace virtbench {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

} // namespace

std::string last_ssh_line(std::string_view err) {
  std::string best;
  std::istringstream in{std::string(err)};
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.pop_back();
    if (!line.empty())
      best = line;
  }
  return best;
}

namespace {

int port_of(const SshTarget& t) { return t.port.value_or(22); }

// "[127.0.0.1]:2222" as known_hosts writes a host on another port than 22.
std::string known_hosts_name(const SshTarget& t) {
  return port_of(t) == 22 ? t.host : fmt::format("[{}]:{}", t.host, port_of(t));
}

} // namespace

std::string SshTarget::url() const {
  std::string s = "ssh://";
  if (!user.empty())
    s += user + "@";
  s += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port)
    s += fmt::format(":{}", *port);
  return s;
}

SshTarget parse_ssh_url(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return UsageError(fmt::format("--host {}: {}; give ssh://[user@]host[:port], e.g. ssh://root@bench-2:22", url, why));
  };
  constexpr std::string_view scheme = "ssh://";
  if (!url.starts_with(scheme))
    throw bad("only ssh:// hosts are supported");
  auto rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos)
    throw bad("a path, query or fragment has no meaning here");
  SshTarget t;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    if (userinfo.find(':') != std::string_view::npos)
      throw bad("a password in the URL is refused (it would show in the process list and the results); use a key "
                "(ssh-copy-id) and your ssh agent or IdentityFile");
    if (userinfo.empty())
      throw bad("an empty user name before '@'");
    t.user = std::string(userinfo);
    rest = rest.substr(at + 1);
  }
  std::string_view port_text;
  if (rest.starts_with("[")) {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      throw bad("an IPv6 address without its closing ']'");
    t.host = std::string(rest.substr(1, close - 1));
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        throw bad("unexpected text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty())
        throw bad("an empty port after ':'");
    }
  } else {
    auto colon = rest.find(':');
    t.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty())
        throw bad("an empty port after ':'");
    }
  }
  if (t.host.empty())
    throw bad("no host");
  for (auto& [what, text] : {std::pair<const char*, const std::string*>{"host", &t.host}, {"user", &t.user}}) {
    if (!text->empty() && text->front() == '-')
      throw bad(fmt::format("a {} starting with '-' would be taken for an ssh option", what));
    for (unsigned char c : *text)
      if (c <= ' ' || c == 0x7f || c == '\'' || c == '"' || c == '\\')
        throw bad(fmt::format("the {} holds a space, quote or control character", what));
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string_view::npos)
      throw bad(fmt::format("port \"{}\" is not a number", port_text));
    int port = std::stoi(std::string(port_text));
    if (port < 1 || port > 65535)
      throw bad(fmt::format("port {} is outside 1-65535", port));
    t.port = port;
  }
  return t;
}

std::string shell_quote(const std::vector<std::string>& argv) {
  std::string s;
  for (auto& a : argv) {
    if (!s.empty())
      s += ' ';
    s += '\'';
    for (char c : a) {
      if (c == '\'')
        s += "'\\''";
      else
        s += c;
    }
    s += '\'';
  }
  return s;
}

std::string unix_forward_spec(const std::string& local, const std::string& remote) {
  auto check = [](const std::string& path, const char* which) {
    auto bad = [&](const std::string& why) {
      return UsageError(fmt::format("forward the {} Unix socket \"{}\": {}", which, path, why));
    };
    if (path.empty() || path.front() != '/')
      throw bad("not an absolute path");
    if (path.size() > 107)
      throw bad(fmt::format("{} bytes, longer than the 107 a Unix socket path may have{}", path.size(),
                            std::string_view(which) == "local" ? "; set XDG_RUNTIME_DIR to a shorter directory" : ""));
    for (unsigned char c : path)
      if (c == ':' || c == '[' || c == ']' || std::isspace(c) || c < 0x20 || c == 0x7f)
        throw bad("it holds a ':', '[', ']', a space or a control character, which ssh's forward syntax cannot "
                  "carry; use another path");
  };
  check(local, "local");
  check(remote, "remote");
  return local + ":" + remote;
}

SshFailure classify_ssh_failure(std::string_view err, const SshTarget& t, const std::string& ssh_config) {
  auto e = lower(err);
  auto url = t.url();
  auto has = [&](std::string_view s) { return e.find(s) != std::string::npos; };
  auto known = ssh_config.empty() ? std::string("~/.ssh/known_hosts")
                                  : "the UserKnownHostsFile of " + ssh_config;
  if (has("remote host identification has changed")) {
    // ssh names the file and the command: "  remove with:\n  ssh-keygen -f "FILE" -R "HOST"".
    auto remove = fmt::format("ssh-keygen -R '{}'", known_hosts_name(t));
    if (auto at = err.find("remove with:"); at != std::string_view::npos) {
      auto line = last_ssh_line(err.substr(at + 12, err.find('\n', err.find_first_not_of(" \r\n", at + 12)) - at - 12));
      if (line.find("ssh-keygen") != std::string::npos)
        remove = line.substr(line.find("ssh-keygen"));
    }
    return {fmt::format("ssh {}: the host key of {} CHANGED since it was recorded in {} (possibly someone "
                        "intercepting the connection, or a reinstalled host); check the new key's fingerprint with "
                        "its administrator, then remove the stale entry with `{}` and connect once by hand",
                        url, t.host, known, remove),
            false};
  }
  if (has("host key verification failed") || has("host key is known") || has("no matching host key"))
    return {fmt::format("ssh {}: the host key of {} is not in {} (virtbench never accepts a key by itself); fetch it "
                        "with `ssh-keyscan -p {} {}`, check its fingerprint (ssh-keygen -lf) against the host's, then "
                        "append it to known_hosts, or connect once by hand with ssh",
                        url, known_hosts_name(t), known, port_of(t), t.host),
            true};
  if (has("could not resolve hostname") || has("name or service not known") || has("temporary failure in name"))
    return {fmt::format("ssh {}: cannot resolve the host name {} (DNS); check the spelling, /etc/hosts or the "
                        "ssh config's HostName",
                        url, t.host),
            true};
  if (has("connection refused"))
    return {fmt::format("ssh {}: connection refused on port {}: no sshd listens there; start sshd on {} or give "
                        "the right port (ssh://host:PORT)",
                        url, port_of(t), t.host),
            false};
  if (has("no route to host") || has("network is unreachable") || has("connection timed out") ||
      has("operation timed out"))
    return {fmt::format("ssh {}: {} is unreachable ({}); check that it is up and that the network and firewall "
                        "let port {} through",
                        url, t.host, last_ssh_line(err), port_of(t)),
            false};
  if (has("permission denied") || has("too many authentication failures"))
    return {fmt::format("ssh {}: the host refused the key ({}); add your public key to ~{}/.ssh/authorized_keys "
                        "there (ssh-copy-id), or name the right key with IdentityFile in your ssh config "
                        "(--ssh-config FILE); virtbench never asks for a password (BatchMode)",
                        url, last_ssh_line(err), t.user.empty() ? "USER" : t.user),
            true};
  if (has("bad configuration option") || has("can't open user config file") || has("terminating,") ||
      (has("no such file or directory") && has("config")))
    return {fmt::format("ssh {}: the ssh configuration is not usable: {}; fix {}", url, last_ssh_line(err),
                        ssh_config.empty() ? std::string("~/.ssh/config") : ssh_config),
            true};
  if (has("kex_exchange_identification") || has("connection closed by") || has("connection reset"))
    return {fmt::format("ssh {}: {} closed the connection during the SSH handshake ({}); is it an SSH server, and "
                        "does its sshd accept connections (MaxStartups, AllowUsers, firewall)?",
                        url, t.host, last_ssh_line(err)),
            false};
  auto line = last_ssh_line(err);
  return {fmt::format("ssh {}: {}", url, line.empty() ? "ssh failed without saying why" : line), false};
}

// --- remote commands ---------------------------------------------------------------------

namespace {

// $1: the directory (empty: the login directory); $2...: the command. See remote_exec_argv.
constexpr const char* k_exec_wrapper = R"sh([ -z "$1" ] || cd "$1" || exit 125
shift
exec 3<&0
"$@" </dev/null &
p=$!
{ read -r _ <&3; kill -TERM "$p" 2>/dev/null; } &
w=$!
wait "$p"
r=$?
kill "$w" 2>/dev/null
printf '\n@virtbench-times@\n' >&2
times >&2
exit "$r")sh";

std::optional<double> parse_times_field(const std::string& field) { // "1m2.50s"
  auto m = field.find('m');
  if (m == std::string::npos || field.empty() || field.back() != 's')
    return std::nullopt;
  try {
    return std::stod(field.substr(0, m)) * 60 + std::stod(field.substr(m + 1, field.size() - m - 2));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace

std::vector<std::string> remote_exec_argv(const std::string& cwd, const std::vector<std::string>& argv) {
  std::vector<std::string> full{"sh", "-c", k_exec_wrapper, "sh", cwd};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

namespace {

// $1: the pid file; $2...: the command. See remote_long_lived_argv.
constexpr const char* k_long_lived_wrapper = R"sh(f=$1
shift
exec 3<&0
"$@" </dev/null >/dev/null &
p=$!
printf '%s\n' "$p" > "$f"
{ read -r _ <&3; kill -TERM "$p"; sleep 5; kill -KILL "$p"; } >/dev/null 2>&1 &
w=$!
wait "$p"
r=$?
kill "$w" 2>/dev/null
exit "$r")sh";

} // namespace

std::vector<std::string> remote_long_lived_argv(const std::string& pid_file, const std::vector<std::string>& argv) {
  std::vector<std::string> full{"sh", "-c", k_long_lived_wrapper, "sh", pid_file};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

std::optional<std::pair<double, double>> take_remote_times(std::string& err) {
  auto pos = err.rfind(k_times_marker);
  if (pos == std::string::npos)
    return std::nullopt;
  std::istringstream in(err.substr(pos + k_times_marker.size()));
  err.erase(pos);
  std::string shell_user, shell_sys, user, sys;
  if (!(in >> shell_user >> shell_sys >> user >> sys))
    return std::nullopt;
  auto u = parse_times_field(user), s = parse_times_field(sys);
  if (!u || !s)
    return std::nullopt;
  return std::pair{*u, *s};
}

boost::json::object parse_remote_host_facts(std::string_view text, const std::string& url) {
  std::map<std::string, std::string> kv;
  boost::json::object mitigations;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos)
      continue;
    auto key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key.starts_with("mitigation."))
      mitigations[key.substr(11)] = value;
    else
      kv[key] = value;
  }
  boost::json::object h;
  h["kernel"] = kv["kernel"];
  h["hostname"] = kv["hostname"];
  h["arch"] = kv["arch"];
  if (!kv["cpu_model"].empty())
    h["cpu_model"] = kv["cpu_model"];
  try {
    h["cpus"] = std::stoll(kv["cpus"]);
  } catch (const std::exception&) {
  }
  try {
    h["memory_bytes"] = std::stoull(kv["memtotal_kib"]) * 1024;
  } catch (const std::exception&) {
  }
  h["cpu_governor"] = kv["cpu_governor"].empty() ? "unavailable" : kv["cpu_governor"];
  h["transparent_hugepage"] = kv["transparent_hugepage"];
  h["mitigations"] = std::move(mitigations);
  h["remote"] = url;
  return h;
}

} // namespace virtbench
