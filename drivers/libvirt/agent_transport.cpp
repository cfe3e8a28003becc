#include "drivers/libvirt/agent_transport.hpp"

#include "drivers/libvirt/connection.hpp"
#include "drivers/vm/json_lines.hpp"

#include <libvirt/libvirt-qemu.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>

namespace virtbench::libvirt {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

// "guest-exec" for {"execute": "guest-exec", ...}.
std::string execute_of(const json::object& c) {
  auto* e = c.if_contains("execute");
  return e && e->is_string() ? std::string(e->as_string()) : "agent command";
}

// libvirt's text for an agent "error" answer (qemuAgentCheckError).
constexpr std::string_view k_agent_error_prefix = "unable to execute QEMU agent command";

} // namespace

json::value parse_agent_reply(std::string_view command, std::string_view reply) {
  boost::system::error_code ec;
  auto value = json::parse(reply, ec);
  if (ec || !value.is_object())
    throw Error(std::string(command) + ": the agent's reply is not a JSON object: " + std::string(reply.substr(0, 200)));
  auto& o = value.as_object();
  if (auto* err = o.if_contains("error"))
    throw vm::AgentCommandError(std::string(command) + ": " + vm::describe_qmp_error(*err));
  if (auto* ret = o.if_contains("return"))
    return *ret;
  throw Error(std::string(command) + ": the agent's reply has no \"return\": " + std::string(reply.substr(0, 200)));
}

int agent_timeout_seconds(std::chrono::milliseconds timeout) {
  auto s = (timeout.count() + 999) / 1000;
  return static_cast<int>(std::clamp<std::int64_t>(s, 1, 24 * 3600));
}

LibvirtAgentTransport::LibvirtAgentTransport(virDomainPtr domain, asio::thread_pool& pool)
    : m_domain(domain), m_pool(pool) {}

awaitable<std::string> LibvirtAgentTransport::command(json::object command_object, std::chrono::milliseconds timeout,
                                                     bool wait) {
  auto what = execute_of(command_object);
  auto text = json::serialize(command_object);
  // The deadline counts from the call, not from its turn (behind a call a hung guest
  // never answers, the next one must not wait a whole timeout more).
  auto deadline = Clock::now() + timeout;
  auto guard = co_await m_mutex.lock_until(deadline);
  if (!guard)
    throw vm::AgentTimeout("guest agent " + what + " (via virDomainQemuAgentCommand): no turn on the channel "
                             "within the timeout (an earlier call is still waiting for its answer)");
  timeout = std::max(std::chrono::milliseconds(1),
                     std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  auto domain = m_domain;
  int seconds = wait ? agent_timeout_seconds(timeout) : VIR_DOMAIN_QEMU_AGENT_COMMAND_NOWAIT;
  auto blocking = [domain, text = std::move(text), what, seconds, timeout]() -> std::string {
    auto start = Clock::now();
    char* reply = virDomainQemuAgentCommand(domain, text.c_str(), seconds, 0);
    if (reply) {
      std::string r(reply);
      std::free(reply);
      return r;
    }
    if (seconds == VIR_DOMAIN_QEMU_AGENT_COMMAND_NOWAIT)
      return {}; // sent; no answer was waited for
    auto e = last_error();
    auto context = "guest agent " + what + " (via virDomainQemuAgentCommand)";
    if (e.message.find(k_agent_error_prefix) != std::string::npos)
      throw vm::AgentCommandError(what + ": " + e.message);
    // "not responding" after waiting is a timeout (the caller may retry at once); an
    // immediate failure ("not connected" while the guest boots) is an Error, retried after a pause.
    if (e.code == VIR_ERR_AGENT_UNRESPONSIVE && Clock::now() - start >= timeout / 2)
      throw vm::AgentTimeout(context + ": " + e.message);
    if (is_gone(e))
      throw PlatformLost(context + ": " + e.message);
    throw Error(context + ": " + e.message);
  };
  co_return co_await run_blocking(m_pool, std::move(blocking));
}

awaitable<json::value> LibvirtAgentTransport::call(json::object command_object, std::chrono::milliseconds timeout) {
  auto what = execute_of(command_object);
  auto reply = co_await command(std::move(command_object), timeout, true);
  co_return parse_agent_reply(what, reply);
}

awaitable<void> LibvirtAgentTransport::send(json::object command_object, std::chrono::milliseconds timeout) {
  co_await command(std::move(command_object), timeout, false);
}

awaitable<void> LibvirtAgentTransport::sync(std::chrono::milliseconds timeout) {
  json::object ping{{"execute", "guest-ping"}};
  co_await call(std::move(ping), timeout);
}

} // namespace virtbench::libvirt
