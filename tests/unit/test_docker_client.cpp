// The libcurl layer of the docker driver against a fake engine on a Unix socket that
// answers with recorded bytes: statuses become EngineError, a missing engine a
// TransportError naming the socket, and a cancelled wait aborts the transfer promptly.
#include "drivers/docker/engine_client.hpp"
#include "drivers/docker/protocol.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <thread>

using namespace virtbench;
using namespace virtbench::docker;
using virtbench::test::data_file;
using virtbench::test::run_sync;

namespace {

// Accepts connections on a Unix socket and answers each with `response` (or nothing, holding
// the connection open until destroyed, when `response` is empty).
class FakeEngine {
public:
  explicit FakeEngine(std::string response) : m_dir(std::filesystem::temp_directory_path(), "vb-fake-engine-"),
                                              m_response(std::move(response)) {
    m_path = (m_dir.path() / "docker.sock").string();
    m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", m_path.c_str());
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(m_fd, 8) == 0);
    m_thread = std::thread([this] { serve(); });
  }
  ~FakeEngine() {
    m_stop = true;
    ::shutdown(m_fd, SHUT_RDWR);
    m_thread.join();
    ::close(m_fd);
  }
  const std::string& path() const { return m_path; }
  std::string last_request() {
    std::lock_guard lock(m_mutex);
    return m_request;
  }

private:
  void serve() {
    while (!m_stop) {
      int c = ::accept4(m_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        return;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        auto n = ::read(c, buf, sizeof buf);
        if (n <= 0)
          break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(m_mutex);
        m_request = request;
      }
      if (m_response.empty()) {
        while (!m_stop)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
      } else {
        // In small writes, so the client sees frames and headers split across reads.
        for (std::size_t i = 0; i < m_response.size(); i += 333)
          if (::write(c, m_response.data() + i, std::min<std::size_t>(333, m_response.size() - i)) < 0)
            break;
      }
      ::close(c);
    }
  }

  TempDir m_dir;
  std::string m_path;
  std::string m_response;
  int m_fd = -1;
  std::atomic<bool> m_stop{false};
  std::mutex m_mutex;
  std::string m_request;
  std::thread m_thread;
};

std::string http_response(const std::string& status_line, const std::string& content_type, const std::string& body) {
  return "HTTP/1.1 " + status_line + "\r\nApi-Version: 1.41\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

} // namespace

TEST_CASE("no engine on the socket: a TransportError that names the socket") {
  EngineClient client(DockerEndpoint::unix_socket_at("/nonexistent/virtbench-test/docker.sock"));
  HttpRequest ping;
  ping.path = "/_ping";
  try {
    run_sync(client.send(std::move(ping)));
    FAIL("expected a TransportError");
  } catch (const TransportError& e) {
    CHECK(e.kind() == TransportError::Kind::connect);
    CHECK(std::string(e.what()).find("GET /_ping") != std::string::npos);
    CHECK(std::string(e.what()).find("/nonexistent/virtbench-test/docker.sock") != std::string::npos);
  }
}

TEST_CASE("an engine error status becomes EngineError with the versioned call and the engine's message") {
  FakeEngine engine(http_response("404 Not Found", "application/json", data_file("docker/1.41/error-404-no-such-container.json")));
  EngineClient client(DockerEndpoint::unix_socket_at(engine.path()));
  client.set_api_version("1.41");
  try {
    run_sync(client.call("GET", "/containers/no-such-container/json"));
    FAIL("expected an EngineError");
  } catch (const EngineError& e) {
    CHECK(e.status() == 404);
    CHECK(std::string(e.what()) ==
          "GET /v1.41/containers/no-such-container/json: HTTP 404 (not found): No such container: no-such-container");
  }
  CHECK(engine.last_request().starts_with("GET /v1.41/containers/no-such-container/json HTTP/1.1\r\n"));
}

TEST_CASE("an exec stream arriving in pieces reaches the decoder whole") {
  auto body = data_file("docker/1.41/exec-start-interleaved.bin");
  FakeEngine engine(http_response("200 OK", "application/vnd.docker.raw-stream", body));
  EngineClient client(DockerEndpoint::unix_socket_at(engine.path()));
  auto decoder = std::make_shared<StreamDecoder>();
  HttpRequest start;
  start.method = "POST";
  start.path = "/v1.41/exec/abc/start";
  start.body = R"({"Detach":false,"Tty":false})";
  start.on_data = [decoder](std::string_view bytes) { decoder->feed(bytes); };
  auto r = run_sync(client.send(std::move(start)));
  CHECK(r.status == 200);
  CHECK(r.body.empty());
  decoder->finish();
  CHECK(decoder->err() == "err1\nerr2\n");
  CHECK(decoder->out().size() > 100000);
  CHECK(engine.last_request().find("Expect:") == std::string::npos); // no 100-continue stall
}

TEST_CASE("cancelling the wait aborts a transfer the engine never answers, within about a second") {
  FakeEngine engine(""); // accepts, never answers
  auto client = std::make_unique<EngineClient>(DockerEndpoint::unix_socket_at(engine.path()));
  HttpRequest stuck;
  stuck.path = "/v1.41/containers/x/stats";
  stuck.timeout = std::chrono::seconds(60);
  auto started = std::chrono::steady_clock::now();
  auto race = [&]() -> awaitable<void> {
    auto r = co_await (client->send(std::move(stuck)) || sleep_for(std::chrono::milliseconds(300)));
    CHECK(r.index() == 1);
  };
  run_sync(race());
  // The transfer notices the abort at its next progress callback; the client's destructor
  // (which joins its threads) must not wait for the 60 s timeout.
  client.reset();
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(waited < 2.0);
}
