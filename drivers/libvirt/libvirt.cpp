#include "drivers/libvirt/libvirt.hpp"

#include "drivers/libvirt/agent_transport.hpp"
#include "drivers/libvirt/connection.hpp"
#include "drivers/libvirt/domain_xml.hpp"
#include "drivers/libvirt/storage.hpp"
#include "drivers/vm/accel.hpp"
#include "drivers/vm/agent.hpp"
#include "drivers/vm/boot_timeline.hpp"
#include "drivers/vm/disks.hpp"
#include "drivers/vm/guest_ops.hpp"
#include "drivers/vm/guest_platform.hpp"
#include "util/error.hpp"
#include "util/failure.hpp" // captured, is_cancellation
#include "util/fs.hpp"
#include "util/process.hpp"

#include <boost/json.hpp>

#include <libvirt/libvirt-qemu.h>

#include <fmt/format.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <csignal>
#include <cstdlib>
#include <unistd.h>

namespace virtbench::libvirt {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;


std::string this_host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// True when `owner` ("<client host> <pid>") names a virtbench process alive on this host.
bool owner_is_alive(const std::string& owner) {
  auto space = owner.rfind(' ');
  if (space == std::string::npos || owner.substr(0, space) != this_host_name())
    return false;
  auto pid = std::atoi(owner.c_str() + space + 1);
  if (pid <= 0 || ::kill(pid, 0) != 0)
    return false;
  try {
    return read_file(fmt::format("/proc/{}/comm", pid)).starts_with("virtbench");
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace

awaitable<std::string> find_libvirtd_socket(HostServices& host) {
  ExecRequest find;
  find.argv = {"sh", "-c",
               "for s in /var/run/libvirt/virtqemud-sock /var/run/libvirt/libvirt-sock; do "
               "[ -S \"$s\" ] && { echo \"$s\"; exit 0; }; done; exit 1"};
  find.timeout = 30s;
  auto r = co_await host.exec(std::move(find));
  if (r.exit_code != 0)
    throw Error(fmt::format("connect to libvirt on {}: no libvirtd socket there (/var/run/libvirt/virtqemud-sock or "
                            "libvirt-sock: exit code {}{}); start libvirtd on that host (systemctl start libvirtd; "
                            "without systemd: virtlogd -d && libvirtd -d)",
                            host.location(), r.exit_code, r.err.empty() ? "" : ", " + tail_lines(r.err, 1)));
  co_return r.out.substr(0, r.out.find('\n'));
}

namespace {

std::string version_string(unsigned long v) { return fmt::format("{}.{}.{}", v / 1000000, v / 1000 % 1000, v % 1000); }

// How long a domain call (suspend, resume) and the liveness query after an agent timeout
// may take before the domain counts as hung.
constexpr auto k_domain_call_limit = std::chrono::seconds(10);
constexpr auto k_liveness_limit = std::chrono::seconds(2);
// How a hung domain was ended, in PlatformLost's message.
constexpr const char* k_destroyed = "the domain was destroyed (its QEMU killed)";

// Runs `call` (a blocking libvirt call on the domain) and destroys the domain from a
// watchdog thread when it has not returned within `limit`: libvirtd waits for QEMU's
// monitor without a deadline, so a stopped or wedged QEMU would block the call (and
// virtbench's event loop) for ever; virDomainDestroy kills QEMU first, which ends it.
// Returns the call's result and whether the watchdog fired.
template <typename F>
std::pair<std::invoke_result_t<F&>, bool> with_watchdog(virDomainPtr domain, std::chrono::milliseconds limit, F call,
                                                        const std::function<void()>& before_destroy = {}) {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false, fired = false;
  std::thread dog([&] {
    std::unique_lock lock(mutex);
    if (!cv.wait_for(lock, limit, [&] { return done; })) {
      fired = true;
      lock.unlock();
      if (before_destroy)
        before_destroy();
      virDomainDestroy(domain);
    }
  });
  auto result = call();
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  cv.notify_one();
  dog.join();
  return {result, fired};
}

// What the connection says about the host (read on the worker: each is a call to libvirtd).
struct ConnectionFacts {
  std::string hostname, libvirt_version, hypervisor, hypervisor_version;
  bool kvm_offered = false;
};

ConnectionFacts read_connection_facts(virConnectPtr conn) {
  ConnectionFacts f;
  if (char* h = virConnectGetHostname(conn)) {
    f.hostname = h;
    std::free(h);
  }
  unsigned long v = 0;
  if (virConnectGetLibVersion(conn, &v) == 0)
    f.libvirt_version = version_string(v);
  if (const char* type = virConnectGetType(conn))
    f.hypervisor = type;
  if (virConnectGetVersion(conn, &v) == 0)
    f.hypervisor_version = version_string(v);
  char* caps = virConnectGetDomainCapabilities(conn, nullptr, "x86_64", nullptr, "kvm", 0);
  f.kvm_offered = caps != nullptr;
  std::free(caps);
  return f;
}

// What the running domain is, from its live XML and libvirt (read on the worker).
struct DomainFacts {
  bool read = false; // false when its XML could not be read
  std::string machine, cpu_model, qemu_command;
  std::optional<std::uint64_t> cpu_shares;
};

DomainFacts read_domain_facts(virConnectPtr conn, virDomainPtr domain) {
  DomainFacts f;
  char* xml = virDomainGetXMLDesc(domain, 0);
  if (!xml)
    return f;
  f.read = true;
  std::string live = xml;
  std::free(xml);
  f.machine = attribute_from_xml(live, "type", "machine").value_or("q35");
  auto mode = attribute_from_xml(live, "cpu", "mode").value_or("");
  f.cpu_model = mode == "maximum" ? "max" : mode == "host-passthrough" ? "host" : mode;
  // The domain's CPU weight in libvirt's cgroup: under contention from other processes the
  // whole VM competes as one entity (the qemu platform's threads compete one by one).
  int nparams = 0;
  if (char* type = virDomainGetSchedulerType(domain, &nparams)) {
    std::free(type);
    std::vector<virTypedParameter> params(static_cast<std::size_t>(std::max(nparams, 1)));
    if (virDomainGetSchedulerParametersFlags(domain, params.data(), &nparams, 0) == 0) {
      for (int i = 0; i < nparams; ++i)
        if (std::string_view(params[i].field) == VIR_DOMAIN_SCHEDULER_CPU_SHARES)
          f.cpu_shares = params[i].value.ul;
      virTypedParamsClear(params.data(), nparams);
    }
  }
  if (char* argv = virConnectDomainXMLToNative(conn, "qemu-argv", live.c_str(), 0)) {
    f.qemu_command = argv;
    std::free(argv);
    while (!f.qemu_command.empty() && f.qemu_command.back() == '\n')
      f.qemu_command.pop_back();
  }
  return f;
}

// The domain's cgroup (cpuacct): every QEMU thread, also the ones that have exited.
std::optional<CpuSeconds> read_domain_cpu(virDomainPtr domain) {
  int n = virDomainGetCPUStats(domain, nullptr, 0, -1, 1, 0);
  if (n <= 0)
    return std::nullopt;
  std::vector<virTypedParameter> params(static_cast<std::size_t>(n));
  int got = virDomainGetCPUStats(domain, params.data(), n, -1, 1, 0);
  if (got <= 0)
    return std::nullopt;
  std::optional<double> user, system;
  for (int i = 0; i < got; ++i) {
    std::string_view field = params[i].field;
    if (params[i].type != VIR_TYPED_PARAM_ULLONG)
      continue;
    if (field == VIR_DOMAIN_CPU_STATS_USERTIME)
      user = params[i].value.ul / 1e9;
    else if (field == VIR_DOMAIN_CPU_STATS_SYSTEMTIME)
      system = params[i].value.ul / 1e9;
  }
  virTypedParamsClear(params.data(), got);
  if (!user || !system)
    return std::nullopt;
  return CpuSeconds{*user, *system};
}

class LibvirtPlatform final : public vm::GuestPlatform {
public:
  explicit LibvirtPlatform(PlatformOptions options) : GuestPlatform(std::move(options)), m_pool(2) {
    m_uri = m_options.values.text("libvirt-uri").empty() ? std::string(k_default_uri) : m_options.values.text("libvirt-uri");
    // On a --host, libvirtd's socket there is forwarded over the run's SSH connection (start()).
    m_on_host = m_options.host && !m_options.host->location().empty();
    m_local = !m_on_host && is_local_uri(m_uri);
    // Remote hosts get their files through the pool; the integration test exercises that
    // path against the local libvirtd with this variable set.
    auto* force_pool = std::getenv("VIRTBENCH_LIBVIRT_POOL_STORAGE");
    m_pool_storage = !m_local || (force_pool && std::string_view(force_pool) == "1");
    // A remote host's cache is out of reach, but for a --host's: the run's host services drop it there.
    m_host_cache_reachable = m_local || m_on_host;
  }

  ~LibvirtPlatform() override {
    // stop() is the graceful path; this is the guarantee (AUTODESTROY would also end the
    // domain when the connection closes).
    if (m_domain && !m_destroyed)
      virDomainDestroy(m_domain.get());
    m_pool.join();
  }

  std::string name() const override { return "libvirt"; }

  awaitable<void> start() override {
    if (m_vm.machine != "q35") // refused before the run by the registry entry's check_options; for other callers
      throw UsageError("--machine " + m_vm.machine + ": the libvirt platform runs q35 only (its domain XML puts "
                       "the virtio devices on PCI); use --platform qemu --machine " + m_vm.machine +
                       ", or --machine q35 with libvirt");
    m_image = m_options.host->guest_image(m_options.data_dir);
    if (m_on_host)
      co_await forward_libvirtd();
    auto uri = m_uri;

    log("libvirt: connecting to " + uri);
    auto open = [uri] { return open_connection(uri); };
    m_conn = co_await run_blocking(m_pool, std::move(open));
    auto read_facts = [conn = m_conn.get()] { return read_connection_facts(conn); };
    auto facts = co_await run_blocking(m_pool, std::move(read_facts));
    m_hostname = facts.hostname;
    m_libvirt_version = facts.libvirt_version;
    m_hypervisor = facts.hypervisor;
    m_hypervisor_version = facts.hypervisor_version;
    m_kvm_offered = facts.kvm_offered;
    co_await clean_leftovers();

    auto host = m_local ? std::optional<vm::AccelDecision>(vm::choose_accel_for_host(m_vm.accel)) : std::nullopt;
    m_type = decide_domain_type(m_vm.accel, m_kvm_offered,
                                host ? std::optional<bool>(host->kvm_usable) : std::nullopt,
                                host ? host->reason : std::string());
    if (m_type.domain_type.empty())
      throw UsageError(m_type.reason);
    m_accel = m_type.accel;
    m_accel_reason = m_type.reason;

    m_name = std::string(k_domain_prefix) + (m_options.run_id.empty() ? std::string("libvirt") : m_options.run_id);
    auto parent = m_options.runtime_dir.empty() ? runtime_parent_dir() : m_options.runtime_dir;
    m_dir.emplace(parent, "libvirt-");
    m_raw_dir = m_options.raw_dir.empty() ? m_dir->path() : fs::absolute(m_options.raw_dir);
    fs::create_directories(m_raw_dir);

    DomainSpec spec;
    spec.name = m_name;
    spec.domain_type = m_type.domain_type;
    spec.machine = m_vm.machine;
    spec.cpu_mode = m_type.domain_type == "kvm" ? "host-passthrough" : "maximum";
    spec.vcpus = m_vm.vcpus;
    spec.memory_bytes = m_vm.memory_bytes;
    spec.kernel_cmdline = m_options.host->guest_kernel_cmdline(m_image, m_local, "q35"); // the host's TSC only for a local libvirtd
    spec.scratch_format = m_vm.scratch_format;
    spec.cache_mode = m_cache_mode;
    spec.io = m_aio;
    spec.agent_port_name = k_guest_agent_port;
    spec.owner = this_host_name() + " " + std::to_string(::getpid());
    log("libvirt: creating the disks in " + m_dir->path().string());
    if (!m_pool_storage)
      co_await prepare_local_files(spec);
    else
      co_await prepare_remote_files(spec);
    m_xml = build_domain_xml(spec);
    write_file_atomic(m_raw_dir / "domain.xml", m_xml);

    log(fmt::format("libvirt: starting domain {} on {} ({} = {}, {} vCPUs, {} MiB, cache={}, io={}; {})", m_name,
                    m_hostname, m_type.domain_type, m_type.accel, m_vm.vcpus, m_vm.memory_bytes >> 20,
                    m_cache_mode, m_aio, m_type.reason));
    m_started_at = Clock::now();
    auto create = [conn = m_conn.get(), xml = m_xml, name = m_name]() -> Domain {
      // AUTODESTROY: libvirtd destroys the domain when this connection closes, also when
      // virtbench is killed and stop() never runs.
      virDomainPtr d = virDomainCreateXML(conn, xml.c_str(), VIR_DOMAIN_START_AUTODESTROY);
      if (!d)
        throw Error("create libvirt domain " + name + ": " + last_error().message +
                    " (the domain XML is in raw/libvirt/domain.xml)");
      return Domain(d);
    };
    m_domain = co_await run_blocking(m_pool, std::move(create));
    auto read_facts_of_domain = [conn = m_conn.get(), domain = m_domain.get()] { return read_domain_facts(conn, domain); };
    auto domain_facts = co_await run_blocking(m_pool, std::move(read_facts_of_domain));
    if (domain_facts.read) {
      m_machine = domain_facts.machine;
      m_cpu_model = domain_facts.cpu_model;
      m_qemu_command = domain_facts.qemu_command;
      m_cpu_shares = domain_facts.cpu_shares;
    }

    m_transport.emplace(m_domain.get(), m_pool);
    vm::AgentTimeouts timeouts;
    timeouts.call = m_vm.agent_timeout;
    m_agent.emplace(*m_transport, timeouts);
    auto limit = m_type.domain_type == "kvm" ? 30s : 120s;
    std::exception_ptr failure;
    bool lost = false;
    {
      // captured: an agent that fails ends the wait at once, not after wait_until_inactive's limit.
      auto r = co_await (captured(m_agent->wait_until_ready(limit)) || wait_until_inactive(limit + 60s));
      lost = r.index() == 1;
      if (r.index() == 0)
        failure = std::get<0>(r);
    }
    if (failure && !lost && !is_cancellation(failure))
      lost = !co_await domain_active();
    if (lost)
      throw PlatformLost(lost_message("boot the guest", not_running()));
    if (failure) {
      if (is_cancellation(failure))
        std::rethrow_exception(failure);
      throw Error(fmt::format("boot the guest: its agent did not answer through libvirt within {} s (domain type {}; {})\n{}",
                              limit.count(), m_type.domain_type, what_of(failure), console_tail()));
    }
    m_boot_to_ready_s = std::chrono::duration<double>(Clock::now() - m_started_at).count();
    log(fmt::format("libvirt: guest agent answered {:.2f} s after virDomainCreateXML", m_boot_to_ready_s));
    if (m_console_host.empty()) // a remote domain's console stays in its pool until the end
      co_await record_boot_timeline(m_started_at);

    co_await prepare_guest_scratch(); // the scratch disk, mounted where fileio's files go
    m_booted = true;
  }

  awaitable<void> stop() override {
    if (m_stopped)
      co_return;
    m_stopped = true;
    if (m_domain && !m_destroyed) {
      auto destroy = [domain = m_domain.get()] {
        // Also frozen (paused) domains: destroy does not care, and the overlay is thrown away.
        if (virDomainDestroy(domain) != 0 && virDomainIsActive(domain) == 1)
          return last_error().message;
        return std::string();
      };
      std::string problem;
      try {
        problem = co_await run_blocking(m_pool, std::move(destroy));
      } catch (const std::exception& e) {
        problem = e.what();
      }
      if (!problem.empty())
        log("libvirt: could not destroy domain " + m_name + ": " + problem + "; run `virsh -c " + m_uri +
            " destroy " + m_name + "`");
      m_destroyed = true;
    }
    if (m_pool_storage && m_conn) {
      auto cleanup = [this] { return remove_remote_files(); };
      try {
        auto problem = co_await run_blocking(m_pool, std::move(cleanup));
        if (!problem.empty())
          log("libvirt: " + problem);
      } catch (const std::exception& e) {
        log(std::string("libvirt: ") + e.what());
      }
    }
    if (m_dir)
      m_dir->remove(); // overlay, scratch disk
    if (!m_forward.empty()) {
      // Last: the domain is destroyed and the volumes deleted. The handles stay for the
      // destructor (a cancelled call may still run on the workers); they fail from now on.
      m_options.host->cancel_forward(m_forward, m_remote_socket);
      m_forward.clear();
    }
  }

  awaitable<void> freeze() override { co_await domain_call("suspend", "virDomainSuspend", virDomainSuspend); }

  awaitable<void> thaw() override { co_await domain_call("resume", "virDomainResume", virDomainResume); }

  // virDomainSuspend or virDomainResume on the worker, under the watchdog: a hung QEMU
  // loses the platform.
  awaitable<void> domain_call(std::string verb, const char* call_name, int (*call)(virDomainPtr)) {
    auto d = domain();
    auto what = verb + " libvirt domain " + m_name;
    auto blocking = [d, call, what, kill = kill_local_qemu()] {
      auto [rc, hung] = with_watchdog(d, k_domain_call_limit, [d, call] { return call(d); }, kill);
      if (!hung && rc != 0)
        throw_libvirt_error(what); // libvirt's error is this (the worker's) thread's
      return hung;
    };
    if (co_await run_blocking(m_pool, std::move(blocking)))
      lost_as_hung(what, fmt::format("{} did not return within {} s", call_name, k_domain_call_limit.count()));
  }

  awaitable<std::optional<CpuSeconds>> host_accounting() override {
    if (!m_domain || m_destroyed)
      co_return std::nullopt;
    auto read = [domain = m_domain.get()] { return read_domain_cpu(domain); };
    co_return co_await run_blocking(m_pool, std::move(read));
  }

  // A local domain's scratch disk is a file in the run's runtime directory (or in the
  // pool's directory with VIRTBENCH_LIBVIRT_POOL_STORAGE=1); a remote one's is not here.
  // On a --host, the pool's directory there.
  std::optional<HostStorage> fileio_host_storage() const override {
    if (m_on_host)
      return HostStorage{k_pool_path};
    if (!m_local)
      return std::nullopt;
    if (m_pool_storage)
      return HostStorage{"/var/lib/libvirt/images"};
    return HostStorage{m_options.runtime_dir.empty() ? runtime_parent_dir() : m_options.runtime_dir};
  }

private:
  void describe_platform(json::object& d) const override {
    d["uri"] = m_uri;
    if (m_on_host) {
      d["libvirt_host"] = m_options.host->location();
      d["libvirt_socket"] = fmt::format("{} on {} (forwarded over SSH)", m_remote_socket, m_options.host->location());
    }
    d["host"] = m_hostname;
    d["domain_name"] = m_name;
    d["domain_type"] = m_type.domain_type;
    d["libvirt_version"] = m_libvirt_version;
    d["hypervisor"] = m_hypervisor;
    d["hypervisor_version"] = m_hypervisor_version;
    d["run_as"] = "root (static DAC label +0:+0, relabel=no)";
    d["storage"] = m_pool_storage ? std::string("pool ") + k_pool_name : std::string("local run directory");
    if (!m_qemu_command.empty())
      d["qemu_command"] = m_qemu_command;
    if (m_cpu_shares)
      d["cgroup_cpu_shares"] = *m_cpu_shares;
  }

  virDomainPtr domain() const {
    if (!m_domain || m_destroyed)
      throw Error("libvirt: the domain is not running (start() did not finish)");
    return m_domain.get();
  }

  // virDomainIsActive on the worker.
  awaitable<bool> domain_active() {
    if (!m_domain)
      co_return false;
    auto active = [domain = m_domain.get()] { return virDomainIsActive(domain) == 1; };
    co_return co_await run_blocking(m_pool, std::move(active));
  }

  std::string not_running() const { return "domain " + m_name + " is no longer running"; }

  // For a local domain, SIGKILL of its QEMU (pid from libvirt's pid file) before
  // virDomainDestroy: libvirt's destroy sends SIGTERM and waits 10 s before SIGKILL, and a
  // stopped QEMU never handles the SIGTERM.
  std::function<void()> kill_local_qemu() const {
    if (!m_local)
      return {};
    auto pid_file = fs::path("/run/libvirt/qemu") / (m_name + ".pid");
    return [pid_file] {
      try {
        auto pid = std::atoi(virtbench::read_file(pid_file).c_str());
        if (pid > 1)
          ::kill(pid, SIGKILL);
      } catch (const std::exception&) {
      }
    };
  }

  // The domain was destroyed as hung (the watchdog did it): the platform is lost.
  [[noreturn]] void lost_as_hung(const std::string& what, const std::string& why) {
    set_lost_reason(why + "; " + k_destroyed);
    throw PlatformLost(what + ": " + lost_reason());
  }

  // The failure policy's three questions run inline on this thread, each bounded (the
  // watchdog), as before the worker: run on the worker, they let the agent call queued
  // behind the one that timed out go first (likely what delays libvirtd), and a SIGSTOPped
  // QEMU was killed 40 s after its stop instead of 32 s (tests/integration/test_libvirt.py).
  awaitable<std::optional<std::string>> gone_reason(bool) override {
    if (m_domain && virDomainIsActive(m_domain.get()) != 1)
      co_return not_running();
    co_return std::nullopt;
  }

  // Does QEMU still answer its monitor (query-status through libvirt, under the watchdog),
  // with the guest running or paused?
  awaitable<std::string> check_alive() override {
    struct Answer {
      int rc = -1;
      bool hung = false;
      std::string text;
    };
    auto query = [d = domain(), kill = kill_local_qemu()] {
      Answer a;
      char* reply = nullptr;
      std::tie(a.rc, a.hung) = with_watchdog(
          d, k_liveness_limit,
          [d, &reply] { return virDomainQemuMonitorCommand(d, R"({"execute": "query-status"})", &reply, 0); }, kill);
      a.text = reply ? reply : "";
      std::free(reply);
      return a;
    };
    auto a = query();
    if (a.hung)
      co_return fmt::format("QMP query-status (through libvirt) did not answer within {} s either",
                            k_liveness_limit.count());
    if (a.rc == 0 && a.text.find("\"running\"") == std::string::npos && a.text.find("\"paused\"") == std::string::npos)
      co_return "QMP query-status says " + a.text;
    co_return "";
  }

  // The watchdog may have destroyed it already; destroying again is harmless.
  awaitable<std::string> end_hung() override {
    auto d = domain();
    with_watchdog(d, k_liveness_limit, [d] { return virDomainDestroy(d); });
    co_return k_destroyed;
  }

  // Returns when the domain is no longer active, or after `limit`.
  awaitable<void> wait_until_inactive(std::chrono::milliseconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline && co_await domain_active())
      co_await sleep_for(500ms);
  }

  // A --host's system libvirtd: its Unix socket there (the one --libvirt-uri names, else
  // virtqemud's or libvirtd's, as libvirt's own client picks) forwarded to one in this
  // platform's runtime directory through the run's SSH connection, and m_uri made to use it.
  // So libvirt needs no ssh of its own: the user's ssh config, --ssh-config, known_hosts and the
  // run's one login hold for it too.
  awaitable<void> forward_libvirtd() {
    auto url = m_options.host->location();
    m_remote_socket = remote_socket_of_uri(m_uri, url);
    if (m_remote_socket.empty())
      m_remote_socket = co_await find_libvirtd_socket(*m_options.host);
    auto local = (m_options.runtime_dir / "libvirtd.sock").string();
    co_await m_options.host->forward_socket(local, m_remote_socket);
    m_forward = local;
    m_uri = forwarded_libvirt_uri(local);
  }

  // Domains named virtbench-* left by a run that crashed (AUTODESTROY covers most cases;
  // a libvirtd restart does not). Domains of a virtbench still running here are left alone.
  awaitable<void> clean_leftovers() {
    auto clean = [conn = m_conn.get()] {
      std::vector<std::string> messages;
      virDomainPtr* domains = nullptr;
      int n = virConnectListAllDomains(conn, &domains, 0);
      for (int i = 0; i < n; ++i) {
        Domain d(domains[i]);
        const char* name = virDomainGetName(d.get());
        if (!name || !std::string_view(name).starts_with(k_domain_prefix))
          continue;
        std::optional<std::string> owner;
        if (char* xml = virDomainGetXMLDesc(d.get(), 0)) {
          owner = owner_from_xml(xml);
          std::free(xml);
        }
        if (owner && owner->rfind(' ') != std::string::npos &&
            owner->substr(0, owner->rfind(' ')) != this_host_name()) {
          // (A --host's libvirtd serves other controllers: that one's own next run judges it.)
          messages.push_back(fmt::format("domain {} belongs to virtbench on another machine ({}); left alone", name,
                                         *owner));
          continue;
        }
        if (owner && owner_is_alive(*owner)) {
          messages.push_back(fmt::format("domain {} belongs to a virtbench still running here ({}); left alone", name, *owner));
          continue;
        }
        bool active = virDomainIsActive(d.get()) == 1;
        if (active && virDomainDestroy(d.get()) != 0) {
          messages.push_back(fmt::format("could not destroy leftover domain {}: {}", name, last_error().message));
          continue;
        }
        if (virDomainIsPersistent(d.get()) == 1)
          virDomainUndefine(d.get());
        messages.push_back(fmt::format("removed domain {} left by an earlier run that did not finish ({})", name,
                                       owner ? "owner " + *owner : "no owner recorded"));
      }
      std::free(domains);
      return messages;
    };
    for (auto& m : co_await run_blocking(m_pool, std::move(clean)))
      log("libvirt: " + m);
  }

  awaitable<void> prepare_local_files(DomainSpec& spec) {
    auto dir = m_dir->path();
    auto overlay = dir / "root-overlay.qcow2";
    co_await vm::create_overlay(m_image.base_qcow2, overlay);
    auto scratch = co_await vm::create_scratch_disk(dir, m_options.scratch_bytes, m_vm.scratch_format);
    // As the qemu platform boots: the uncompressed kernel through PVH, and qboot (Debian's
    // qemu-system-data) for firmware, which only loads the kernel.
    spec.kernel = (m_image.vmlinux.empty() ? m_image.vmlinuz : m_image.vmlinux).string();
    if (fs::exists(vm::k_qboot_rom))
      spec.firmware = vm::k_qboot_rom;
    spec.initrd = m_image.initrd.string();
    spec.root_disk = overlay.string();
    spec.scratch_disk = scratch.string();
    m_host_scratch_disk = scratch;
    m_console_log = (m_raw_dir / "console.log").string();
    spec.console_log = m_console_log;
  }

  // A remote host: the image comes from the pool `virtbench image push` filled; the overlay
  // is a volume there, the scratch disk is made here and uploaded.
  awaitable<void> prepare_remote_files(DomainSpec& spec) {
    auto scratch = co_await vm::create_scratch_disk(m_dir->path(), m_options.scratch_bytes, m_vm.scratch_format);
    auto prepare = [this, scratch, &spec] {
      auto pool = find_pool(m_conn.get(), m_uri);
      auto image = find_pushed_image(pool.get(), m_image, m_uri);
      spec.kernel = image.vmlinuz;
      spec.initrd = image.initrd;
      auto prefix = m_name + "-";
      m_remote_volumes.push_back(prefix + "root.qcow2");
      spec.root_disk = create_overlay_volume(pool.get(), prefix + "root.qcow2", image.base_qcow2);
      m_remote_volumes.push_back(prefix + "scratch." + m_vm.scratch_format);
      spec.scratch_disk = upload_volume(m_conn.get(), pool.get(), prefix + "scratch." + m_vm.scratch_format,
                                        scratch, m_vm.scratch_format);
      m_console_log = pool_file_path(pool.get(), prefix + "console.log");
      m_console_host = m_hostname;
      m_remote_volumes.push_back(prefix + "console.log");
      spec.console_log = m_console_log;
    };
    co_await run_blocking(m_pool, std::move(prepare));
  }

  // Fetches the console log and deletes this run's volumes on the remote host.
  std::string remove_remote_files() {
    std::string problems;
    try {
      auto pool = find_pool(m_conn.get(), m_uri);
      virStoragePoolRefresh(pool.get(), 0);
      try {
        download_volume(m_conn.get(), pool.get(), m_name + "-console.log", m_raw_dir / "console.log");
      } catch (const std::exception& e) {
        problems += std::string("fetch the console log: ") + e.what() + "; ";
      }
      for (auto& name : m_remote_volumes)
        if (Volume v{virStorageVolLookupByName(pool.get(), name.c_str())}; v && virStorageVolDelete(v.get(), 0) != 0)
          problems += "delete volume " + name + ": " + last_error().message + "; ";
    } catch (const std::exception& e) {
      problems += e.what();
    }
    return problems;
  }

  asio::thread_pool m_pool; // blocking libvirt calls; invariant: joined before m_conn closes
  Connection m_conn;
  Domain m_domain; // uses m_conn
  std::optional<LibvirtAgentTransport> m_transport; // uses m_domain and m_pool
  std::optional<TempDir> m_dir;
  DomainTypeDecision m_type;
  std::string m_uri, m_name, m_xml;
  std::string m_hostname, m_libvirt_version, m_hypervisor, m_hypervisor_version, m_qemu_command;
  std::vector<std::string> m_remote_volumes;
  fs::path m_raw_dir;
  Clock::time_point m_started_at;
  std::optional<std::uint64_t> m_cpu_shares;
  bool m_on_host = false; // on the run's --host, through m_forward
  std::string m_forward;  // the local end of the --host's libvirtd socket, while forwarded
  std::string m_remote_socket;
  bool m_local = true, m_pool_storage = false, m_kvm_offered = false, m_booted = false, m_stopped = false, m_destroyed = false;
};

} // namespace

std::unique_ptr<Platform> make_platform(const PlatformOptions& options) {
  return std::make_unique<LibvirtPlatform>(options);
}

} // namespace virtbench::libvirt
