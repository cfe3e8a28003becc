#include "drivers/qemu/qmp_protocol.hpp"
#include "drivers/qemu/json_lines.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <stdexcept>

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
  auto parsed = parse_json_line(line);
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
    throw std::logic_error("QMP: cannot send " + std::string(execute) + " before the capabilities negotiation");
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

std::string describe_qmp_error(const json::value& error) {
  if (!error.is_object())
    return json::serialize(error);
  auto& o = error.as_object();
  std::string cls, desc;
  if (auto* c = o.if_contains("class"); c && c->is_string())
    cls = c->as_string();
  if (auto* d = o.if_contains("desc"); d && d->is_string())
    desc = d->as_string();
  if (cls.empty() && desc.empty())
    return json::serialize(error);
  return cls.empty() ? desc : cls + ": " + desc;
}

} // namespace virtbench::qemu
