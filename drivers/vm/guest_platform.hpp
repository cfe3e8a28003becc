#pragma once
// What the qemu and libvirt platforms do the same way: commands, files and cache drops
// through the guest agent, the common describe() keys, the console tail, and one failure
// policy deciding when a failed call means the platform is lost. A subclass starts and
// stops its VM (a QEMU process and QMP, or a libvirt domain) and answers the policy's
// three questions: is the VM gone, does it still answer its monitor, and end it if hung.

#include "drivers/vm/agent.hpp"
#include "drivers/vm/vm_options.hpp"
#include "platform.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench::vm {

// "last console lines (<path>):\n  | line\n  | line": the last 20 lines of a console log's
// text (carriage returns dropped), or "  (no console output)" under the header.
std::string format_console_tail(std::string_view text, const std::string& path);

class GuestPlatform : public Platform {
public:
  awaitable<ExecResult> exec(ExecRequest request) override;
  awaitable<std::string> read_file(std::string path) override;
  // sync + drop in the guest, then the host's drop where the host cache is reachable;
  // with cache=none/directsync the host drop has holds_data_set=false.
  awaitable<std::vector<CacheDrop>> drop_caches() override;
  bool has_guest_view() const override { return true; }
  std::string scratch_dir() const override;
  // The common keys, then describe_platform()'s.
  boost::json::object describe() const override;

protected:
  explicit GuestPlatform(PlatformOptions options);

  // The platform's own describe() keys, added after the common ones.
  virtual void describe_platform(boost::json::object& d) const = 0;

  // --- The failure policy's questions, answered by each platform ---
  // Why the VM is gone (its process exited, the domain is no longer running), or nullopt
  // while it runs. may_wait: the failure was not an answer, so the VM may be on its way
  // out (a socket can see the end before the process watcher does): wait briefly for it.
  virtual awaitable<std::optional<std::string>> gone_reason(bool may_wait) = 0;
  // After a timeout: "" when the VM still answers its monitor with the guest running (or
  // paused by freeze()), else why not. Bounded by a short deadline.
  virtual awaitable<std::string> check_alive() = 0;
  // Ends a VM found hung, at once; returns what was done ("QEMU (pid 42) was killed").
  virtual awaitable<std::string> end_hung() = 0;

  // Rethrows `failure` of `what` ("run sysbench ... in the guest") with context, always:
  //   a cancellation as it is; PlatformLost when the platform was lost before, when the VM
  //   is gone, or when a timeout (ChannelTimeout) is followed by a failed liveness check
  //   (then end_hung(), and every later failure says the same reason); else Error (a
  //   timeout's with the console tail), UsageError as it is.
  awaitable<void> rethrow(std::exception_ptr failure, std::string what);
  // "<what>: <reason>\n<console tail>": the message of a PlatformLost for a VM gone.
  std::string lost_message(const std::string& what, const std::string& reason) const;
  // Records why the platform is lost (a hung VM was ended); rethrow() says it from then on.
  void set_lost_reason(std::string reason) { m_lost_reason = std::move(reason); }
  const std::string& lost_reason() const { return m_lost_reason; }

  // The console's last lines (format_console_tail), or where the log is when it is on
  // another host (m_console_host set).
  std::string console_tail() const;

  // start()'s last step, once the agent answered: the scratch disk mounted at /scratch and
  // the guest's sysbench version read (m_guest_sysbench_version); failures via rethrow().
  awaitable<void> prepare_guest_scratch();

  // Once the agent answered: the guest's boot steps from the console log on this host,
  // placed on the VM's clock (started_at: QEMU's start or virDomainCreateXML) by the
  // guest's uptime read now; describe()'s boot_timeline. Best effort: a boot is not
  // failed for it.
  awaitable<void> record_boot_timeline(std::chrono::steady_clock::time_point started_at);

  // The agent, once start() made it; throws Error before.
  GuestAgent& agent();
  void log(const std::string& line) const;

  PlatformOptions m_options;
  VmConfig m_vm; // the VM options' values
  GuestImage m_image;
  std::string m_cache_mode, m_aio;               // from the options: none by default, aio to match
  std::string m_accel, m_accel_reason;           // kvm | tcg, and why
  std::string m_machine, m_cpu_model;            // as the VM runs them (q35, max ...)
  std::string m_console_log;                     // the console log's path
  std::string m_console_host;                    // set when that path is on another host
  std::optional<GuestAgent> m_agent;             // set by start(), over the subclass's transport
  double m_boot_to_ready_s = 0;
  boost::json::array m_boot_timeline;            // set by record_boot_timeline()
  std::string m_guest_sysbench_version;
  bool m_host_cache_reachable = true;            // false for a remote host: no host drop
  std::filesystem::path m_host_scratch_disk;     // the scratch disk's file on this host, if any

private:
  std::string m_lost_reason; // why the VM was ended as hung, once it was
};

} // namespace virtbench::vm
