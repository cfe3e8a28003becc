#pragma once
// The QEMU guest agent's wire protocol without I/O: framing of commands, decoding of
// replies (with the 0xFF resynchronisation of guest-sync-delimited), base64, and the
// pure parts of the operations built on it (guest-exec argv wrapping, exec status).

#include "drivers/vm/json_lines.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench::vm {

// The longest line the agent may send: guest-exec-status with both of qemu-ga's 16 MiB
// capture buffers full is 2 x 21.3 MiB of base64 and a little JSON. Longer is not the agent.
inline constexpr std::size_t k_agent_max_line = std::size_t(48) << 20;
// What exec captures and read_file reads at most (qemu-ga cuts exec output at 16 MiB itself).
inline constexpr std::size_t k_agent_capture_limit = std::size_t(16) << 20;
inline constexpr std::size_t k_guest_file_max = std::size_t(64) << 20;

struct AgentMessage {
  enum class Kind { reply, error, garbled };
  Kind kind = Kind::garbled;
  std::optional<std::uint64_t> id; // qemu-ga echoes a request's "id"
  boost::json::value value;        // reply: "return"; error: "error"
  std::string text;                // garbled: the line as received
};

class AgentDecoder {
public:
  // After sending 0xFF + guest-sync-delimited: drop every byte up to and including the
  // 0xFF the agent puts before its answer (whatever stale output came before it).
  void expect_delimiter() { m_skipping = true; }
  // Throws Error (buffer dropped) on a line longer than k_agent_max_line.
  void feed(std::string_view bytes) { m_lines.feed(bytes); }
  // The next message, or nullopt until more bytes arrive.
  std::optional<AgentMessage> next();
  // Forgets buffered bytes (after reconnecting).
  void reset() {
    m_lines.clear();
    m_skipping = false;
  }

private:
  LineSplitter m_lines{k_agent_max_line};
  bool m_skipping = false;
};

// "{...}\n" for a command object ({"execute": ..., "arguments": ..., "id": ...}).
std::string encode_agent_command(const boost::json::object& command);
// 0xFF followed by guest-sync-delimited with this id: the agent's parser resets on the
// 0xFF, and its answer comes after a 0xFF of its own.
std::string encode_sync_delimited(std::uint64_t id);

std::string base64_encode(std::string_view data);
// Throws Error on characters outside the alphabet.
std::string base64_decode(std::string_view text);

// What guest-exec-status said.
struct GuestExecStatus {
  bool exited = false;
  int exit_code = -1; // when exited normally
  int signal = 0;     // when killed by a signal
  std::string out, err;
  bool out_truncated = false, err_truncated = false;
};
// Parses guest-exec-status's "return" object; throws Error on a malformed one.
GuestExecStatus parse_exec_status(const boost::json::value& ret);

// guest-exec's "return" ({"pid": N}): the pid; throws Error on a malformed answer.
std::int64_t parse_exec_started(const boost::json::value& ret);

// guest-file-open's "return" (a whole number): the handle; throws Error naming `path`.
std::int64_t parse_file_handle(std::string_view path, const boost::json::value& ret);

// One guest-file-read answer ({"count": N, "buf-b64": "...", "eof": bool}; qemu-ga may
// leave out buf-b64 at the end).
struct GuestFileChunk {
  std::string data;       // decoded
  std::int64_t count = 0; // bytes the agent says it read
  bool eof = false;
};
// Throws Error naming `path` on a malformed answer.
GuestFileChunk parse_file_read(std::string_view path, const boost::json::value& ret);

// The argv guest-exec runs for a request: `env -C cwd` in front when a directory is
// given (guest-exec has none); the user's argv is passed as it is, never through a shell.
std::vector<std::string> guest_exec_argv(const std::vector<std::string>& argv, const std::string& cwd);

// {"execute": "guest-exec", "arguments": {"path": argv[0], "arg": [...], "capture-output": true}}
boost::json::object guest_exec_command(const std::vector<std::string>& argv);

} // namespace virtbench::vm
