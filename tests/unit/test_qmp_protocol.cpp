// QmpProtocol on bytes recorded from a real QEMU 7.2 (tests/data/qmp/7.2/, see its README).
#include "drivers/qemu/qmp_protocol.hpp"
#include "test_util.hpp"
#include "util/error.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>

using namespace virtbench;
using namespace virtbench::qemu;
using virtbench::vm::describe_qmp_error;
using QmpKind = QmpMessage::Kind;

namespace {

std::vector<QmpMessage> drain(QmpProtocol& p) {
  std::vector<QmpMessage> out;
  while (auto m = p.next())
    out.push_back(std::move(*m));
  return out;
}

// A protocol past the greeting and capabilities negotiation.
QmpProtocol negotiated() {
  QmpProtocol p;
  p.feed(R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}})"
         "\r\n");
  drain(p);
  std::uint64_t id = 0;
  p.encode("qmp_capabilities", {}, id);
  p.feed("{\"return\": {}, \"id\": " + std::to_string(id) + "}\r\n");
  drain(p);
  return p;
}

} // namespace

TEST_CASE("a recorded QEMU 7.2 session decodes into the greeting, replies by id, errors and events in order") {
  auto bytes = test::data_file("qmp/7.2/session.in");
  QmpProtocol p;
  CHECK(p.state() == QmpProtocol::State::awaiting_greeting);
  p.feed(bytes);
  auto msgs = drain(p);
  REQUIRE(msgs.size() == 12);
  CHECK(msgs[0].kind == QmpKind::greeting);
  CHECK(p.greeting().at("version").at("qemu").at("minor").as_int64() == 2);
  CHECK(p.state() == QmpProtocol::State::negotiating);
  CHECK(msgs[1].kind == QmpKind::reply);
  CHECK(msgs[1].id == 1u);
  CHECK(msgs[2].value.at("status").as_string() == "running");
  CHECK(msgs[3].value.at("enabled").as_bool() == false); // query-kvm under TCG
  CHECK(msgs[5].kind == QmpKind::error);
  CHECK(msgs[5].id == 5u);
  CHECK(describe_qmp_error(msgs[5].value) == "CommandNotFound: The command no-such-command has not been found");
  // `stop`: the STOP event comes before the reply to the command that caused it.
  CHECK(msgs[6].kind == QmpKind::event);
  CHECK(msgs[6].event == "STOP");
  CHECK(msgs[6].timestamp > 1.7e9);
  CHECK(msgs[7].id == 6u);
  CHECK(msgs[8].event == "RESUME");
  CHECK(msgs[10].event == "SHUTDOWN");
  CHECK(msgs[10].value.at("reason").as_string() == "host-qmp-quit");
  CHECK(msgs[11].id == 8u);
}

TEST_CASE("the same bytes fed one at a time give the same messages") {
  auto bytes = test::data_file("qmp/7.2/session.in");
  QmpProtocol whole, split;
  whole.feed(bytes);
  auto expected = drain(whole);
  std::vector<QmpMessage> got;
  for (char c : bytes) {
    split.feed(std::string_view(&c, 1));
    for (auto& m : drain(split))
      got.push_back(std::move(m));
  }
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].kind == expected[i].kind);
    CHECK(got[i].id == expected[i].id);
    CHECK(got[i].event == expected[i].event);
    CHECK(got[i].value == expected[i].value);
  }
}

TEST_CASE("capabilities negotiation: commands wait for it, and its reply makes the session ready") {
  QmpProtocol p;
  std::uint64_t id = 0;
  CHECK_THROWS_WITH_AS(p.encode("query-status", {}, id),
                       "QMP: cannot send query-status before the capabilities negotiation (QEMU's greeting has not arrived)",
                       Error);
  p.feed(R"({"QMP": {"version": {}, "capabilities": []}})" "\n");
  drain(p);
  CHECK_THROWS_AS(p.encode("query-status", {}, id), Error);
  auto wire = p.encode("qmp_capabilities", {}, id);
  CHECK(wire == "{\"execute\":\"qmp_capabilities\",\"id\":" + std::to_string(id) + "}\r\n");
  CHECK_FALSE(p.ready());
  p.feed("{\"return\": {}, \"id\": " + std::to_string(id) + "}\n");
  drain(p);
  CHECK(p.ready());
  boost::json::object args{{"device", "scratch"}};
  std::uint64_t id2 = 0;
  auto cmd = boost::json::parse(p.encode("block_resize", args, id2)).as_object();
  CHECK(id2 == id + 1);
  CHECK(cmd.at("arguments").at("device").as_string() == "scratch");
}

TEST_CASE("events between a command and its reply, and a reply split across reads") {
  auto p = negotiated();
  std::uint64_t id = 0;
  p.encode("query-status", {}, id);
  std::string reply = "{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": " + std::to_string(id) + "}\r\n";
  p.feed(R"({"timestamp": {"seconds": 1, "microseconds": 5}, "event": "BLOCK_IO_ERROR", "data": {"device": "scratch", "operation": "write", "action": "report"}})"
         "\r\n");
  p.feed(reply.substr(0, 17));
  auto first = drain(p);
  REQUIRE(first.size() == 1);
  CHECK(first[0].event == "BLOCK_IO_ERROR");
  CHECK(first[0].value.at("device").as_string() == "scratch");
  CHECK(first[0].timestamp == doctest::Approx(1.000005));
  p.feed(reply.substr(17));
  auto rest = drain(p);
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].kind == QmpKind::reply);
  CHECK(rest[0].id == id);
}

TEST_CASE("a garbled line is reported and the stream goes on") {
  auto p = negotiated();
  p.feed("this is not json\r\n{\"half\": \r\n[1,2]\n{\"return\": 7, \"id\": 99}\n");
  auto msgs = drain(p);
  REQUIRE(msgs.size() == 4);
  CHECK(msgs[0].kind == QmpKind::garbled);
  CHECK(msgs[0].text == "this is not json");
  CHECK(msgs[1].kind == QmpKind::garbled);
  CHECK(msgs[2].kind == QmpKind::garbled); // JSON, but not an object
  CHECK(msgs[3].kind == QmpKind::reply);
  CHECK(msgs[3].id == 99u);
}

TEST_CASE("anything before the greeting is not QMP") {
  QmpProtocol p;
  p.feed("{\"return\": {}}\n");
  auto msgs = drain(p);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].kind == QmpKind::garbled);
  CHECK(p.state() == QmpProtocol::State::awaiting_greeting);
}

TEST_CASE("query-version and query-status answers from the recorded session, and malformed ones as Errors") {
  QmpProtocol p;
  p.feed(test::data_file("qmp/7.2/session.in"));
  auto msgs = drain(p);
  auto version = std::find_if(msgs.begin(), msgs.end(), [](auto& m) {
    return m.kind == QmpKind::reply && m.value.is_object() && m.value.as_object().contains("qemu");
  });
  REQUIRE(version != msgs.end());
  auto v = parse_query_version(version->value);
  CHECK(v.version == "7.2.22");
  CHECK(v.package == "Debian 1:7.2+dfsg-7+deb12u18+b3");
  CHECK(parse_query_status(msgs[2].value) == "running");

  CHECK(parse_query_version(boost::json::parse(R"({"qemu": {"major": 8, "minor": 0, "micro": 1}})")).package == "");
  CHECK_THROWS_WITH_AS(parse_query_version(boost::json::parse(R"({"qemu": {"major": "7", "minor": 2, "micro": 0}})")),
                       R"(QMP query-version: no whole number "qemu.major" in the answer {"qemu":{"major":"7","minor":2,"micro":0}})",
                       Error);
  CHECK_THROWS_WITH_AS(parse_query_version(boost::json::parse("[1]")),
                       R"(QMP query-version: no "qemu" object in the answer [1])", Error);
  CHECK(parse_query_status(boost::json::parse(R"({"running": true})")) == "");
  CHECK(parse_query_status(boost::json::parse("null")) == "");
}
