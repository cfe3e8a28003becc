#pragma once
// Moves bytes to and from a Docker engine over its Unix socket, or tcp:// with TLS, with libcurl. libcurl's
// calls block, so every transfer runs on the client's own threads while the awaiting
// coroutine leaves the io_context free (the CPU samplers run there during a workload).
// A transfer stops within about a second when its waiter is cancelled or abort_all() is
// called (CURLOPT_XFERINFOFUNCTION checks an abort flag), and never outlives CURLOPT_TIMEOUT.

#include "drivers/docker/protocol.hpp"
#include "util/asio.hpp"
#include "util/error.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace virtbench::docker {

struct HttpRequest {
  std::string method = "GET";
  std::string path;                  // e.g. "/v1.41/containers/json"
  std::string body;                  // sent as is (JSON unless content_type says otherwise)
  std::filesystem::path upload_file; // when set, the body is streamed from this file instead
  std::string content_type = "application/json";
  std::chrono::milliseconds timeout{30000}; // the whole transfer
  // Receives a 2xx response body as it arrives (on a client thread); errors still go to body.
  std::function<void(std::string_view)> on_data;
  // Upload progress (on a client thread): bytes sent, bytes in total.
  std::function<void(std::uint64_t, std::uint64_t)> on_upload;
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

// The request never got an HTTP answer: no engine on the socket, the connection broke,
// the transfer timed out or was aborted.
class TransportError : public Error {
public:
  enum class Kind { connect, broken, timeout, aborted };
  TransportError(const std::string& message, Kind kind) : Error(message), m_kind(kind) {}
  Kind kind() const { return m_kind; }

private:
  Kind m_kind;
};

// Performs one request on the calling thread (blocking). `abort` is polled during the transfer.
HttpResponse perform_request(const DockerEndpoint& endpoint, const HttpRequest& request, const std::atomic<bool>& abort);

// One request in flight on the client's threads.
struct Transfer {
  explicit Transfer(asio::any_io_executor executor) : signal(executor, asio::steady_timer::time_point::max()) {}
  HttpRequest request;
  std::atomic<bool> abort{false};
  // Owned by the awaiting side's executor; cancelled when the transfer is done.
  asio::steady_timer signal;
  bool done = false;             // set on the awaiting side's executor
  HttpResponse response;         // valid once done, unless error
  std::exception_ptr error;      // TransportError (or what on_data threw)
};

// Aborts a transfer its awaiting scope leaves before it is done (cancellation, an error).
struct AbortUnlessDone {
  Transfer& transfer;
  ~AbortUnlessDone() {
    if (!transfer.done)
      transfer.abort = true;
  }
};

class EngineClient {
public:
  explicit EngineClient(DockerEndpoint endpoint);
  // Aborts every transfer in flight and waits for the threads (about a second at most).
  ~EngineClient();
  EngineClient(const EngineClient&) = delete;
  EngineClient& operator=(const EngineClient&) = delete;

  const DockerEndpoint& endpoint() const { return m_endpoint; }
  // "/v1.41" + path once the API version is negotiated.
  void set_api_version(std::string version) { m_prefix = "/v" + version; }
  std::string versioned(std::string_view path) const { return m_prefix + std::string(path); }

  // Starts a transfer on the client's threads; wait() for it.
  std::shared_ptr<Transfer> start(HttpRequest request, asio::any_io_executor executor);
  // Waits until the transfer is done (its outcome is in it). Cancelling the wait throws
  // the cancellation (throw_cancellation(), util/failure.hpp) and leaves the transfer running:
  // the caller decides whether to abort it.
  static awaitable<void> wait(std::shared_ptr<Transfer> transfer);

  // start + wait; cancelling the awaiting coroutine aborts the transfer. Rethrows
  // TransportError; HTTP error statuses are returned, not thrown.
  awaitable<HttpResponse> send(HttpRequest request);

  // send, then EngineError("<METHOD> <path>: HTTP ...") unless the status is 2xx (or 304).
  // `path` is unversioned; the negotiated prefix is added. The views are copied before the
  // first suspension (pass literals or named locals: GCC 12 mishandles temporaries here).
  awaitable<std::string> call(std::string_view method, std::string_view path, std::string_view body = {},
                              std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // The same, blocking on the calling thread (for stop() and destructors).
  std::string call_blocking(const std::string& method, const std::string& path, const std::string& body = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Every transfer in flight now stops at its next progress callback.
  void abort_all();

private:
  std::string check(const HttpRequest& request, HttpResponse response) const;

  DockerEndpoint m_endpoint;
  std::string m_prefix;
  asio::thread_pool m_pool{2}; // exec streams and the calls made while one runs (kill, inspect)
  std::mutex m_mutex;
  std::set<std::shared_ptr<Transfer>> m_in_flight; // guarded by m_mutex
};

} // namespace virtbench::docker
