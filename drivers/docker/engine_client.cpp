#include "drivers/docker/engine_client.hpp"

#include "drivers/docker/protocol.hpp"
#include "util/failure.hpp"

#include <curl/curl.h>

#include <fmt/format.h>

#include <cstdio>

namespace virtbench::docker {

namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

struct TransferContext {
  CURL* handle = nullptr;
  const HttpRequest* request = nullptr;
  const std::atomic<bool>* abort = nullptr;
  HttpResponse* response = nullptr;
  std::exception_ptr sink_error;
  std::FILE* upload = nullptr;
};

long status_of(CURL* h) {
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto& ctx = *static_cast<TransferContext*>(user);
  std::string_view bytes(data, size * count);
  long status = status_of(ctx.handle);
  if (ctx.request->on_data && status >= 200 && status < 300) {
    try {
      ctx.request->on_data(bytes);
    } catch (...) {
      ctx.sink_error = std::current_exception();
      return 0; // makes libcurl stop with CURLE_WRITE_ERROR
    }
  } else if (ctx.response->body.size() + bytes.size() > k_max_body) {
    ctx.sink_error = std::make_exception_ptr(
        Error(fmt::format("the engine's answer is larger than {} MiB; stopped reading it", k_max_body >> 20)));
    return 0;
  } else {
    ctx.response->body.append(bytes);
  }
  return bytes.size();
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto& ctx = *static_cast<TransferContext*>(user);
  return std::fread(buffer, size, count, ctx.upload);
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t ultotal, curl_off_t ulnow) {
  auto& ctx = *static_cast<TransferContext*>(user);
  if (ctx.abort->load())
    return 1; // CURLE_ABORTED_BY_CALLBACK
  if (ctx.request->on_upload && ultotal > 0)
    ctx.request->on_upload(static_cast<std::uint64_t>(ulnow), static_cast<std::uint64_t>(ultotal));
  return 0;
}

} // namespace

HttpResponse perform_request(const DockerEndpoint& endpoint, const HttpRequest& request, const std::atomic<bool>& abort) {
  static CurlGlobal global;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(curl_easy_init(), curl_easy_cleanup);
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, curl_slist_free_all);
  std::unique_ptr<std::FILE, decltype(&std::fclose)> upload(nullptr, std::fclose);
  auto call = request.method + " " + request.path;
  if (!handle)
    throw TransportError(call + ": curl_easy_init failed", TransportError::Kind::broken);
  CURL* h = handle.get();

  HttpResponse response;
  TransferContext ctx{h, &request, &abort, &response, nullptr, nullptr};
  char errbuf[CURL_ERROR_SIZE] = {};
  std::string url;
  if (endpoint.kind == DockerEndpoint::Kind::unix_socket) {
    url = "http://docker" + request.path;
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, endpoint.socket_path.c_str());
  } else if (endpoint.kind == DockerEndpoint::Kind::http) {
    url = "http://" + endpoint.host_port + request.path;
  } else {
    url = "https://" + endpoint.host_port + request.path;
    curl_easy_setopt(h, CURLOPT_CAINFO, endpoint.ca.c_str());
    curl_easy_setopt(h, CURLOPT_SSLCERT, endpoint.cert.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, endpoint.key.c_str());
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &ctx);

  // No "Expect: 100-continue": it would hold every upload back by a second.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  headers.reset(curl_slist_append(headers.release(), ("Content-Type: " + request.content_type).c_str()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  if (!request.upload_file.empty()) {
    upload.reset(std::fopen(request.upload_file.c_str(), "rb"));
    if (!upload)
      throw Error(fmt::format("{}: open {}: {}", call, request.upload_file.string(), std::strerror(errno)));
    ctx.upload = upload.get();
    std::error_code ec;
    auto size = std::filesystem::file_size(request.upload_file, ec);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &ctx);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(size));
  } else if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(h);
  if (ctx.sink_error)
    std::rethrow_exception(ctx.sink_error);
  if (rc != CURLE_OK) {
    std::string cause = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    // TLS 1.3: a server refusing the client's certificate says so on the first read.
    bool tls_failed = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
                      rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE ||
                      (endpoint.kind == DockerEndpoint::Kind::https && rc == CURLE_RECV_ERROR &&
                       cause.find("certificate") != std::string::npos);
    auto kind = rc == CURLE_COULDNT_CONNECT || tls_failed ? TransportError::Kind::connect
                : rc == CURLE_OPERATION_TIMEDOUT      ? TransportError::Kind::timeout
                : rc == CURLE_ABORTED_BY_CALLBACK     ? TransportError::Kind::aborted
                                                      : TransportError::Kind::broken;
    if (rc == CURLE_PEER_FAILED_VERIFICATION)
      cause += fmt::format("; the server's certificate must be signed by the CA in {} (DOCKER_CERT_PATH/ca.pem) and "
                           "name the host of {} (subjectAltName DNS or IP)",
                           endpoint.ca, endpoint.describe());
    else if (tls_failed)
      cause += "; check that the engine speaks TLS (dockerd --tlsverify) and accepts the client certificate in "
               "DOCKER_CERT_PATH (cert.pem, key.pem, signed by the CA dockerd's --tlscacert names)";
    throw TransportError(fmt::format("{}: {} ({})", call, cause, endpoint.describe()), kind);
  }
  response.status = status_of(h);
  return response;
}

EngineClient::EngineClient(DockerEndpoint endpoint) : m_endpoint(std::move(endpoint)), m_prefix("") {}

EngineClient::~EngineClient() {
  abort_all();
  m_pool.join();
}

std::shared_ptr<Transfer> EngineClient::start(HttpRequest request, asio::any_io_executor executor) {
  auto transfer = std::make_shared<Transfer>(executor);
  transfer->request = std::move(request);
  {
    std::lock_guard lock(m_mutex);
    m_in_flight.insert(transfer);
  }
  // The waiter's io_context keeps running until the transfer has reported back (aborted
  // transfers end within about a second), so the completion never reaches a dead context.
  auto work = asio::make_work_guard(executor);
  asio::post(m_pool, [this, transfer, work = std::move(work)]() mutable {
    try {
      transfer->response = perform_request(m_endpoint, transfer->request, transfer->abort);
    } catch (...) {
      transfer->error = std::current_exception();
    }
    {
      std::lock_guard lock(m_mutex);
      m_in_flight.erase(transfer);
    }
    // Done is published on the waiter's executor, the only thread that reads it.
    asio::post(transfer->signal.get_executor(), [transfer] {
      transfer->done = true;
      transfer->signal.cancel();
    });
    work.reset();
  });
  return transfer;
}

awaitable<void> EngineClient::wait(std::shared_ptr<Transfer> transfer) {
  while (!transfer->done) {
    boost::system::error_code ec;
    co_await transfer->signal.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!transfer->done) // the wait itself was cancelled
      throw_cancellation();
  }
}

awaitable<HttpResponse> EngineClient::send(HttpRequest request) {
  auto transfer = start(std::move(request), co_await asio::this_coro::executor);
  AbortUnlessDone guard{*transfer};
  co_await wait(transfer);
  if (transfer->error)
    std::rethrow_exception(transfer->error);
  co_return std::move(transfer->response);
}

std::string EngineClient::check(const HttpRequest& request, HttpResponse response) const {
  if ((response.status >= 200 && response.status < 300) || response.status == 304)
    return std::move(response.body);
  throw EngineError(engine_error_message(request.method + " " + request.path, response.status, response.body),
                    response.status);
}

awaitable<std::string> EngineClient::call(std::string_view method, std::string_view path, std::string_view body,
                                          std::chrono::milliseconds timeout) {
  HttpRequest request;
  request.method = std::string(method);
  request.path = versioned(path);
  request.body = std::string(body);
  request.timeout = timeout;
  HttpRequest copy = request;
  auto response = co_await send(std::move(copy));
  co_return check(request, std::move(response));
}

std::string EngineClient::call_blocking(const std::string& method, const std::string& path, const std::string& body,
                                        std::chrono::milliseconds timeout) {
  HttpRequest request;
  request.method = method;
  request.path = versioned(path);
  request.body = body;
  request.timeout = timeout;
  std::atomic<bool> never{false};
  return check(request, perform_request(m_endpoint, request, never));
}

void EngineClient::abort_all() {
  std::lock_guard lock(m_mutex);
  for (auto& t : m_in_flight)
    t->abort = true;
}

} // namespace virtbench::docker
