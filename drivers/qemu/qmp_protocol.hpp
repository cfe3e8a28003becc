#pragma once
// The QEMU Machine Protocol as a state machine without I/O: bytes from QEMU go in,
// the greeting, replies (matched by id), errors and asynchronous events come out; the
// Asio client only moves bytes. Events may arrive between a command and its reply.

#include "drivers/vm/json_lines.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace virtbench::qemu {

// The longest line QEMU may send: the answers virtbench asks for are a few KiB
// (query-qmp-schema, the largest QMP has, is under 1 MiB). Longer is not QEMU.
inline constexpr std::size_t k_qmp_max_line = std::size_t(8) << 20;

struct QmpMessage {
  enum class Kind { greeting, reply, error, event, garbled };
  Kind kind = Kind::garbled;
  std::optional<std::uint64_t> id; // reply/error: the id of the command it answers
  boost::json::value value;        // greeting: the "QMP" object; reply: "return"; error: "error"; event: "data"
  std::string event;               // event: its name (SHUTDOWN, STOP, RESUME, BLOCK_IO_ERROR ...)
  double timestamp = 0;            // event: seconds since the epoch, as QEMU stamped it
  std::string text;                // garbled: the line as received; otherwise empty
};

class QmpProtocol {
public:
  enum class State {
    awaiting_greeting, // connected; QEMU speaks first
    negotiating,       // greeting seen, qmp_capabilities sent, its reply pending
    ready,             // commands may be sent
  };

  // Bytes as they arrived from QEMU (any split: half a line waits for its rest). Throws
  // Error on a line longer than k_qmp_max_line.
  void feed(std::string_view bytes);
  // The next decoded message, or nullopt until more bytes arrive. A line that is not a
  // JSON object, or a message of unknown shape, comes out as Kind::garbled and the
  // stream goes on with the next line.
  std::optional<QmpMessage> next();

  // The wire form of a command ("{...}\r\n") with a fresh id, returned in `id`.
  // Commands other than qmp_capabilities are refused (Error) until ready().
  std::string encode(std::string_view execute, const boost::json::object& arguments, std::uint64_t& id);

  State state() const { return m_state; }
  bool ready() const { return m_state == State::ready; }
  // The greeting's "QMP" object (version, capabilities), once seen.
  const boost::json::object& greeting() const { return m_greeting; }

private:
  QmpMessage classify(std::string line);

  vm::LineSplitter m_lines{k_qmp_max_line};
  State m_state = State::awaiting_greeting;
  boost::json::object m_greeting;
  std::uint64_t m_next_id = 1;
  std::optional<std::uint64_t> m_capabilities_id;
};

// query-version's answer: QEMU's "major.minor.micro" and its package ("" when absent).
struct QemuVersion {
  std::string version, package;
};
// Throws Error naming what is missing or malformed.
QemuVersion parse_query_version(const boost::json::value& ret);

// query-status's "status" ("running", "paused", "shutdown" ...); "" when the answer has none.
std::string parse_query_status(const boost::json::value& ret);

} // namespace virtbench::qemu
