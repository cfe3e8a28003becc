// The guest-agent wire protocol on bytes recorded from a real qemu-ga 7.2
// (tests/data/qga/7.2/, see its README), and the pure parts of the operations.
#include "drivers/vm/agent_protocol.hpp"
#include "test_util.hpp"
#include "util/error.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

using namespace virtbench;
using namespace virtbench::vm;
using AgentKind = AgentMessage::Kind;
namespace json = boost::json;

namespace {
std::vector<AgentMessage> drain(AgentDecoder& d) {
  std::vector<AgentMessage> out;
  while (auto m = d.next())
    out.push_back(std::move(*m));
  return out;
}
} // namespace

TEST_CASE("recorded qemu-ga bytes: everything up to the first 0xFF is skipped after a sync") {
  auto bytes = test::data_file("qga/7.2/session.in");
  // The session opened with syncs sent while the guest was still booting: qemu-ga answered
  // each 0xFF with a parse error, then the sync itself after a 0xFF of its own.
  REQUIRE(bytes.find('\xff') != std::string::npos);
  CHECK(bytes.substr(0, 10) == "{\"error\": ");
  AgentDecoder d;
  d.expect_delimiter();
  d.feed(bytes);
  auto msgs = drain(d);
  REQUIRE(!msgs.empty());
  CHECK(msgs[0].kind == AgentKind::reply);
  CHECK(msgs[0].value.as_int64() == 1000);
  // Later sync answers start with 0xFF too; they decode as replies with their own number.
  std::vector<std::int64_t> syncs;
  for (auto& m : msgs)
    if (m.kind == AgentKind::reply && m.value.is_int64() && m.value.as_int64() >= 1000 && m.value.as_int64() < 2000)
      syncs.push_back(m.value.as_int64());
  CHECK(syncs.size() >= 2);
  CHECK(syncs[1] == 1001);
  // qemu-ga echoes a request's id.
  auto ping = std::find_if(msgs.begin(), msgs.end(), [](auto& m) { return m.id == 7u; });
  REQUIRE(ping != msgs.end());
  CHECK(ping->kind == AgentKind::reply);
  // An error answer (guest-file-open of a missing file) and none garbled.
  auto err = std::find_if(msgs.begin(), msgs.end(), [](auto& m) {
    return m.kind == AgentKind::error && m.value.at("desc").as_string().find("/no/such/file") != std::string::npos;
  });
  CHECK(err != msgs.end());
  CHECK(std::none_of(msgs.begin(), msgs.end(), [](auto& m) { return m.kind == AgentKind::garbled; }));
}

TEST_CASE("recorded guest-exec-status answers decode into exit code and output") {
  auto bytes = test::data_file("qga/7.2/session.in");
  AgentDecoder d;
  d.expect_delimiter();
  d.feed(bytes);
  std::vector<GuestExecStatus> exited;
  int running = 0;
  for (auto& m : drain(d)) {
    if (m.kind != AgentKind::reply || !m.value.is_object() || !m.value.as_object().contains("exited"))
      continue;
    auto s = parse_exec_status(m.value);
    if (s.exited)
      exited.push_back(s);
    else
      ++running;
  }
  CHECK(running >= 2);
  REQUIRE(exited.size() == 2);
  CHECK(exited[0].exit_code == 3);
  CHECK(exited[0].out == "out\n");
  CHECK(exited[0].err == "err\n");
  CHECK_FALSE(exited[0].out_truncated);
  CHECK(exited[1].exit_code == 0); // no output captured: no out-data at all
  CHECK(exited[1].out.empty());
}

TEST_CASE("a reply split anywhere, and a 0xFF split from its answer") {
  std::string bytes = "stale junk\n{\"return\": 5}\n\xff{\"return\": 77}\n{\"return\": {\"pid\": 9}, \"id\": 3}\n";
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    AgentDecoder d;
    d.expect_delimiter();
    d.feed(bytes.substr(0, cut));
    auto msgs = drain(d);
    d.feed(bytes.substr(cut));
    for (auto& m : drain(d))
      msgs.push_back(std::move(m));
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[0].value.as_int64() == 77);
    CHECK(msgs[1].id == 3u);
    CHECK(msgs[1].value.at("pid").as_int64() == 9);
  }
}

TEST_CASE("a garbled line comes out as such and the next one decodes") {
  AgentDecoder d;
  d.feed("{\"retu\n{\"return\": {}}\n");
  auto msgs = drain(d);
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].kind == AgentKind::garbled);
  CHECK(msgs[1].kind == AgentKind::reply);
}

TEST_CASE("commands and the sync are framed as qemu-ga expects") {
  json::object cmd{{"execute", "guest-ping"}};
  CHECK(encode_agent_command(cmd) == "{\"execute\":\"guest-ping\"}\n");
  CHECK(encode_sync_delimited(42) == "\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":42}}\n");
}

TEST_CASE("base64 both ways") {
  CHECK(base64_encode("3") == "Mw==");
  CHECK(base64_decode("Mw==") == "3");
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(base64_encode("abc") == "YWJj");
  std::string all;
  for (int i = 0; i < 256; ++i)
    all += static_cast<char>(i);
  CHECK(base64_decode(base64_encode(all)) == all);
  CHECK(base64_decode("b3V0Cg==") == "out\n");
  CHECK_THROWS_AS(base64_decode("b3*0"), Error);
}

TEST_CASE("guest-exec argv: the user's arguments are passed as they are, never through a shell") {
  std::vector<std::string> argv{"sysbench", "cpu", "$(rm -rf /)", "it's"};
  CHECK(guest_exec_argv(argv, "") == argv);
  auto with_cwd = guest_exec_argv(argv, "/scratch");
  CHECK(with_cwd == std::vector<std::string>{"env", "-C", "/scratch", "--", "sysbench", "cpu", "$(rm -rf /)", "it's"});

  auto cmd = guest_exec_command(with_cwd);
  CHECK(cmd.at("execute").as_string() == "guest-exec");
  auto& a = cmd.at("arguments").as_object();
  CHECK(a.at("path").as_string() == "env");
  CHECK(a.at("arg").as_array().size() == 7);
  CHECK(a.at("capture-output").as_bool());
}

TEST_CASE("exec status: a signal, truncation flags, and malformed answers") {
  auto s = parse_exec_status(json::parse(R"({"exited": true, "signal": 9, "out-truncated": true, "out-data": ""})"));
  CHECK(s.exited);
  CHECK(s.signal == 9);
  CHECK(s.exit_code == -1);
  CHECK(s.out_truncated);
  CHECK_FALSE(s.err_truncated);
  CHECK_FALSE(parse_exec_status(json::parse(R"({"exited": false})")).exited);
  CHECK_THROWS_AS(parse_exec_status(json::parse(R"({"pid": 3})")), Error);
  CHECK_THROWS_AS(parse_exec_status(json::parse("[]")), Error);
}

TEST_CASE("recorded guest-exec, guest-file-open and guest-file-read answers decode into pid, handle and data") {
  auto bytes = test::data_file("qga/7.2/session.in");
  AgentDecoder d;
  d.expect_delimiter();
  d.feed(bytes);
  std::vector<std::int64_t> pids;
  std::vector<GuestFileChunk> chunks;
  for (auto& m : drain(d)) {
    if (m.kind != AgentKind::reply || !m.value.is_object())
      continue;
    auto& o = m.value.as_object();
    if (o.contains("pid") && o.size() == 1)
      pids.push_back(parse_exec_started(m.value));
    if (o.contains("count"))
      chunks.push_back(parse_file_read("/proc/stat", m.value));
  }
  CHECK(pids == std::vector<std::int64_t>{166, 168});
  REQUIRE(chunks.size() >= 1);
  CHECK(chunks[0].count == 1106);
  CHECK(chunks[0].data.size() == 1106);
  CHECK(chunks[0].data.starts_with("cpu  "));
  CHECK(chunks[0].eof);
  // guest-file-open answers a bare number (the handle); ids are not handles.
  CHECK(parse_file_handle("/proc/stat", json::parse("1000")) == 1000);
}

TEST_CASE("malformed agent answers are Errors that say which command, which field and the answer") {
  CHECK_THROWS_WITH_AS(parse_exec_started(json::parse(R"({"pid": "9"})")),
                       R"(guest-exec: "pid" is not a whole number in the answer {"pid":"9"})", Error);
  CHECK_THROWS_WITH_AS(parse_exec_started(json::parse("{}")), R"(guest-exec: unexpected answer {} (no "pid"))", Error);
  CHECK_THROWS_WITH_AS(parse_file_handle("/etc/x", json::parse("1.5")),
                       "guest-file-open /etc/x: unexpected answer 1.5E0 (not a file handle)", Error);
  CHECK_THROWS_WITH_AS(parse_file_read("/etc/x", json::parse(R"({"count": 3, "buf-b64": 7})")),
                       R"(guest-file-read /etc/x: "buf-b64" is not a string in the answer {"count":3,"buf-b64":7})", Error);
  CHECK_THROWS_WITH_AS(parse_file_read("/etc/x", json::parse(R"({"count": 1, "buf-b64": "!!", "eof": true})")),
                       R"(guest-file-read /etc/x: "buf-b64": base64: invalid character in agent data)", Error);
  CHECK_THROWS_WITH_AS(parse_file_read("/etc/x", json::parse(R"({"count": 0, "eof": "yes"})")),
                       R"(guest-file-read /etc/x: "eof" is not true or false in the answer {"count":0,"eof":"yes"})", Error);
  // The end of a file: no buf-b64 at all.
  auto end = parse_file_read("/etc/x", json::parse(R"({"count": 0, "eof": true})"));
  CHECK(end.data.empty());
  CHECK(end.eof);
  CHECK_THROWS_WITH_AS(parse_exec_status(json::parse(R"({"exited": true, "exitcode": 1.5})")),
                       R"(guest-exec-status: "exitcode" is not a whole number in the answer {"exited":true,"exitcode":1.5E0})",
                       Error);
  CHECK_THROWS_WITH_AS(parse_exec_status(json::parse(R"({"exited": "no"})")),
                       R"(guest-exec-status: "exited" is not true or false in the answer {"exited":"no"})", Error);
}

TEST_CASE("agent decoder: a line past 48 MiB without a newline is an error; the decoder works on afterwards") {
  AgentDecoder d;
  const std::string chunk(16384, 'x');
  std::size_t fed = 0;
  std::string what;
  try {
    for (; fed < (100u << 20); fed += chunk.size())
      d.feed(chunk);
  } catch (const Error& e) {
    what = e.what();
  }
  CHECK(what.starts_with("a line of more than 48 MiB without a newline ("));
  CHECK(fed == k_agent_max_line); // refused at the first byte past the limit
  d.feed("{\"return\": {}, \"id\": 7}\n");
  auto m = d.next();
  REQUIRE(m);
  CHECK(m->kind == AgentMessage::Kind::reply);
  CHECK(m->id == 7u);
}

TEST_CASE("agent decoder: while resynchronising, stale output without 0xFF is dropped however long it is") {
  AgentDecoder d;
  d.expect_delimiter();
  const std::string chunk(16384, 'x');
  for (std::size_t fed = 0; fed < (100u << 20); fed += chunk.size()) {
    d.feed(chunk);
    CHECK_FALSE(d.next()); // nothing buffered stays: the skip drops it
  }
  d.feed("stale\xff{\"return\": 1000}\n");
  auto m = d.next();
  REQUIRE(m);
  CHECK(m->value == 1000);
}
