#include "drivers/libvirt/libvirt.hpp"

#include "drivers/libvirt/agent_transport.hpp"
#include "drivers/libvirt/connection.hpp"
#include "drivers/libvirt/domain_xml.hpp"
#include "drivers/libvirt/storage.hpp"
#include "drivers/qemu/accel.hpp"
#include "drivers/qemu/agent.hpp"
#include "drivers/qemu/disks.hpp"
#include "drivers/qemu/guest_ops.hpp"
#include "drivers/qemu/qemu_command.hpp"
#include "host.hpp"
#include "image.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <boost/json.hpp>

#include <libvirt/libvirt-qemu.h>

#include <fmt/format.h>

#include <cmath>
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

std::string version_string(unsigned long v) { return fmt::format("{}.{}.{}", v / 1000000, v / 1000 % 1000, v % 1000); }

// How long a domain call (suspend, resume) and the liveness query after an agent timeout
// may take before the domain counts as hung.
constexpr auto k_domain_call_limit = std::chrono::seconds(10);
constexpr auto k_liveness_limit = std::chrono::seconds(2);

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

class LibvirtPlatform final : public Platform {
public:
  explicit LibvirtPlatform(PlatformOptions options) : m_options(std::move(options)), m_pool(2) {
    m_uri = m_options.libvirt_uri.empty() ? std::string("qemu:///system") : m_options.libvirt_uri;
    m_local = is_local_uri(m_uri);
    // Remote hosts get their files through the pool; the integration test exercises that
    // path against the local libvirtd with this variable set.
    auto* force_pool = std::getenv("VIRTBENCH_LIBVIRT_POOL_STORAGE");
    m_pool_storage = !m_local || (force_pool && std::string_view(force_pool) == "1");
    m_cache_mode = m_options.cache_mode.empty() ? "none" : m_options.cache_mode;
    m_io = qemu::aio_for_cache_mode(m_cache_mode);
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
    if (m_options.machine != "q35")
      throw UsageError("--machine " + m_options.machine + ": the libvirt platform runs q35 only (its domain XML puts "
                       "the virtio devices on PCI); use --platform qemu --machine " + m_options.machine +
                       ", or --machine q35 with libvirt");
    auto uri = m_uri;
    m_image = load_guest_image(m_options.data_dir);

    log("libvirt: connecting to " + uri);
    auto open = [uri] { return open_connection(uri); };
    m_conn = co_await run_blocking(m_pool, std::move(open));
    read_connection_facts();
    co_await clean_leftovers();

    auto host = m_local ? std::optional<qemu::AccelDecision>(qemu::choose_accel_for_host(m_options.accel)) : std::nullopt;
    m_type = decide_domain_type(m_options.accel, m_kvm_offered,
                                host ? std::optional<bool>(host->kvm_usable) : std::nullopt,
                                host ? host->reason : std::string());
    if (m_type.domain_type.empty())
      throw UsageError(m_type.reason);

    m_name = std::string(k_domain_prefix) + (m_options.run_id.empty() ? std::string("libvirt") : m_options.run_id);
    auto parent = m_options.runtime_dir.empty() ? runtime_parent_dir() : m_options.runtime_dir;
    m_dir.emplace(parent, "libvirt-");
    m_raw_dir = m_options.raw_dir.empty() ? m_dir->path() : fs::absolute(m_options.raw_dir);
    fs::create_directories(m_raw_dir);

    DomainSpec spec;
    spec.name = m_name;
    spec.domain_type = m_type.domain_type;
    spec.machine = m_options.machine;
    spec.cpu_mode = m_type.domain_type == "kvm" ? "host-passthrough" : "maximum";
    spec.vcpus = m_options.vcpus;
    spec.memory_bytes = m_options.memory_bytes;
    spec.kernel_cmdline = guest_kernel_cmdline(m_image, m_local); // the host's TSC only for a local libvirtd
    spec.scratch_format = m_options.scratch_format;
    spec.cache_mode = m_cache_mode;
    spec.io = m_io;
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
                    m_hostname, m_type.domain_type, m_type.accel, m_options.vcpus, m_options.memory_bytes >> 20,
                    m_cache_mode, m_io, m_type.reason));
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
    read_domain_facts();

    m_transport.emplace(m_domain.get(), m_pool);
    m_agent.emplace(*m_transport);
    auto limit = m_type.domain_type == "kvm" ? 30s : 120s;
    std::exception_ptr failure;
    bool lost = false;
    try {
      auto r = co_await (m_agent->wait_until_ready(limit) || wait_until_inactive(limit + 60s));
      lost = r.index() == 1;
    } catch (...) {
      failure = std::current_exception();
    }
    if (lost || (failure && !domain_active()))
      throw PlatformLost("boot the guest: domain " + m_name + " is no longer running\n" + console_tail());
    if (failure) {
      if (is_cancellation(failure))
        std::rethrow_exception(failure);
      throw Error(fmt::format("boot the guest: its agent did not answer through libvirt within {} s (domain type {}; {})\n{}",
                              limit.count(), m_type.domain_type, what_of(failure), console_tail()));
    }
    m_boot_to_ready_s = std::chrono::duration<double>(Clock::now() - m_started_at).count();
    log(fmt::format("libvirt: guest agent answered {:.2f} s after virDomainCreateXML", m_boot_to_ready_s));

    try {
      m_guest_sysbench_version = co_await qemu::prepare_guest(*m_agent, qemu::k_guest_scratch_dir);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure)
      rethrow(failure, "prepare the guest");
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
  }

  awaitable<void> freeze() override {
    domain_call("suspend", "virDomainSuspend", virDomainSuspend);
    co_return;
  }

  awaitable<void> thaw() override {
    domain_call("resume", "virDomainResume", virDomainResume);
    co_return;
  }

  // virDomainSuspend or virDomainResume under the watchdog: a hung QEMU loses the platform.
  void domain_call(const std::string& verb, const char* call_name, int (*call)(virDomainPtr)) {
    auto d = domain();
    auto what = verb + " libvirt domain " + m_name;
    auto [rc, hung] = with_watchdog(d, k_domain_call_limit, [d, call] { return call(d); }, kill_local_qemu());
    if (hung)
      lost_as_hung(what, fmt::format("{} did not return within {} s", call_name, k_domain_call_limit.count()));
    if (rc != 0)
      throw_libvirt_error(what);
  }

  awaitable<ExecResult> exec(ExecRequest request) override {
    std::exception_ptr failure;
    try {
      co_return qemu::to_exec_result(co_await agent().exec(request.argv, request.cwd, request.timeout));
    } catch (...) {
      failure = std::current_exception();
    }
    rethrow(failure, "run " + format_argv(request.argv) + " in the guest");
  }

  awaitable<std::string> read_file(std::string path) override {
    std::exception_ptr failure;
    try {
      co_return co_await agent().read_file(path);
    } catch (...) {
      failure = std::current_exception();
    }
    rethrow(failure, "read " + path + " in the guest");
  }

  awaitable<std::vector<CacheDrop>> drop_caches() override {
    std::vector<CacheDrop> drops;
    std::exception_ptr failure;
    try {
      drops.push_back(co_await qemu::drop_guest_caches(agent()));
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure)
      rethrow(failure, "drop caches in the guest");
    // The host caches the disk files unless QEMU opens them with O_DIRECT; a remote host's
    // cache is out of reach (recorded by its absence).
    if (m_local) {
      // Dropped and recorded also with cache=none, where it cannot hold the data set.
      drops.push_back(drop_host_caches());
      drops.back().holds_data_set = !qemu::cache_mode_bypasses_host_cache(m_cache_mode);
      if (drops.back().holds_data_set && !m_host_scratch_disk.empty())
        drops.back().resident_after_kib = resident_kib(m_host_scratch_disk);
    }
    co_return drops;
  }

  awaitable<std::optional<CpuSeconds>> host_accounting() override {
    if (!m_domain || m_destroyed)
      co_return std::nullopt;
    // The domain's cgroup (cpuacct): every QEMU thread, also the ones that have exited.
    int n = virDomainGetCPUStats(m_domain.get(), nullptr, 0, -1, 1, 0);
    if (n <= 0)
      co_return std::nullopt;
    std::vector<virTypedParameter> params(static_cast<std::size_t>(n));
    int got = virDomainGetCPUStats(m_domain.get(), params.data(), n, -1, 1, 0);
    if (got <= 0)
      co_return std::nullopt;
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
      co_return std::nullopt;
    co_return CpuSeconds{*user, *system};
  }

  bool has_guest_view() const override { return true; }

  // A local domain's scratch disk is a file in the run's runtime directory (or in the
  // pool's directory with VIRTBENCH_LIBVIRT_POOL_STORAGE=1); a remote one's is not here.
  std::optional<HostStorage> fileio_host_storage() const override {
    if (!m_local)
      return std::nullopt;
    if (m_pool_storage)
      return HostStorage{"/var/lib/libvirt/images"};
    return HostStorage{m_options.runtime_dir.empty() ? runtime_parent_dir() : m_options.runtime_dir};
  }

  std::string scratch_dir() const override { return qemu::k_guest_scratch_dir; }

  json::object describe() const override {
    json::object d{{"name", "libvirt"},
                   {"uri", m_uri},
                   {"host", m_hostname},
                   {"domain_name", m_name},
                   {"domain_type", m_type.domain_type},
                   {"accel", m_type.accel},
                   {"accel_reason", m_type.reason},
                   {"libvirt_version", m_libvirt_version},
                   {"hypervisor", m_hypervisor},
                   {"hypervisor_version", m_hypervisor_version},
                   {"machine", m_machine},
                   {"cpu_model", m_cpu_model},
                   {"vcpus", m_options.vcpus},
                   {"memory_bytes", m_options.memory_bytes},
                   {"cache_mode", m_cache_mode},
                   {"aio", m_io},
                   {"scratch_format", m_options.scratch_format},
                   {"image_digest", m_image.recipe_hash},
                   {"sysbench_sha256", m_image.sysbench_sha256},
                   {"guest_kernel", m_image.kernel_version},
                   {"boot_to_ready_s", std::round(m_boot_to_ready_s * 1000) / 1000},
                   {"run_as", "root (static DAC label +0:+0, relabel=no)"},
                   {"storage", m_pool_storage ? std::string("pool ") + k_pool_name : std::string("local run directory")},
                   {"fileio_storage", "virtio scratch disk (" + m_options.scratch_format + ", ext4)"}};
    if (!m_guest_sysbench_version.empty())
      d["sysbench_version"] = m_guest_sysbench_version;
    if (!m_qemu_command.empty())
      d["qemu_command"] = m_qemu_command;
    if (m_cpu_shares)
      d["cgroup_cpu_shares"] = *m_cpu_shares;
    return d;
  }

private:
  void log(const std::string& line) const {
    if (m_options.log)
      m_options.log(line);
  }

  virDomainPtr domain() const {
    if (!m_domain || m_destroyed)
      throw Error("libvirt: the domain is not running (start() did not finish)");
    return m_domain.get();
  }

  qemu::GuestAgent& agent() {
    if (!m_agent)
      throw Error("libvirt: the guest is not running (start() did not finish)");
    return *m_agent;
  }

  bool domain_active() const { return m_domain && virDomainIsActive(m_domain.get()) == 1; }

  std::string console_tail() const {
    if (m_pool_storage)
      return "(the console log is on " + m_hostname + ": " + m_console_log + ")";
    std::string text;
    try {
      text = virtbench::read_file(m_console_log);
    } catch (const std::exception&) {
    }
    std::erase(text, '\r');
    auto tail = tail_lines(text, 20);
    return "last console lines (" + m_console_log + "):\n" + (tail.empty() ? "  (no console output)" : tail);
  }

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
    m_lost_reason = why + "; the domain was destroyed (its QEMU killed)";
    throw PlatformLost(what + ": " + m_lost_reason);
  }

  // After an agent timeout: does QEMU still answer its monitor (query-status through
  // libvirt, bounded by the watchdog), with the guest running? Throws PlatformLost if not.
  void check_alive(const std::string& what, const std::string& timeout) {
    auto d = domain();
    char* reply = nullptr;
    auto [rc, hung] = with_watchdog(
        d, k_liveness_limit,
        [d, &reply] { return virDomainQemuMonitorCommand(d, R"({"execute": "query-status"})", &reply, 0); },
        kill_local_qemu());
    std::string text = reply ? reply : "";
    std::free(reply);
    if (hung)
      lost_as_hung(what, timeout + fmt::format("; QMP query-status (through libvirt) did not answer within {} s either",
                                               k_liveness_limit.count()));
    if (rc == 0 && text.find("\"running\"") == std::string::npos && text.find("\"paused\"") == std::string::npos) {
      with_watchdog(d, k_liveness_limit, [d] { return virDomainDestroy(d); });
      lost_as_hung(what, timeout + "; QMP query-status says " + text);
    }
  }

  // Rethrows a failure with context; PlatformLost when the domain is gone.
  [[noreturn]] void rethrow(std::exception_ptr failure, const std::string& what) {
    if (is_cancellation(failure))
      std::rethrow_exception(failure);
    if (!m_lost_reason.empty())
      throw PlatformLost(what + ": " + m_lost_reason);
    if (m_domain && !domain_active())
      throw PlatformLost(what + ": domain " + m_name + " is no longer running\n" + console_tail());
    try {
      std::rethrow_exception(failure);
    } catch (const qemu::AgentTimeout& e) {
      check_alive(what, e.what());
      throw Error(what + ": " + e.what() + "\n" + console_tail());
    } catch (const UsageError&) {
      throw;
    } catch (const PlatformLost& e) {
      throw PlatformLost(what + ": " + e.what());
    } catch (const std::exception& e) {
      throw Error(what + ": " + e.what());
    }
  }

  // Returns when the domain is no longer active, or after `limit`.
  awaitable<void> wait_until_inactive(std::chrono::milliseconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline && domain_active())
      co_await sleep_for(500ms);
  }

  void read_connection_facts() {
    auto conn = m_conn.get();
    if (char* h = virConnectGetHostname(conn)) {
      m_hostname = h;
      std::free(h);
    }
    unsigned long v = 0;
    if (virConnectGetLibVersion(conn, &v) == 0)
      m_libvirt_version = version_string(v);
    if (const char* type = virConnectGetType(conn))
      m_hypervisor = type;
    if (virConnectGetVersion(conn, &v) == 0)
      m_hypervisor_version = version_string(v);
    char* caps = virConnectGetDomainCapabilities(conn, nullptr, "x86_64", nullptr, "kvm", 0);
    m_kvm_offered = caps != nullptr;
    std::free(caps);
  }

  void read_domain_facts() {
    char* xml = virDomainGetXMLDesc(m_domain.get(), 0);
    if (!xml)
      return;
    std::string live = xml;
    std::free(xml);
    m_machine = attribute_from_xml(live, "type", "machine").value_or("q35");
    auto mode = attribute_from_xml(live, "cpu", "mode").value_or("");
    m_cpu_model = mode == "maximum" ? "max" : mode == "host-passthrough" ? "host" : mode;
    // The domain's CPU weight in libvirt's cgroup: under contention from other processes the
    // whole VM competes as one entity (the qemu platform's threads compete one by one).
    int nparams = 0;
    if (char* type = virDomainGetSchedulerType(m_domain.get(), &nparams)) {
      std::free(type);
      std::vector<virTypedParameter> params(static_cast<std::size_t>(std::max(nparams, 1)));
      if (virDomainGetSchedulerParametersFlags(m_domain.get(), params.data(), &nparams, 0) == 0) {
        for (int i = 0; i < nparams; ++i)
          if (std::string_view(params[i].field) == VIR_DOMAIN_SCHEDULER_CPU_SHARES)
            m_cpu_shares = params[i].value.ul;
        virTypedParamsClear(params.data(), nparams);
      }
    }
    if (char* argv = virConnectDomainXMLToNative(m_conn.get(), "qemu-argv", live.c_str(), 0)) {
      m_qemu_command = argv;
      std::free(argv);
      while (!m_qemu_command.empty() && m_qemu_command.back() == '\n')
        m_qemu_command.pop_back();
    }
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
    co_await qemu::create_overlay(m_image.base_qcow2, overlay);
    auto scratch = co_await qemu::create_scratch_disk(dir, m_options.scratch_bytes, m_options.scratch_format);
    spec.kernel = m_image.vmlinuz.string();
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
    auto scratch = co_await qemu::create_scratch_disk(m_dir->path(), m_options.scratch_bytes, m_options.scratch_format);
    auto prepare = [this, scratch, &spec] {
      auto pool = find_pool(m_conn.get(), m_uri);
      auto image = find_pushed_image(pool.get(), m_image, m_uri);
      spec.kernel = image.vmlinuz;
      spec.initrd = image.initrd;
      auto prefix = m_name + "-";
      m_remote_volumes.push_back(prefix + "root.qcow2");
      spec.root_disk = create_overlay_volume(pool.get(), prefix + "root.qcow2", image.base_qcow2);
      m_remote_volumes.push_back(prefix + "scratch." + m_options.scratch_format);
      spec.scratch_disk = upload_volume(m_conn.get(), pool.get(), prefix + "scratch." + m_options.scratch_format,
                                        scratch, m_options.scratch_format);
      m_console_log = pool_file_path(pool.get(), prefix + "console.log");
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

  PlatformOptions m_options;
  asio::thread_pool m_pool; // blocking libvirt calls; invariant: joined before m_conn closes
  Connection m_conn;
  Domain m_domain; // uses m_conn
  std::optional<LibvirtAgentTransport> m_transport; // uses m_domain and m_pool
  std::optional<qemu::GuestAgent> m_agent;          // uses m_transport
  std::optional<TempDir> m_dir;
  GuestImage m_image;
  DomainTypeDecision m_type;
  std::string m_uri, m_name, m_xml, m_cache_mode, m_io, m_console_log;
  std::string m_hostname, m_libvirt_version, m_hypervisor, m_hypervisor_version, m_machine, m_cpu_model,
      m_qemu_command, m_guest_sysbench_version;
  std::vector<std::string> m_remote_volumes;
  fs::path m_raw_dir;
  Clock::time_point m_started_at;
  double m_boot_to_ready_s = 0;
  std::optional<std::uint64_t> m_cpu_shares;
  std::string m_lost_reason; // why the domain was destroyed as hung, once it was
  fs::path m_host_scratch_disk; // a local (not pool) scratch disk file: its host pages are checked after drops
  bool m_local = true, m_pool_storage = false, m_kvm_offered = false, m_booted = false, m_stopped = false, m_destroyed = false;
};

} // namespace

std::unique_ptr<Platform> make_platform(const PlatformOptions& options) {
  return std::make_unique<LibvirtPlatform>(options);
}

} // namespace virtbench::libvirt
