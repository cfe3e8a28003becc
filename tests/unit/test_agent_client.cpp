// The guest-agent client (UnixAgentTransport + GuestAgent) against an in-process fake
// qemu-ga on a Unix socket that behaves like the real one where it matters: 0xFF handling,
// id echo, guest-exec/-status, file handles, and the misbehaviours a test asks for.
#include "drivers/vm/agent.hpp"
#include "test_qemu_fake_server.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <map>

using namespace virtbench;
using namespace virtbench::vm;
using namespace std::chrono_literals;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

struct FakeAgent {
  // Knobs.
  int ignore_next = 0;                 // leave this many commands unanswered (answered late, before the next sync)
  Clock::time_point deaf_until{};      // ignore syncs until then (a guest still booting)
  int polls_before_exit = 2;
  bool hang = false;                   // guest-exec'd processes never exit (until killed)
  bool truncate_first = false;         // the first exec's output is beyond the capture limit
  std::string out = "hello\n", err = "", full_out;
  int exitcode = 0;
  std::size_t read_chunk = 7;          // guest-file-read hands out this many bytes at most
  std::chrono::milliseconds answer_delay{0};
  std::map<std::string, std::string> files; // guest files that can be read

  // What happened.
  int syncs = 0;
  int garbled_received = 0;
  std::vector<json::object> commands;
  std::vector<std::vector<std::string>> execs;
  std::map<std::string, std::string> written;
  std::vector<std::int64_t> killed;
  std::vector<std::int64_t> instant;

  std::string stale; // an answer held back, sent before the next sync's delimiter
  int next_pid = 100;
  std::map<std::int64_t, int> polls;
  std::map<std::int64_t, std::pair<std::string, std::size_t>> handles; // handle -> (content, offset) / write target
  std::map<std::int64_t, std::string> write_paths;
  std::int64_t next_handle = 1000;
  bool truncated_once = false;
  int flood_mib = 0;  // > 0: the next command's answer is 100 MiB without a newline
  int flood_rest = 0; // MiB of it not yet sent when the client hung up: qemu-ga goes on
                      // writing them, so the next connection gets them before its sync answer
  int flood_resent = 0; // MiB of it sent on a later connection

  awaitable<void> handle(test::FakeUnixServer& s, std::string line) {
    bool delimited = false;
    while (!line.empty() && line.front() == '\xff') {
      line.erase(0, 1);
      delimited = true;
    }
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      ++garbled_received;
      co_await s.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\n");
      co_return;
    }
    auto cmd = v.as_object();
    auto execute = std::string(cmd.at("execute").as_string());
    if (execute == "guest-sync-delimited") {
      ++syncs;
      if (Clock::now() < deaf_until)
        co_return;
      for (const std::string mib(1 << 20, 'x'); flood_rest > 0; --flood_rest)
        flood_resent += co_await s.send(mib);
      std::string answer = std::exchange(stale, "");
      if (delimited) // qemu-ga chokes on the 0xFF first
        answer += "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\n";
      answer += "\xff{\"return\": " + json::serialize(cmd.at("arguments").at("id")) + "}\n";
      co_await s.send(answer);
      co_return;
    }
    commands.push_back(cmd);
    if (std::exchange(flood_mib, 0) > 0) { // this answer never ends: MiB after MiB, no newline
      const std::string mib(1 << 20, 'x');
      for (int i = 0; i < 100; ++i)
        if (!co_await s.send(mib)) {
          flood_rest = 100 - i - 1; // QEMU drops what arrives while no client is connected
          break;
        }
      co_return;
    }
    auto answer = answer_for(execute, cmd);
    if (cmd.contains("id"))
      answer["id"] = cmd.at("id");
    auto bytes = json::serialize(answer) + "\n";
    if (ignore_next > 0) {
      --ignore_next;
      stale += bytes;
      co_return;
    }
    if (answer_delay.count())
      co_await sleep_for(answer_delay);
    co_await s.send(bytes);
  }

  json::object answer_for(const std::string& execute, const json::object& cmd) {
    json::object args;
    if (auto* a = cmd.if_contains("arguments"))
      args = a->as_object();
    auto ok = [](json::value v) { return json::object{{"return", std::move(v)}}; };
    if (execute == "guest-ping")
      return ok(json::object{});
    if (execute == "guest-info")
      return ok(json::object{{"version", "7.2.22"}});
    if (execute == "guest-exec") {
      std::vector<std::string> argv{std::string(args.at("path").as_string())};
      if (auto* a = args.if_contains("arg"))
        for (auto& x : a->as_array())
          argv.push_back(std::string(x.as_string()));
      execs.push_back(argv);
      auto pid = next_pid++;
      if (argv.size() == 5 && argv[2] == "kill -9 \"$1\"") {
        killed.push_back(std::stoll(argv[4]));
        instant.push_back(pid); // the kill itself exits at once
      }
      return ok(json::object{{"pid", pid}});
    }
    if (execute == "guest-exec-status") {
      auto pid = args.at("pid").as_int64();
      auto n = ++polls[pid];
      bool was_killed = std::find(killed.begin(), killed.end(), pid) != killed.end();
      if (was_killed)
        return ok(json::object{{"exited", true}, {"signal", 9}});
      if (std::find(instant.begin(), instant.end(), pid) != instant.end())
        return ok(json::object{{"exited", true}, {"exitcode", 0}});
      if (n < polls_before_exit || (hang && n > 0))
        return ok(json::object{{"exited", false}});
      json::object st{{"exited", true}, {"exitcode", exitcode}};
      if (truncate_first && !truncated_once) {
        truncated_once = true;
        st["out-data"] = base64_encode(full_out.substr(0, 16));
        st["out-truncated"] = true;
        return ok(st);
      }
      if (!out.empty())
        st["out-data"] = base64_encode(out);
      if (!err.empty())
        st["err-data"] = base64_encode(err);
      st["out-truncated"] = false;
      st["err-truncated"] = false;
      return ok(st);
    }
    if (execute == "guest-file-open") {
      auto path = std::string(args.at("path").as_string());
      auto mode = std::string(args.at("mode").as_string());
      if (mode == "r" && !files.count(path))
        return {{"error", {{"class", "GenericError"}, {"desc", "failed to open file '" + path + "'"}}}};
      auto h = next_handle++;
      handles[h] = {mode == "r" ? files[path] : std::string(), 0};
      if (mode != "r")
        write_paths[h] = path;
      return ok(h);
    }
    if (execute == "guest-file-read") {
      auto& [content, offset] = handles.at(args.at("handle").as_int64());
      auto n = std::min<std::size_t>({read_chunk, content.size() - offset,
                                      static_cast<std::size_t>(args.at("count").as_int64())});
      auto chunk = content.substr(offset, n);
      offset += n;
      return ok(json::object{{"count", n}, {"buf-b64", base64_encode(chunk)}, {"eof", offset == content.size()}});
    }
    if (execute == "guest-file-write") {
      auto h = args.at("handle").as_int64();
      auto data = base64_decode(args.at("buf-b64").as_string());
      written[write_paths.at(h)] += data;
      return ok(json::object{{"count", data.size()}, {"eof", false}});
    }
    if (execute == "guest-file-close") {
      handles.erase(args.at("handle").as_int64());
      return ok(json::object{});
    }
    return {{"error", {{"class", "CommandNotFound"}, {"desc", "The command " + execute + " has not been found"}}}};
  }
};

AgentTimeouts fast_timeouts() {
  AgentTimeouts t;
  t.call = 2s;
  t.poll_min = 1ms;
  t.poll_max = 5ms;
  return t;
}

void with_fake_agent(FakeAgent& fake,
                     std::function<awaitable<void>(UnixAgentTransport&, GuestAgent&, test::FakeUnixServer&)> body,
                     AgentTimeouts timeouts = fast_timeouts()) {
  TempDir dir(std::filesystem::temp_directory_path(), "vbtest-qga-");
  auto path = (dir.path() / "qga.sock").string();
  test::run_sync([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    test::FakeUnixServer server(ex, path, [&](test::FakeUnixServer& s, std::string line) {
      return fake.handle(s, std::move(line));
    });
    asio::co_spawn(ex, server.serve(), asio::detached);
    UnixAgentTransport transport(ex, path);
    GuestAgent agent(transport, timeouts);
    std::exception_ptr failure;
    try {
      co_await body(transport, agent, server);
    } catch (...) {
      failure = std::current_exception();
    }
    transport.close("test over");
    co_await server.shutdown();
    if (failure)
      std::rethrow_exception(failure);
  }());
  CHECK(fake.garbled_received == 0);
}

json::object command(const char* execute) { return {{"execute", execute}}; }

} // namespace

TEST_CASE("agent: the first call syncs with 0xFF + guest-sync-delimited, then the command goes out with an id") {
  FakeAgent fake;
  with_fake_agent(fake, [&](UnixAgentTransport& t, GuestAgent&, test::FakeUnixServer& s) -> awaitable<void> {
    auto r = co_await t.call(command("guest-info"), 2s);
    CHECK(r.at("version").as_string() == "7.2.22");
    CHECK(fake.syncs == 1);
    REQUIRE(s.lines.size() == 2);
    CHECK(s.lines[0].front() == '\xff');
    CHECK(fake.commands.at(0).contains("id"));
    // In sync now: the next call needs no sync.
    co_await t.call(command("guest-ping"), 2s);
    CHECK(fake.syncs == 1);
  });
}

TEST_CASE("agent: an agent that does not answer times out; the next call resyncs and skips the late answer") {
  FakeAgent fake;
  fake.ignore_next = 1;
  with_fake_agent(fake, [&](UnixAgentTransport& t, GuestAgent&, test::FakeUnixServer&) -> awaitable<void> {
    auto t0 = Clock::now();
    std::string what;
    try {
      co_await t.call(command("guest-ping"), 200ms);
    } catch (const AgentTimeout& e) {
      what = e.what();
    }
    CHECK(what.find("guest-ping") != std::string::npos);
    CHECK(what.find("no answer within the timeout") != std::string::npos);
    CHECK(Clock::now() - t0 < 2s);
    auto r = co_await t.call(command("guest-info"), 2s);
    CHECK(r.at("version").as_string() == "7.2.22"); // not the late {} of guest-ping
    CHECK(fake.syncs == 2);
  });
}

TEST_CASE("agent: waiting for a booting guest keeps syncing; answers to the early syncs are skipped") {
  FakeAgent fake;
  fake.deaf_until = Clock::now() + 300ms;
  with_fake_agent(fake, [&](UnixAgentTransport& t, GuestAgent& agent, test::FakeUnixServer&) -> awaitable<void> {
    auto s = co_await agent.wait_until_ready(5s, 50ms);
    CHECK(s >= 0.25);
    CHECK(s < 3);
    CHECK(fake.syncs >= 3);
    auto r = co_await t.call(command("guest-ping"), 2s);
    CHECK(r.is_object());
  });
}

TEST_CASE("agent: a guest that never answers is an AgentTimeout after the limit") {
  FakeAgent fake;
  fake.deaf_until = Clock::now() + 1h;
  with_fake_agent(fake, [&](UnixAgentTransport&, GuestAgent& agent, test::FakeUnixServer&) -> awaitable<void> {
    auto t0 = Clock::now();
    bool timed_out = false;
    try {
      co_await agent.wait_until_ready(300ms, 50ms);
    } catch (const AgentTimeout&) {
      timed_out = true;
    }
    CHECK(timed_out);
    CHECK(Clock::now() - t0 < 2s);
  });
}

TEST_CASE("agent: exec polls guest-exec-status until exited and decodes the output; cwd goes through env -C") {
  FakeAgent fake;
  fake.polls_before_exit = 4;
  fake.out = "sysbench 1.0.20\n";
  fake.err = "warning\n";
  fake.exitcode = 3;
  with_fake_agent(fake, [&](UnixAgentTransport&, GuestAgent& agent, test::FakeUnixServer&) -> awaitable<void> {
    std::vector<std::string> argv{"sysbench", "--version", "a b;$(x)"};
    auto r = co_await agent.exec(argv, "/scratch", 5s);
    CHECK(r.exit_code == 3);
    CHECK(r.out == "sysbench 1.0.20\n");
    CHECK(r.err == "warning\n");
    CHECK_FALSE(r.timed_out);
    CHECK(r.wall_s > 0);
    REQUIRE(fake.execs.size() == 1);
    CHECK(fake.execs[0] == std::vector<std::string>{"env", "-C", "/scratch", "--", "sysbench", "--version", "a b;$(x)"});
    CHECK(fake.polls[100] == 4);
  });
}

TEST_CASE("agent: exec past its timeout kills the guest process with kill -9 and says timed_out") {
  FakeAgent fake;
  fake.hang = true;
  with_fake_agent(fake, [&](UnixAgentTransport&, GuestAgent& agent, test::FakeUnixServer&) -> awaitable<void> {
    std::vector<std::string> argv{"sleep", "1000"};
    auto t0 = Clock::now();
    auto r = co_await agent.exec(argv, "", 200ms);
    CHECK(r.timed_out);
    CHECK(r.exit_code == -1);
    CHECK(Clock::now() - t0 < 3s);
    REQUIRE(fake.killed.size() == 1);
    CHECK(fake.killed[0] == 100);
    CHECK(fake.execs.at(1) == std::vector<std::string>{"sh", "-c", "kill -9 \"$1\"", "sh", "100"});
  });
}

TEST_CASE("agent: output cut at the capture limit is an error, and the command never runs a second time") {
  FakeAgent fake;
  fake.truncate_first = true;
  fake.full_out = fmt::format("{}END\n", std::string(100, 'x'));
  with_fake_agent(fake, [&](UnixAgentTransport&, GuestAgent& agent, test::FakeUnixServer&) -> awaitable<void> {
    std::vector<std::string> argv{"sysbench", "fileio", "prepare"}; // side effects: must not run twice
    std::string message;
    try {
      co_await agent.exec(argv, "/scratch", 5s);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK(message.find("guest-exec sysbench: its output passed the guest agent's 16 MiB capture limit") !=
          std::string::npos);
    CHECK(message.find("ran once and was not run again") != std::string::npos);
    REQUIRE(fake.execs.size() == 1);
    CHECK(fake.execs[0].back() == "prepare");
  });
}

TEST_CASE("agent: a guest file larger than 64 MiB is refused instead of read into memory") {
  FakeAgent fake;
  fake.files["/scratch/huge"] = std::string((64 << 20) + 1, 'y');
  fake.read_chunk = 65536; // what the client asks for: 1025 reads to pass the limit
  with_fake_agent(fake, [&](UnixAgentTransport&, GuestAgent& agent, test::FakeUnixServer&) -> awaitable<void> {
    std::string path = "/scratch/huge", message;
    try {
      co_await agent.read_file(path);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK(message == "guest-file-read /scratch/huge: the file is larger than 64 MiB, more than virtbench reads from "
                     "a guest");
    CHECK(fake.handles.empty()); // closed after the refusal
  });
}

TEST_CASE("agent: read_file reads in chunks until eof and closes the handle; write_file sends base64") {
  FakeAgent fake;
  fake.files["/proc/stat"] = "cpu  180 0 734 505 10 0 69 0 0 0\ncpu0 80 0 367 267 4 0 34 0 0 0\n";
  with_fake_agent(fake, [&](UnixAgentTransport&, GuestAgent& agent, test::FakeUnixServer&) -> awaitable<void> {
    std::string path = "/proc/stat";
    auto text = co_await agent.read_file(path);
    CHECK(text == fake.files["/proc/stat"]);
    CHECK(fake.handles.empty());
    std::string drop = "/proc/sys/vm/drop_caches", three = "3";
    co_await agent.write_file(drop, three);
    CHECK(fake.written["/proc/sys/vm/drop_caches"] == "3");
    auto write = std::find_if(fake.commands.begin(), fake.commands.end(),
                              [](auto& c) { return c.at("execute").as_string() == "guest-file-write"; });
    REQUIRE(write != fake.commands.end());
    CHECK(write->at("arguments").at("buf-b64").as_string() == "Mw==");
    CHECK(fake.handles.empty());
    std::string missing = "/no/such/file";
    CHECK_THROWS_WITH_AS(co_await agent.read_file(missing), doctest::Contains("failed to open file '/no/such/file'"),
                         AgentCommandError);
  });
}

TEST_CASE("agent: concurrent callers queue; requests never interleave on the socket") {
  FakeAgent fake;
  fake.polls_before_exit = 10;
  fake.answer_delay = 1ms;
  fake.files["/proc/stat"] = std::string(200, 's');
  with_fake_agent(fake, [&](UnixAgentTransport&, GuestAgent& agent, test::FakeUnixServer& s) -> awaitable<void> {
    // The runner's shape: sysbench through guest-exec while the sampler reads /proc/stat.
    std::vector<std::string> argv{"sysbench", "cpu", "run"};
    GuestExecResult result;
    int reads = 0;
    auto workload = [&]() -> awaitable<void> { result = co_await agent.exec(argv, "", 5s); };
    auto sampler = [&]() -> awaitable<void> {
      for (int i = 0; i < 10; ++i) {
        std::string path = "/proc/stat";
        if (co_await agent.read_file(path) == fake.files["/proc/stat"])
          ++reads;
      }
    };
    co_await (workload() && sampler());
    CHECK(result.exit_code == 0);
    CHECK(result.out == "hello\n");
    CHECK(reads == 10);
    CHECK(s.pipelined == 0);
    CHECK(fake.garbled_received == 0);
  });
}

TEST_CASE("agent: behind a call that gets no answer (a hung guest), the next call fails at its own deadline") {
  FakeAgent fake;
  with_fake_agent(fake, [&](UnixAgentTransport& t, GuestAgent&, test::FakeUnixServer&) -> awaitable<void> {
    co_await t.sync(2s);
    fake.ignore_next = 1000; // the guest stops answering
    auto t0 = Clock::now();
    std::string first, second;
    auto hung = [&]() -> awaitable<void> {
      try {
        co_await t.call(command("guest-ping"), 600ms);
      } catch (const AgentTimeout& e) {
        first = e.what();
      }
    };
    auto queued = [&]() -> awaitable<void> {
      try {
        co_await t.call(command("guest-info"), 300ms);
      } catch (const AgentTimeout& e) {
        second = e.what();
      }
    };
    auto second_done = t0;
    auto queued_timed = [&]() -> awaitable<void> {
      co_await queued();
      second_done = Clock::now();
    };
    co_await (hung() && queued_timed());
    CHECK(first.find("no answer within the timeout") != std::string::npos);
    // Its turn never came: it gives up 300 ms after it was made, not 300 ms after the first.
    CHECK(second.find("no turn on the channel") != std::string::npos);
    CHECK(second_done - t0 < 550ms);
    CHECK(Clock::now() - t0 < 2s);
  });
}

TEST_CASE("agent: a garbled line and an answer split across writes do not confuse the client") {
  FakeAgent fake;
  TempDir dir(std::filesystem::temp_directory_path(), "vbtest-qga-");
  auto path = (dir.path() / "qga.sock").string();
  test::run_sync([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    test::FakeUnixServer server(ex, path, [&](test::FakeUnixServer& s, std::string line) -> awaitable<void> {
      if (line.front() == '\xff')
        co_return co_await fake.handle(s, line);
      auto cmd = json::parse(line).as_object();
      auto answer = "{\"return\": {\"version\": \"split\"}, \"id\": " + json::serialize(cmd.at("id")) + "}\n";
      co_await s.send("%%% not json %%%\n");
      co_await s.send(answer.substr(0, 9));
      co_await sleep_for(20ms);
      co_await s.send(answer.substr(9));
    });
    asio::co_spawn(ex, server.serve(), asio::detached);
    UnixAgentTransport transport(ex, path);
    auto r = co_await transport.call(command("guest-info"), 2s);
    CHECK(r.at("version").as_string() == "split");
    CHECK(transport.garbled_count() == 1);
    transport.close("test over");
    co_await server.shutdown();
  }());
}

TEST_CASE("agent: closing the transport (QEMU exited) fails the call in flight at once") {
  FakeAgent fake;
  fake.ignore_next = 1000;
  with_fake_agent(fake, [&](UnixAgentTransport& t, GuestAgent&, test::FakeUnixServer&) -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, [&]() -> awaitable<void> {
      co_await sleep_for(100ms);
      t.close("QEMU exited (signal 9)");
    }, asio::detached);
    auto t0 = Clock::now();
    std::string what;
    try {
      co_await t.call(command("guest-ping"), 30s);
    } catch (const AgentTimeout&) {
      what = "timeout";
    } catch (const Error& e) {
      what = e.what();
    }
    CHECK(what.find("QEMU exited (signal 9)") != std::string::npos);
    CHECK(Clock::now() - t0 < 2s);
    CHECK_THROWS_WITH(co_await t.call(command("guest-ping"), 1s), doctest::Contains("QEMU exited (signal 9)"));
  });
}

TEST_CASE("agent: the QEMU side going away ends the call with an error, not a hang") {
  FakeAgent fake;
  with_fake_agent(fake, [&](UnixAgentTransport& t, GuestAgent&, test::FakeUnixServer& s) -> awaitable<void> {
    co_await t.call(command("guest-ping"), 2s);
    fake.ignore_next = 1;
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, [&]() -> awaitable<void> {
      co_await sleep_for(50ms);
      s.stop();
    }, asio::detached);
    std::string what;
    try {
      co_await t.call(command("guest-ping"), 10s);
    } catch (const Error& e) {
      what = e.what();
    }
    CHECK(what.find("closed by QEMU") != std::string::npos);
  });
}

TEST_CASE("agent: connecting honours the call's deadline: none left is an AgentTimeout, and no connection is made") {
  FakeAgent fake;
  with_fake_agent(fake, [&](UnixAgentTransport& t, GuestAgent&, test::FakeUnixServer& s) -> awaitable<void> {
    std::string what;
    try {
      co_await t.call(command("guest-ping"), 0ms);
    } catch (const AgentTimeout& e) {
      what = e.what();
    }
    CHECK(what.find("guest-ping") != std::string::npos);
    CHECK(what.find("no time left to connect within the timeout") != std::string::npos);
    CHECK(s.connections() == 0);
    CHECK(fake.syncs == 0);
    // With time left it connects.
    co_await t.call(command("guest-ping"), 2s);
    CHECK(s.connections() == 1);
  });
}

TEST_CASE("agent: connecting to a socket that is not there (QEMU not up yet) is an Error, not a timeout") {
  TempDir dir(std::filesystem::temp_directory_path(), "vbtest-qga-");
  auto path = (dir.path() / "missing.sock").string();
  test::run_sync([&]() -> awaitable<void> {
    UnixAgentTransport transport(co_await asio::this_coro::executor, path);
    std::string what;
    bool timeout = false;
    try {
      co_await transport.call(command("guest-ping"), 2s);
    } catch (const AgentTimeout&) {
      timeout = true;
    } catch (const Error& e) {
      what = e.what();
    }
    CHECK_FALSE(timeout);
    CHECK(what == "guest agent guest-ping on " + path + ": connect: No such file or directory");
  }());
}

TEST_CASE("agent: an answer of 100 MiB without a newline is an error in bounded memory that closes the socket") {
  FakeAgent fake;
  fake.flood_mib = 100;
  with_fake_agent(fake, [&](UnixAgentTransport& transport, GuestAgent&, test::FakeUnixServer& server) -> awaitable<void> {
    auto base = test::reset_peak_rss();
    json::object info{{"execute", "guest-info"}};
    std::string what;
    try {
      co_await transport.call(info, 30s);
    } catch (const Error& e) {
      what = e.what();
    }
    CHECK(test::peak_rss_growth_mib(base) < test::k_rss_budget_mib);
    CHECK(what.find("guest agent guest-info on ") == 0);
    CHECK(what.find(": a line of more than 48 MiB without a newline") != std::string::npos);
    // The next call connects again and syncs: the rest of the flood, which comes first on
    // the new connection, is skipped up to the sync's 0xFF in bounded memory, and the
    // call gets its own answer.
    auto syncs = fake.syncs;
    base = test::reset_peak_rss();
    auto r = co_await transport.call(info, 10s);
    CHECK(r.at("version").as_string() == "7.2.22");
    CHECK(fake.flood_resent > 10);
    CHECK(fake.syncs == syncs + 1);
    CHECK(server.connections() == 2);
    CHECK(test::peak_rss_growth_mib(base) < test::k_rss_budget_mib);
  });
}
