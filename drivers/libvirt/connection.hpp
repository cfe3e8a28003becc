#pragma once
// libvirt's C API, made safe to hold: owning handles, errors as virtbench exceptions that
// quote the URI and libvirt's own message, and a way to run blocking calls on a worker
// thread so the io_context (samplers, timers) keeps its pace.

#include "util/asio.hpp"
#include "util/error.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace virtbench::libvirt {

struct ConnectCloser {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
struct DomainFreer {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
struct PoolFreer {
  void operator()(virStoragePoolPtr p) const { virStoragePoolFree(p); }
};
struct VolumeFreer {
  void operator()(virStorageVolPtr v) const { virStorageVolFree(v); }
};
struct StreamFreer {
  void operator()(virStreamPtr s) const { virStreamFree(s); }
};
using Connection = std::unique_ptr<virConnect, ConnectCloser>;
using Domain = std::unique_ptr<virDomain, DomainFreer>;
using Pool = std::unique_ptr<virStoragePool, PoolFreer>;
using Volume = std::unique_ptr<virStorageVol, VolumeFreer>;
using Stream = std::unique_ptr<virStream, StreamFreer>;

// The last libvirt error of this thread.
struct LibvirtError {
  int code = VIR_ERR_OK; // virErrorNumber
  int domain = VIR_FROM_NONE;
  std::string message;   // libvirt's text, or "unknown libvirt error"
};
LibvirtError last_error();

// True when the error says the domain or the connection itself is gone (the platform is lost).
bool is_gone(const LibvirtError& e);

// True for URIs whose hypervisor runs on this machine (no host part: qemu:///system).
bool is_local_uri(std::string_view uri);

// The URI of the system libvirtd reached through `local_socket` (its socket forwarded from a
// --host): "qemu:///system?socket=PATH", the path percent-encoded (libvirt unescapes it).
std::string forwarded_libvirt_uri(const std::string& local_socket);

// With --host, the libvirtd socket there that --libvirt-uri names: "" for qemu:///system (find
// it there), PATH for qemu:///system?socket=PATH. Throws UsageError for any other URI (another
// host, a session daemon, other parameters): the run reaches the --host's system libvirtd.
std::string remote_socket_of_uri(std::string_view uri, const std::string& host_url);

// What to do when connecting to `uri` failed with `message`: start libvirtd, check ssh ...
std::string connect_fix(std::string_view uri, std::string_view message);

// Opens a read-write connection; throws Error("connect to libvirt at <uri>: <message>; <fix>").
// libvirt's default printing of errors to stderr is turned off: errors reach the user once,
// with context, through the exception.
Connection open_connection(const std::string& uri);

// Throws Error("<what>: <libvirt's message>"), PlatformLost when is_gone().
[[noreturn]] void throw_libvirt_error(const std::string& what);

// --- Whether libvirtd can keep its QEMU capabilities (hosts without udev) ---
// libvirt 9.0 probes QEMU's capabilities as qemu.conf's user but with CAP_DAC_OVERRIDE
// (qemuProcessQMPLaunch), so the probe opens /dev/kvm whatever its mode and records KVM.
// Every later lookup checks the cached entry against access("/dev/kvm", R_OK|W_OK) as that user
// and group, without capabilities (virQEMUCapsIsValid -> virQEMUCapsKVMUsable ->
// virFileAccessibleAs). When the two disagree (the kernel's root:root 0600 /dev/kvm when no
// udev rule ran), every lookup (each virDomainCreateXML, virConnectGetDomainCapabilities, ...)
// throws the capabilities away and probes QEMU again, ~4 s each.
struct KvmDeviceFacts {
  bool exists = false;              // /dev/kvm is a character device
  unsigned owner_uid = 0, owner_gid = 0;
  unsigned mode = 0;                // permission bits (st_mode & 07777)
  std::string qemu_user = "libvirt-qemu", qemu_group = "libvirt-qemu"; // qemu.conf's, for messages
  std::optional<unsigned> qemu_uid; // nullopt: that user does not exist here
  std::vector<unsigned> qemu_gids;  // qemu.conf's group, the user's primary and supplementary groups
  bool kvm_offered = false;         // libvirt offers domain type kvm: its probe found KVM
};

// What access(2) says for uid with gids on a file of owner_uid:owner_gid with mode (root: yes;
// the owner: the owner bits only; a group member: the group bits; else the other bits). ACLs
// are not considered.
bool can_read_write(unsigned uid, const std::vector<unsigned>& gids, unsigned owner_uid, unsigned owner_gid,
                    unsigned mode);

// qemu.conf's `user = "..."` and `group = "..."` (the last uncommented one of each), Debian's
// build defaults ("libvirt-qemu") when absent.
std::pair<std::string, std::string> qemu_conf_user_group(std::string_view qemu_conf);

// Why libvirtd probes QEMU again on every capabilities lookup, or "" when it keeps its cache.
std::string capabilities_cache_problem(const KvmDeviceFacts& facts);
// The fix for the usual case (/dev/kvm not open to the qemu.conf user), for doctor's fix line.
std::string capabilities_cache_fix(const KvmDeviceFacts& facts);

// The facts of this host: stat("/dev/kvm"), /etc/libvirt/qemu.conf, the passwd and group
// databases; kvm_offered as given. Never throws.
KvmDeviceFacts local_kvm_device_facts(bool kvm_offered);

// Runs fn() (a blocking libvirt call) on `pool` and resumes with its result (or exception)
// on the caller's executor. Not cancellable once started: fn must be bounded by a timeout.
template <typename F>
awaitable<std::invoke_result_t<F&>> run_blocking(asio::thread_pool& pool, F fn) {
  using R = std::invoke_result_t<F&>;
  auto task = [fn = std::move(fn)]() mutable -> awaitable<R> {
    if constexpr (std::is_void_v<R>) {
      fn();
      co_return;
    } else {
      co_return fn();
    }
  };
  // The caller's cancellation slot is not passed on: once fn runs it finishes, and a
  // cancelled state in the spawned coroutine would make asio's co_spawn throw on the
  // worker thread after fn returned (std::terminate). The caller sees the cancellation at
  // its next co_await.
  auto token = asio::bind_cancellation_slot(asio::cancellation_slot(), use_awaitable);
  co_return co_await asio::co_spawn(pool.get_executor(), std::move(task), token);
}

} // namespace virtbench::libvirt
