#pragma once
// The guest agent through libvirt: virDomainQemuAgentCommand takes a command's JSON and
// returns the agent's reply, so the agent operations of drivers/vm/agent.hpp (exec with
// status polling, file read and write) run unchanged on a libvirt domain.

#include "drivers/vm/agent.hpp"
#include "drivers/vm/async_mutex.hpp"

#include <libvirt/libvirt.h>

#include <boost/json/value.hpp>

#include <string_view>

namespace virtbench::libvirt {

// The "return" value of an agent reply as virDomainQemuAgentCommand gives it back.
// Throws vm::AgentCommandError for an "error" reply, Error for anything else.
boost::json::value parse_agent_reply(std::string_view command, std::string_view reply);

// virDomainQemuAgentCommand's timeout argument (whole seconds, at least 1) for a timeout.
int agent_timeout_seconds(std::chrono::milliseconds timeout);

class LibvirtAgentTransport final : public vm::AgentTransport {
public:
  // `domain` must outlive the transport; blocking calls run on `pool`.
  LibvirtAgentTransport(virDomainPtr domain, asio::thread_pool& pool);

  awaitable<boost::json::value> call(boost::json::object command, std::chrono::milliseconds timeout) override;
  awaitable<void> send(boost::json::object command, std::chrono::milliseconds timeout) override;
  // libvirt itself sends guest-sync before every command; this only checks that the agent
  // answers (guest-ping).
  awaitable<void> sync(std::chrono::milliseconds timeout) override;

private:
  // The reply text; throws as call() documents, naming the command.
  awaitable<std::string> command(boost::json::object command, std::chrono::milliseconds timeout, bool wait);

  virDomainPtr m_domain;
  asio::thread_pool& m_pool;
  vm::AsyncMutex m_mutex; // one agent command at a time (libvirt would make the others wait for its agent job)
};

} // namespace virtbench::libvirt
