// QmpClient against an in-process fake QMP server on a Unix socket.
#include "drivers/qemu/qmp_client.hpp"
#include "test_qemu_fake_server.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

using namespace virtbench;
using namespace virtbench::qemu;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string k_greeting =
    R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "test"}, "capabilities": ["oob"]}})"
    "\r\n";

std::string reply(const json::object& cmd, const std::string& ret) {
  return "{\"return\": " + ret + ", \"id\": " + json::serialize(cmd.at("id")) + "}\r\n";
}

std::string event(const std::string& name) {
  return R"({"timestamp": {"seconds": 1795652257, "microseconds": 1}, "event": ")" + name + "\"}\r\n";
}

// Runs `body` against a fake QEMU whose answers `on_command` writes (a greeting is sent on
// connect, qmp_capabilities answered).
void with_fake_qmp(std::function<awaitable<void>(test::FakeUnixServer&, json::object)> on_command,
                   std::function<awaitable<void>(QmpClient&, test::FakeUnixServer&)> body) {
  TempDir dir(std::filesystem::temp_directory_path(), "vbtest-qmp-");
  auto path = (dir.path() / "qmp.sock").string();
  test::run_sync([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    test::FakeUnixServer server(ex, path, [&](test::FakeUnixServer& s, std::string line) -> awaitable<void> {
      auto cmd = json::parse(line).as_object();
      if (cmd.at("execute").as_string() == "qmp_capabilities")
        co_await s.send(reply(cmd, "{}"));
      else
        co_await on_command(s, cmd);
    });
    asio::co_spawn(ex, server.serve(), asio::detached);
    // The greeting goes out as soon as the client connects.
    asio::co_spawn(ex, [&]() -> awaitable<void> {
      while (server.connections() == 0)
        co_await sleep_for(1ms);
      co_await server.send(k_greeting);
    }, asio::detached);
    QmpClient client(ex);
    std::exception_ptr failure;
    try {
      co_await client.connect(path, 5s);
      co_await body(client, server);
    } catch (...) {
      failure = std::current_exception();
    }
    client.close("test over");
    co_await server.shutdown();
    if (failure)
      std::rethrow_exception(failure);
  }());
}

} // namespace

TEST_CASE("QMP client: greeting, negotiation, a command and its reply") {
  with_fake_qmp(
      [](test::FakeUnixServer& s, json::object cmd) -> awaitable<void> {
        co_await s.send(reply(cmd, R"({"status": "running", "running": true})"));
      },
      [](QmpClient& c, test::FakeUnixServer& s) -> awaitable<void> {
        CHECK(c.greeting().at("version").at("qemu").at("major").as_int64() == 7);
        std::string cmd = "query-status";
        auto r = co_await c.execute(cmd);
        CHECK(r.at("status").as_string() == "running");
        REQUIRE(s.lines.size() == 2);
        CHECK(json::parse(s.lines[0]).at("execute").as_string() == "qmp_capabilities");
      });
}

TEST_CASE("QMP client: events arriving between a command and its reply are recorded, the reply still matched") {
  with_fake_qmp(
      [](test::FakeUnixServer& s, json::object cmd) -> awaitable<void> {
        co_await s.send(event("STOP"));
        co_await s.send(event("BLOCK_IO_ERROR"));
        co_await s.send(reply(cmd, "{}"));
        co_await s.send(event("RESUME"));
      },
      [](QmpClient& c, test::FakeUnixServer&) -> awaitable<void> {
        std::vector<std::string> seen;
        c.on_event([&](const QmpEvent& e) { seen.push_back(e.name); });
        std::string cmd = "stop";
        auto r = co_await c.execute(cmd);
        CHECK(r.is_object());
        co_await sleep_for(20ms); // the RESUME after the reply
        REQUIRE(c.events().size() == 3);
        CHECK(c.events()[0].name == "STOP");
        CHECK(c.events()[1].name == "BLOCK_IO_ERROR");
        CHECK(c.events()[2].name == "RESUME");
        CHECK(seen == std::vector<std::string>{"STOP", "BLOCK_IO_ERROR", "RESUME"});
      });
}

TEST_CASE("QMP client: a reply split across reads, with a pause in between") {
  with_fake_qmp(
      [](test::FakeUnixServer& s, json::object cmd) -> awaitable<void> {
        auto r = reply(cmd, R"({"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian"})");
        co_await s.send(r.substr(0, 10));
        co_await sleep_for(30ms);
        co_await s.send(r.substr(10, 20));
        co_await sleep_for(30ms);
        co_await s.send(r.substr(30));
      },
      [](QmpClient& c, test::FakeUnixServer&) -> awaitable<void> {
        std::string cmd = "query-version";
        auto r = co_await c.execute(cmd);
        CHECK(r.at("package").as_string() == "Debian");
      });
}

TEST_CASE("QMP client: a garbled line is skipped and kept for diagnostics") {
  with_fake_qmp(
      [](test::FakeUnixServer& s, json::object cmd) -> awaitable<void> {
        co_await s.send("\x01\x02 garbage {{{\r\n");
        co_await s.send(reply(cmd, "42"));
      },
      [](QmpClient& c, test::FakeUnixServer&) -> awaitable<void> {
        std::string cmd = "query-kvm";
        auto r = co_await c.execute(cmd);
        CHECK(r.as_int64() == 42);
        REQUIRE(c.garbled_lines().size() == 1);
        CHECK(c.garbled_lines()[0].find("garbage") != std::string::npos);
      });
}

TEST_CASE("QMP client: an error reply is a QmpCommandError naming the command and QEMU's class") {
  with_fake_qmp(
      [](test::FakeUnixServer& s, json::object cmd) -> awaitable<void> {
        co_await s.send("{\"id\": " + json::serialize(cmd.at("id")) +
                        R"(, "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}})"
                        "\r\n");
      },
      [](QmpClient& c, test::FakeUnixServer&) -> awaitable<void> {
        std::string cmd = "nope";
        std::string what, cls;
        try {
          co_await c.execute(cmd);
        } catch (const QmpCommandError& e) {
          what = e.what();
          cls = e.error_class();
        }
        CHECK(what == "QMP nope: CommandNotFound: The command nope has not been found");
        CHECK(cls == "CommandNotFound");
      });
}

TEST_CASE("QMP client: no reply is a timeout; the late reply is ignored and the next command works") {
  json::object* held = nullptr;
  json::object first;
  with_fake_qmp(
      [&](test::FakeUnixServer& s, json::object cmd) -> awaitable<void> {
        if (cmd.at("execute").as_string() == "query-status") {
          first = cmd; // answered late, together with the next one
          held = &first;
          co_return;
        }
        co_await s.send(reply(*held, R"("stale")"));
        co_await s.send(reply(cmd, R"("fresh")"));
      },
      [](QmpClient& c, test::FakeUnixServer&) -> awaitable<void> {
        std::string cmd = "query-status";
        auto t0 = std::chrono::steady_clock::now();
        std::string what;
        try {
          co_await c.execute(cmd, {}, 150ms);
        } catch (const QmpTimeout& e) { // its own class: the qemu platform then checks QEMU's liveness
          what = e.what();
        }
        CHECK(what.find("no reply within 0.15 s") != std::string::npos);
        CHECK(std::chrono::steady_clock::now() - t0 < 2s);
        std::string next = "query-version";
        auto r = co_await c.execute(next);
        CHECK(r.as_string() == "fresh");
      });
}

TEST_CASE("QMP client: QEMU going away fails the waiting command at once, and later ones too") {
  with_fake_qmp(
      [](test::FakeUnixServer& s, json::object) -> awaitable<void> {
        co_await s.send(event("SHUTDOWN"));
        s.disconnect();
      },
      [](QmpClient& c, test::FakeUnixServer&) -> awaitable<void> {
        std::string cmd = "quit";
        auto t0 = std::chrono::steady_clock::now();
        std::string what;
        try {
          co_await c.execute(cmd, {}, 30s);
        } catch (const Error& e) {
          what = e.what();
        }
        CHECK(what.find("closed by QEMU") != std::string::npos);
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
        CHECK(c.events().back().name == "SHUTDOWN");
        CHECK_FALSE(c.is_open());
        std::string again = "query-status";
        CHECK_THROWS_AS(co_await c.execute(again), Error);
      });
}

TEST_CASE("QMP client: a line of 100 MiB without a newline closes the socket with an error, in bounded memory") {
  const std::string mib(1 << 20, 'x');
  std::size_t peak = 0;
  std::string what;
  with_fake_qmp(
      [&](test::FakeUnixServer& s, json::object) -> awaitable<void> {
        for (int i = 0; i < 100; ++i)
          co_await s.send(mib); // fails quietly once the client has closed
      },
      [&](QmpClient& c, test::FakeUnixServer&) -> awaitable<void> {
        auto base = test::reset_peak_rss();
        std::string cmd = "query-status";
        try {
          co_await c.execute(cmd, {}, 30s);
        } catch (const Error& e) {
          what = e.what();
        }
        peak = test::peak_rss_growth_mib(base);
        CHECK_FALSE(c.is_open());
      });
  CHECK(what.find("QEMU sent a line of more than 8 MiB without a newline") != std::string::npos);
  CHECK(peak < test::k_rss_budget_mib);
}
