#include "drivers/qemu/json_lines.hpp"

namespace virtbench::qemu {

std::optional<std::string> LineSplitter::next_line() {
  auto nl = m_buffer.find('\n', m_start);
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
  return true;
}

} // namespace virtbench::qemu
