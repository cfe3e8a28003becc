#include "drivers/vm/agent_protocol.hpp"
#include "drivers/vm/json_lines.hpp"

#include "util/error.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>

namespace virtbench::vm {

namespace json = boost::json;

std::optional<AgentMessage> AgentDecoder::next() {
  if (m_skipping) {
    if (!m_lines.skip_through('\xff'))
      return std::nullopt;
    m_skipping = false;
  }
  for (;;) {
    auto line = m_lines.next_line();
    if (!line)
      return std::nullopt;
    // A 0xFF can also start a line: the delimiter of an earlier (stale) sync answer.
    auto start = line->find_first_not_of(std::string_view("\xff \t", 3));
    if (start == std::string::npos)
      continue;
    std::string_view text = std::string_view(*line).substr(start);
    AgentMessage m;
    auto parsed = parse_json_line(text);
    if (!parsed) {
      m.text = std::string(text);
      return m;
    }
    auto& o = parsed->object;
    m.id = parsed->id;
    if (auto* r = o.if_contains("return")) {
      m.kind = AgentMessage::Kind::reply;
      m.value = *r;
    } else if (auto* e = o.if_contains("error")) {
      m.kind = AgentMessage::Kind::error;
      m.value = *e;
    } else {
      m.text = std::string(text);
    }
    return m;
  }
}

std::string encode_agent_command(const json::object& command) { return json::serialize(command) + "\n"; }

std::string encode_sync_delimited(std::uint64_t id) {
  json::object cmd{{"execute", "guest-sync-delimited"}, {"arguments", {{"id", id}}}};
  return "\xff" + encode_agent_command(cmd);
}

namespace {
constexpr std::string_view k_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    std::uint32_t n = (std::uint8_t(data[i]) << 16) | (std::uint8_t(data[i + 1]) << 8) | std::uint8_t(data[i + 2]);
    out += k_alphabet[n >> 18];
    out += k_alphabet[(n >> 12) & 63];
    out += k_alphabet[(n >> 6) & 63];
    out += k_alphabet[n & 63];
  }
  if (i + 1 == data.size()) {
    std::uint32_t n = std::uint8_t(data[i]) << 16;
    out += k_alphabet[n >> 18];
    out += k_alphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    std::uint32_t n = (std::uint8_t(data[i]) << 16) | (std::uint8_t(data[i + 1]) << 8);
    out += k_alphabet[n >> 18];
    out += k_alphabet[(n >> 12) & 63];
    out += k_alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view text) {
  static const auto table = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    for (std::size_t i = 0; i < k_alphabet.size(); ++i)
      t[static_cast<unsigned char>(k_alphabet[i])] = static_cast<int>(i);
    return t;
  }();
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=')
      break;
    if (c == '\n' || c == '\r')
      continue;
    int v = table[static_cast<unsigned char>(c)];
    if (v < 0)
      throw Error("base64: invalid character in agent data");
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

namespace {

// The whole number `key` of `o`, nullopt when absent; throws Error("<what>: ...") when it
// is there but not a whole number of type T.
template <typename T>
std::optional<T> whole_number(const json::object& o, std::string_view key, const std::string& what,
                              const json::value& answer) {
  auto* v = o.if_contains(key);
  if (!v)
    return std::nullopt;
  boost::system::error_code ec;
  T n{};
  if (v->is_number())
    n = v->to_number<T>(ec);
  if (!v->is_number() || ec)
    throw Error(what + ": \"" + std::string(key) + "\" is not a whole number in the answer " + json::serialize(answer));
  return n;
}

// The boolean `key` of `o`, nullopt when absent; throws Error when it is not a boolean.
std::optional<bool> boolean(const json::object& o, std::string_view key, const std::string& what,
                            const json::value& answer) {
  auto* v = o.if_contains(key);
  if (!v)
    return std::nullopt;
  if (!v->is_bool())
    throw Error(what + ": \"" + std::string(key) + "\" is not true or false in the answer " + json::serialize(answer));
  return v->get_bool();
}

// The base64 string `key` of `o` decoded, "" when absent.
std::string base64_field(const json::object& o, std::string_view key, const std::string& what,
                         const json::value& answer) {
  auto* v = o.if_contains(key);
  if (!v)
    return {};
  if (!v->is_string())
    throw Error(what + ": \"" + std::string(key) + "\" is not a string in the answer " + json::serialize(answer));
  try {
    return base64_decode(v->get_string());
  } catch (const Error& e) {
    throw Error(what + ": \"" + std::string(key) + "\": " + e.what());
  }
}

} // namespace

GuestExecStatus parse_exec_status(const json::value& ret) {
  const std::string what = "guest-exec-status";
  if (!ret.is_object())
    throw Error(what + ": unexpected answer " + json::serialize(ret));
  auto& o = ret.get_object();
  GuestExecStatus s;
  auto exited = boolean(o, "exited", what, ret);
  if (!exited)
    throw Error(what + ": answer without \"exited\": " + json::serialize(ret));
  s.exited = *exited;
  if (auto code = whole_number<int>(o, "exitcode", what, ret))
    s.exit_code = *code;
  if (auto signal = whole_number<int>(o, "signal", what, ret)) {
    s.signal = *signal;
    s.exit_code = -1;
  }
  s.out = base64_field(o, "out-data", what, ret);
  s.err = base64_field(o, "err-data", what, ret);
  s.out_truncated = boolean(o, "out-truncated", what, ret).value_or(false);
  s.err_truncated = boolean(o, "err-truncated", what, ret).value_or(false);
  return s;
}

std::int64_t parse_exec_started(const json::value& ret) {
  const std::string what = "guest-exec";
  auto pid = ret.is_object() ? whole_number<std::int64_t>(ret.get_object(), "pid", what, ret) : std::nullopt;
  if (!pid)
    throw Error(what + ": unexpected answer " + json::serialize(ret) + " (no \"pid\")");
  return *pid;
}

std::int64_t parse_file_handle(std::string_view path, const json::value& ret) {
  boost::system::error_code ec;
  std::int64_t handle = 0;
  if (ret.is_number())
    handle = ret.to_number<std::int64_t>(ec);
  if (!ret.is_number() || ec)
    throw Error("guest-file-open " + std::string(path) + ": unexpected answer " + json::serialize(ret) +
                " (not a file handle)");
  return handle;
}

GuestFileChunk parse_file_read(std::string_view path, const json::value& ret) {
  const std::string what = "guest-file-read " + std::string(path);
  if (!ret.is_object())
    throw Error(what + ": unexpected answer " + json::serialize(ret));
  auto& o = ret.get_object();
  GuestFileChunk chunk;
  chunk.count = whole_number<std::int64_t>(o, "count", what, ret).value_or(0);
  chunk.data = base64_field(o, "buf-b64", what, ret);
  chunk.eof = boolean(o, "eof", what, ret).value_or(false);
  return chunk;
}

std::vector<std::string> guest_exec_argv(const std::vector<std::string>& argv, const std::string& cwd) {
  std::vector<std::string> full;
  if (!cwd.empty()) {
    full.push_back("env");
    full.push_back("-C");
    full.push_back(cwd);
    full.push_back("--");
  }
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

json::object guest_exec_command(const std::vector<std::string>& argv) {
  json::array args;
  for (std::size_t i = 1; i < argv.size(); ++i)
    args.emplace_back(argv[i]);
  return {{"execute", "guest-exec"},
          {"arguments", {{"path", argv.at(0)}, {"arg", std::move(args)}, {"capture-output", true}}}};
}

} // namespace virtbench::vm
