#include "drivers/libvirt/connection.hpp"

#include "util/fs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

namespace virtbench::libvirt {

namespace {

void ignore_error(void*, virErrorPtr) {}

void initialise_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    virInitialize();
    virSetErrorFunc(nullptr, ignore_error);
  });
}

} // namespace

LibvirtError last_error() {
  LibvirtError e;
  if (virErrorPtr err = virGetLastError()) {
    e.code = err->code;
    e.domain = err->domain;
    if (err->message)
      e.message = err->message;
  }
  if (e.message.empty())
    e.message = "unknown libvirt error";
  return e;
}

bool is_gone(const LibvirtError& e) {
  switch (e.code) {
  case VIR_ERR_NO_DOMAIN:
  case VIR_ERR_NO_CONNECT:
  case VIR_ERR_INVALID_CONN:
  case VIR_ERR_INVALID_DOMAIN:
  case VIR_ERR_OPERATION_INVALID: // "domain is not running"
    return true;
  default:
    return e.domain == VIR_FROM_RPC; // the connection to libvirtd broke
  }
}

bool is_local_uri(std::string_view uri) {
  auto scheme_end = uri.find("://");
  if (scheme_end == std::string_view::npos)
    return true; // a name libvirt resolves, or the default: local by convention
  auto rest = uri.substr(scheme_end + 3);
  return rest.empty() || rest.front() == '/';
}

std::string forwarded_libvirt_uri(const std::string& local_socket) {
  std::string uri = "qemu:///system?socket=";
  for (unsigned char c : local_socket) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~')
      uri += static_cast<char>(c);
    else
      uri += fmt::format("%{:02X}", c);
  }
  return uri;
}

std::string remote_socket_of_uri(std::string_view uri, const std::string& host_url) {
  constexpr std::string_view system = "qemu:///system", socket_param = "?socket=";
  if (uri.empty() || uri == system)
    return {};
  auto rest = uri.starts_with(system) ? uri.substr(system.size()) : std::string_view();
  if (rest.starts_with(socket_param)) {
    auto path = rest.substr(socket_param.size());
    bool plain = !path.empty() && path.front() == '/' &&
                 std::none_of(path.begin(), path.end(), [](char c) { return c == '&' || c == '%' || c == '#'; });
    if (plain)
      return std::string(path);
  }
  throw UsageError(fmt::format("--libvirt-uri {} with --host {}: the run reaches the system libvirtd of that host "
                               "through its SSH connection; give qemu:///system (the default) or "
                               "qemu:///system?socket=/path/of/its/socket, or drop --host",
                               uri, host_url));
}

std::string connect_fix(std::string_view uri, std::string_view message) {
  bool local = is_local_uri(uri);
  if (local && (message.find("No such file") != std::string_view::npos ||
                message.find("Connection refused") != std::string_view::npos ||
                message.find("Failed to connect socket") != std::string_view::npos))
    return "libvirtd is not running: start it (as root, with systemd: systemctl start libvirtd; without: "
           "virtlogd -d && libvirtd -d; tools/test.d/20-libvirtd does this)";
  if (message.find("ermission denied") != std::string_view::npos || message.find("authentication") != std::string_view::npos)
    return "run as root, or as a member of the libvirt group";
  if (!local)
    return "check that the host answers ssh as that user (ssh-agent or keys; no password prompt) and runs libvirtd";
  return "check `virsh -c " + std::string(uri) + " version`";
}

Connection open_connection(const std::string& uri) {
  initialise_once();
  virConnectPtr c = virConnectOpen(uri.c_str());
  if (!c) {
    auto e = last_error();
    throw Error("connect to libvirt at " + uri + ": " + e.message + "; " + connect_fix(uri, e.message));
  }
  return Connection(c);
}

bool can_read_write(unsigned uid, const std::vector<unsigned>& gids, unsigned owner_uid, unsigned owner_gid,
                    unsigned mode) {
  if (uid == 0)
    return true;
  if (uid == owner_uid)
    return (mode & 0600) == 0600;
  if (std::find(gids.begin(), gids.end(), owner_gid) != gids.end())
    return (mode & 0060) == 0060;
  return (mode & 0006) == 0006;
}

std::pair<std::string, std::string> qemu_conf_user_group(std::string_view text) {
  std::pair<std::string, std::string> r{"libvirt-qemu", "libvirt-qemu"};
  for (std::size_t pos = 0; pos < text.size();) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos)
      continue;
    line.remove_prefix(first);
    std::string* target = nullptr;
    if (line.starts_with("user"))
      target = &r.first, line.remove_prefix(4);
    else if (line.starts_with("group"))
      target = &r.second, line.remove_prefix(5);
    else
      continue;
    auto eq = line.find_first_not_of(" \t");
    if (eq == std::string_view::npos || line[eq] != '=')
      continue; // "user_xattr", "groups" ...: another key
    auto open = line.find('"', eq);
    auto close = open == std::string_view::npos ? open : line.find('"', open + 1);
    if (close != std::string_view::npos)
      *target = std::string(line.substr(open + 1, close - open - 1));
  }
  return r;
}

namespace {

std::string owner_and_mode(const KvmDeviceFacts& f) {
  auto name_of_user = [](unsigned uid) {
    if (auto* pw = ::getpwuid(uid))
      return std::string(pw->pw_name);
    return std::to_string(uid);
  };
  auto name_of_group = [](unsigned gid) {
    if (auto* gr = ::getgrgid(gid))
      return std::string(gr->gr_name);
    return std::to_string(gid);
  };
  return fmt::format("{}:{} {:04o}", name_of_user(f.owner_uid), name_of_group(f.owner_gid), f.mode);
}

bool qemu_user_can_use_kvm(const KvmDeviceFacts& f) {
  return f.qemu_uid && can_read_write(*f.qemu_uid, f.qemu_gids, f.owner_uid, f.owner_gid, f.mode);
}

} // namespace

std::string capabilities_cache_problem(const KvmDeviceFacts& f) {
  if (!f.exists)
    return ""; // libvirt's check says "not usable", and its probe found no KVM either
  bool usable = qemu_user_can_use_kvm(f);
  auto who = f.qemu_user + ":" + f.qemu_group;
  if (f.kvm_offered && !usable)
    return fmt::format("libvirtd probes QEMU again on every capabilities lookup (~4 s each, minutes per domain start): "
                       "its probe runs with CAP_DAC_OVERRIDE and found KVM, but /dev/kvm ({}) is not read/writable "
                       "by qemu.conf's user {}, so libvirt's cache check discards the result every time (\"KVM was "
                       "enabled when probing ..., but it is not available now\"); no udev rule gave /dev/kvm its group",
                       owner_and_mode(f), who);
  if (!f.kvm_offered && usable)
    return fmt::format("libvirtd probes QEMU again on every capabilities lookup (~4 s each, minutes per domain start): "
                       "/dev/kvm ({}) is read/writable by qemu.conf's user {}, but QEMU did not enable KVM when "
                       "libvirt probed it, so libvirt's cache check discards the result every time (\"KVM was not "
                       "enabled when probing ..., but it should be usable now\")",
                       owner_and_mode(f), who);
  return "";
}

std::string capabilities_cache_fix(const KvmDeviceFacts& f) {
  if (f.kvm_offered)
    return "chgrp kvm /dev/kvm && chmod 0660 /dev/kvm (the group and mode Debian's udev rule gives it; " +
           f.qemu_user + " must be in group kvm; a running libvirtd picks it up without a restart; "
           "tools/test.d/20-libvirtd does this)";
  return "make KVM work for QEMU (see dmesg and `virsh domcapabilities --virttype kvm`), or take /dev/kvm away "
         "from " + f.qemu_user + " (chmod 0600 /dev/kvm)";
}

KvmDeviceFacts local_kvm_device_facts(bool kvm_offered) {
  KvmDeviceFacts f;
  f.kvm_offered = kvm_offered;
  struct stat sb {};
  if (::stat("/dev/kvm", &sb) != 0 || !S_ISCHR(sb.st_mode))
    return f;
  f.exists = true;
  f.owner_uid = sb.st_uid;
  f.owner_gid = sb.st_gid;
  f.mode = sb.st_mode & 07777;
  std::string conf;
  try {
    conf = read_file("/etc/libvirt/qemu.conf");
  } catch (const std::exception&) {
    // libvirt's built-in defaults
  }
  std::tie(f.qemu_user, f.qemu_group) = qemu_conf_user_group(conf);
  // "+N" is a numeric id, a name otherwise (libvirt also takes a bare number no name has).
  auto number = [](std::string_view s) -> std::optional<unsigned> {
    if (s.starts_with('+'))
      s.remove_prefix(1);
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty())
      return std::nullopt;
    return v;
  };
  const passwd* pw = f.qemu_user.starts_with('+') ? nullptr : ::getpwnam(f.qemu_user.c_str());
  if (!pw)
    if (auto n = number(f.qemu_user))
      pw = ::getpwuid(*n), f.qemu_uid = *n;
  if (pw)
    f.qemu_uid = pw->pw_uid;
  std::optional<unsigned> gid;
  if (const group* gr = f.qemu_group.starts_with('+') ? nullptr : ::getgrnam(f.qemu_group.c_str()))
    gid = gr->gr_gid;
  else
    gid = number(f.qemu_group);
  if (gid)
    f.qemu_gids.push_back(*gid);
  if (pw) {
    // Like libvirt's virGetGroupList: the user's primary and supplementary groups (from its
    // passwd entry: libvirt-qemu's primary group is kvm on Debian), plus qemu.conf's group.
    int n = 64;
    std::vector<gid_t> groups(n);
    if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) {
      groups.resize(n);
      ::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n);
    }
    groups.resize(std::max(n, 0));
    f.qemu_gids.insert(f.qemu_gids.end(), groups.begin(), groups.end());
  }
  return f;
}

void throw_libvirt_error(const std::string& what) {
  auto e = last_error();
  if (is_gone(e))
    throw PlatformLost(what + ": " + e.message);
  throw Error(what + ": " + e.message);
}

} // namespace virtbench::libvirt
