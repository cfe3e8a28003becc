#include "drivers/vm/json_lines.hpp"

#include "util/error.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace virtbench::vm {

namespace json = boost::json;

void LineSplitter::feed(std::string_view bytes) {
  auto first_nl = bytes.find('\n');
  auto longest = first_nl == std::string_view::npos ? m_tail + bytes.size() : m_tail + first_nl;
  if (longest > m_max_line) {
    clear();
    throw Error(fmt::format("a line of more than {} MiB without a newline ({} bytes so far): not the protocol; "
                            "the bytes buffered were dropped",
                            m_max_line >> 20, longest));
  }
  auto last_nl = bytes.rfind('\n');
  m_tail = last_nl == std::string_view::npos ? m_tail + bytes.size() : bytes.size() - last_nl - 1;
  m_buffer.append(bytes);
}

std::optional<std::string> LineSplitter::next_line() {
  // The last m_tail bytes hold no newline: when they are all that is left, there is no line
  // (and no scan of a long unterminated line on every read, which made it quadratic).
  auto nl = m_buffer.size() - m_start <= m_tail ? std::string::npos : m_buffer.find('\n', m_start);
  if (nl == std::string::npos) {
    if (m_start > 0) {
      m_buffer.erase(0, m_start);
      m_start = 0;
    }
    return std::nullopt;
  }
  auto end = nl;
  if (end > m_start && m_buffer[end - 1] == '\r')
    --end;
  std::string line = m_buffer.substr(m_start, end - m_start);
  m_start = nl + 1;
  if (m_start == m_buffer.size()) {
    m_buffer.clear();
    m_start = 0;
    m_tail = 0;
  }
  return line;
}

bool LineSplitter::skip_through(char c) {
  auto pos = m_buffer.find(c, m_start);
  if (pos == std::string::npos) {
    clear();
    return false;
  }
  m_start = pos + 1;
  m_tail = std::min(m_tail, m_buffer.size() - m_start);
  return true;
}

std::optional<JsonLine> parse_json_line(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  JsonLine line{std::move(v.as_object()), std::nullopt};
  if (auto* id = line.object.if_contains("id"); id && id->is_number()) {
    boost::system::error_code nec;
    auto n = id->to_number<std::uint64_t>(nec);
    if (!nec)
      line.id = n;
  }
  return line;
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

} // namespace virtbench::vm
