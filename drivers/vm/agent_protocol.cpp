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

GuestExecStatus parse_exec_status(const json::value& ret) {
  if (!ret.is_object())
    throw Error("guest-exec-status: unexpected answer " + json::serialize(ret));
  auto& o = ret.as_object();
  GuestExecStatus s;
  auto* exited = o.if_contains("exited");
  if (!exited || !exited->is_bool())
    throw Error("guest-exec-status: answer without \"exited\": " + json::serialize(ret));
  s.exited = exited->as_bool();
  if (auto* v = o.if_contains("exitcode"); v && v->is_number())
    s.exit_code = v->to_number<int>();
  if (auto* v = o.if_contains("signal"); v && v->is_number()) {
    s.signal = v->to_number<int>();
    s.exit_code = -1;
  }
  if (auto* v = o.if_contains("out-data"); v && v->is_string())
    s.out = base64_decode(v->as_string());
  if (auto* v = o.if_contains("err-data"); v && v->is_string())
    s.err = base64_decode(v->as_string());
  if (auto* v = o.if_contains("out-truncated"); v && v->is_bool())
    s.out_truncated = v->as_bool();
  if (auto* v = o.if_contains("err-truncated"); v && v->is_bool())
    s.err_truncated = v->as_bool();
  return s;
}

std::vector<std::string> guest_exec_argv(const std::vector<std::string>& argv, const std::string& cwd,
                                         const std::string& out_file, const std::string& err_file) {
  std::vector<std::string> full;
  if (!out_file.empty()) {
    full = {"sh", "-c", "exec \"$0\" \"$@\" >'" + out_file + "' 2>'" + err_file + "'"};
  }
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
