#include "drivers/libvirt/connection.hpp"

#include <mutex>

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

void throw_libvirt_error(const std::string& what) {
  auto e = last_error();
  if (is_gone(e))
    throw PlatformLost(what + ": " + e.message);
  throw Error(what + ": " + e.message);
}

} // namespace virtbench::libvirt
