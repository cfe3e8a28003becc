#pragma once
// Splits a byte stream into newline-terminated lines (QMP and the guest agent both send
// one JSON document per line). No I/O: bytes in, complete lines out.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace virtbench::vm {

class LineSplitter {
public:
  // `max_line`: the longest line the peer may send, in bytes; a longer one is hostile or
  // broken, and holding it would let the peer grow our memory without bound.
  explicit LineSplitter(std::size_t max_line) : m_max_line(max_line) {}
  // Throws Error (and forgets what it buffered) when a line grows past max_line bytes
  // without its newline.
  void feed(std::string_view bytes);
  // The next complete line without its "\n" (and a "\r" before it), or nullopt until one is complete.
  std::optional<std::string> next_line();
  // Drops everything up to and including the next byte `c`; false (and everything dropped)
  // when `c` has not arrived yet.
  bool skip_through(char c);
  void clear() {
    m_buffer.clear();
    m_start = 0;
    m_tail = 0;
  }
  std::size_t max_line() const { return m_max_line; }

private:
  std::string m_buffer;
  std::size_t m_start = 0; // consumed prefix, compacted lazily
  std::size_t m_max_line;
  std::size_t m_tail = 0; // invariant: m_buffer's last m_tail bytes hold no newline (its incomplete last line)
};

// One line parsed as a JSON object, with its numeric "id" when it has one (QMP and agent
// replies both echo the request's id). nullopt when the line is not a JSON object.
struct JsonLine {
  boost::json::object object;
  std::optional<std::uint64_t> id;
};
std::optional<JsonLine> parse_json_line(std::string_view text);

// "<class>: <desc>" of a QMP or agent error object (both speak QMP's error format).
std::string describe_qmp_error(const boost::json::value& error);

} // namespace virtbench::vm
