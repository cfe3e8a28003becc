#pragma once
// libvirt's C API, made safe to hold: owning handles, errors as virtbench exceptions that
// quote the URI and libvirt's own message, and a way to run blocking calls on a worker
// thread so the io_context (samplers, timers) keeps its pace.

#include "util/asio.hpp"
#include "util/error.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

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

// What to do when connecting to `uri` failed with `message`: start libvirtd, check ssh ...
std::string connect_fix(std::string_view uri, std::string_view message);

// Opens a read-write connection; throws Error("connect to libvirt at <uri>: <message>; <fix>").
// libvirt's default printing of errors to stderr is turned off: errors reach the user once,
// with context, through the exception.
Connection open_connection(const std::string& uri);

// Throws Error("<what>: <libvirt's message>"), PlatformLost when is_gone().
[[noreturn]] void throw_libvirt_error(const std::string& what);

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
