#include "drivers/qemu/qmp_protocol.hpp"
#include "drivers/vm/json_lines.hpp"
#include "util/error.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>


namespace virtbench::qemu {

namespace json = boost::json;

void QmpProtocol::feed(std::string_view bytes) { m_lines.feed(bytes); }

std::optional<QmpMessage> QmpProtocol::next() {
  for (;;) {
    auto line = m_lines.next_line();
    if (!line)
      return std::nullopt;
    if (line->find_first_not_of(" \t") == std::string::npos)
      continue;
    return classify(std::move(*line));
  }
}

QmpMessage QmpProtocol::classify(std::string line) {
  QmpMessage m;
  auto parsed = vm::parse_json_line(line);
  if (!parsed) {
    m.text = std::move(line);
    return m;
  }
  auto& o = parsed->object;
  m.id = parsed->id;
  if (auto* g = o.if_contains("QMP"); g && g->is_object()) {
    m.kind = QmpMessage::Kind::greeting;
    m.value = *g;
    if (m_state == State::awaiting_greeting) {
      m_greeting = g->as_object();
      m_state = State::negotiating;
    }
  } else if (auto* r = o.if_contains("return")) {
    m.kind = QmpMessage::Kind::reply;
    m.value = *r;
    if (m_state == State::negotiating && m_capabilities_id && m.id == m_capabilities_id)
      m_state = State::ready;
  } else if (auto* e = o.if_contains("error")) {
    m.kind = QmpMessage::Kind::error;
    m.value = *e;
  } else if (auto* ev = o.if_contains("event"); ev && ev->is_string()) {
    m.kind = QmpMessage::Kind::event;
    m.event = std::string(ev->as_string());
    if (auto* d = o.if_contains("data"))
      m.value = *d;
    if (auto* ts = o.if_contains("timestamp"); ts && ts->is_object()) {
      auto& t = ts->as_object();
      double s = 0, us = 0;
      if (auto* x = t.if_contains("seconds"); x && x->is_number())
        s = x->to_number<double>();
      if (auto* x = t.if_contains("microseconds"); x && x->is_number())
        us = x->to_number<double>();
      m.timestamp = s + us / 1e6;
    }
  } else {
    m.text = std::move(line);
  }
  if (m.kind != QmpMessage::Kind::garbled && m_state == State::awaiting_greeting) {
    // Anything before the greeting means this is not a QMP socket (or not its start).
    m.kind = QmpMessage::Kind::garbled;
    m.text = json::serialize(o);
  }
  return m;
}

std::string QmpProtocol::encode(std::string_view execute, const json::object& arguments, std::uint64_t& id) {
  bool capabilities = execute == "qmp_capabilities";
  if (capabilities ? m_state != State::negotiating : m_state != State::ready)
    throw Error("QMP: cannot send " + std::string(execute) + " before the capabilities negotiation" +
                (m_state == State::awaiting_greeting ? " (QEMU's greeting has not arrived)" : " has finished"));
  id = m_next_id++;
  json::object cmd;
  cmd["execute"] = execute;
  if (!arguments.empty())
    cmd["arguments"] = arguments;
  cmd["id"] = id;
  if (capabilities)
    m_capabilities_id = id;
  return json::serialize(cmd) + "\r\n";
}

QemuVersion parse_query_version(const json::value& ret) {
  auto bad = [&](const std::string& what) {
    return Error("QMP query-version: " + what + " in the answer " + json::serialize(ret));
  };
  auto* o = ret.if_object();
  auto* qemu = o ? o->if_contains("qemu") : nullptr;
  if (!qemu || !qemu->is_object())
    throw bad("no \"qemu\" object");
  int parts[3] = {};
  const char* names[3] = {"major", "minor", "micro"};
  for (int i = 0; i < 3; ++i) {
    auto* v = qemu->as_object().if_contains(names[i]);
    boost::system::error_code ec;
    if (v && v->is_number())
      parts[i] = v->to_number<int>(ec);
    if (!v || !v->is_number() || ec)
      throw bad(std::string("no whole number \"qemu.") + names[i] + "\"");
  }
  QemuVersion version;
  version.version = std::to_string(parts[0]) + "." + std::to_string(parts[1]) + "." + std::to_string(parts[2]);
  if (auto* pkg = o->if_contains("package"); pkg && pkg->is_string())
    version.package = pkg->as_string();
  return version;
}

std::string parse_query_status(const json::value& ret) {
  auto* o = ret.if_object();
  auto* st = o ? o->if_contains("status") : nullptr;
  return st && st->is_string() ? std::string(st->as_string()) : std::string();
}

} // namespace virtbench::qemu
