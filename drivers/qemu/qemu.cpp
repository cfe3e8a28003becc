#include "drivers/qemu/qemu.hpp"

#include "drivers/qemu/qemu_command.hpp"
#include "drivers/qemu/qemu_process.hpp"
#include "drivers/qemu/qmp_client.hpp"
#include "drivers/qemu/qmp_protocol.hpp"
#include "drivers/qemu/remote_qemu.hpp"
#include "drivers/vm/accel.hpp"
#include "drivers/vm/agent.hpp"
#include "drivers/vm/boot_timeline.hpp"
#include "drivers/vm/disks.hpp"
#include "drivers/vm/guest_ops.hpp"
#include "drivers/vm/guest_platform.hpp"
#include "procstat.hpp"
#include "util/error.hpp"
#include "util/failure.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace virtbench::qemu {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto k_qmp_timeout = std::chrono::seconds(10);
constexpr std::size_t k_max_events_described = 200;
// How long QMP gets to answer query-status after an agent or QMP call timed out.
constexpr auto k_liveness_timeout = std::chrono::seconds(2);

// O_DIRECT (cache=none/directsync) is not supported by every filesystem (older tmpfs).
bool supports_o_direct(const fs::path& dir) {
  auto probe = dir / ".o_direct_probe";
  int fd = ::open(probe.c_str(), O_CREAT | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno != EINVAL;
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}


class QemuPlatform final : public vm::GuestPlatform {
public:
  explicit QemuPlatform(PlatformOptions options) : GuestPlatform(std::move(options)) { m_machine = m_vm.machine; }

  ~QemuPlatform() override {
    // stop() is the graceful path; this is the guarantee (QemuProcess kills its group,
    // TempDir removes overlay, scratch disk and sockets).
    if (m_process)
      m_process->on_exit(nullptr);
  }

  std::string name() const override { return "qemu"; }

  awaitable<void> start() override {
    auto executor = co_await asio::this_coro::executor;
    m_remote = !m_options.host->location().empty();
    bool qboot = false;
    vm::AccelDecision decision;
    if (m_remote) {
      // QEMU runs there: the image pushed there, that host's KVM and tools.
      m_image = m_options.host->host_guest_image(m_options.data_dir);
      auto facts = co_await probe_remote();
      vm::AccelFacts accel_facts;
      accel_facts.cpuinfo = facts.cpuinfo;
      accel_facts.dev_kvm_exists = facts.dev_kvm;
      accel_facts.kvm_pvm_loaded = facts.kvm_pvm;
      decision = vm::choose_accel(m_vm.accel, accel_facts);
      qboot = facts.qboot;
    } else {
      m_image = m_options.host->guest_image(m_options.data_dir);
      decision = vm::choose_accel_for_host(m_vm.accel);
      qboot = fs::exists(vm::k_qboot_rom);
    }
    if (decision.accel.empty())
      throw UsageError(decision.reason);
    m_accel = decision.accel;
    m_accel_reason = decision.reason;
    m_cpu_model = m_accel == "kvm" ? "host" : "max";

    auto parent = m_options.runtime_dir.empty() ? runtime_parent_dir() : m_options.runtime_dir;
    m_dir.emplace(parent, "qemu-");
    auto dir = m_dir->path();
    m_qmp_socket = dir / "qmp.sock";
    m_agent_socket = dir / "qga.sock";
    if (m_agent_socket.string().size() > 100)
      throw Error("the socket path " + m_agent_socket.string() +
                  " is too long for a Unix socket; set XDG_RUNTIME_DIR to a shorter directory");
    if (!m_remote && vm::cache_mode_bypasses_host_cache(m_cache_mode) && !supports_o_direct(dir))
      throw Error("--cache-mode " + m_cache_mode + " needs O_DIRECT, which the filesystem of " +
                  dir.string() + " does not support; use --cache-mode writeback, or point XDG_RUNTIME_DIR "
                  "at a directory on a disk filesystem");
    auto raw_dir = m_options.raw_dir.empty() ? dir : fs::absolute(m_options.raw_dir);
    fs::create_directories(raw_dir);
    m_console_log = (raw_dir / "console.log").string();
    m_raw_dir = raw_dir;

    if (m_remote) {
      // Sockets forwarded into `dir` here; QEMU's files in its directory there.
      m_remote_dir = m_options.host->remote_scratch_dir() + "/" + dir.filename().string();
      m_local_qmp_socket = m_qmp_socket;
      m_local_agent_socket = m_agent_socket;
      m_qmp_socket = m_remote_dir + "/qmp.sock";
      m_agent_socket = m_remote_dir + "/qga.sock";
      if (m_agent_socket.string().size() > 100)
        throw Error("the socket path " + m_agent_socket.string() + " on " + m_options.host->location() +
                    " is too long for a Unix socket; pick a shorter parent with --scratch-dir DIR");
      m_remote_console = m_remote_dir + "/console.log";
      log("qemu: creating the disks in " + m_remote_dir + " on " + m_options.host->location());
      co_await create_remote_disks();
    } else {
      log("qemu: creating the disks in " + dir.string());
      m_overlay = dir / "root-overlay.qcow2";
      co_await vm::create_overlay(m_image.base_qcow2, m_overlay);
      m_scratch_disk = co_await vm::create_scratch_disk(dir, m_options.scratch_bytes, m_vm.scratch_format);
      m_host_scratch_disk = m_scratch_disk; // the host's pages of the data set's disk are checked after drops
    }

    QemuCommand command;
    command.accel = m_accel;
    command.machine = m_vm.machine;
    // qboot (Debian's qemu-system-data) instead of SeaBIOS on q35: it only loads the kernel
    // (microvm uses it by default).
    if (command.machine == "q35" && qboot)
      command.firmware = vm::k_qboot_rom;
    command.cpu_model = m_cpu_model;
    command.vcpus = m_vm.vcpus;
    command.memory_bytes = m_vm.memory_bytes;
    // The uncompressed kernel boots through PVH, without the bzImage's decompression.
    command.kernel = m_image.vmlinux.empty() ? m_image.vmlinuz : m_image.vmlinux;
    command.initrd = m_image.initrd;
    command.kernel_cmdline = m_kernel_cmdline = m_options.host->guest_kernel_cmdline(m_image, true, command.machine);
    command.root_disk = m_overlay;
    command.scratch_disk = m_scratch_disk;
    command.scratch_format = m_vm.scratch_format;
    command.cache_mode = m_cache_mode;
    command.aio = m_aio;
    command.console_log = m_remote ? m_remote_console : m_console_log;
    command.qmp_socket = m_qmp_socket;
    command.agent_socket = m_agent_socket;
    command.agent_port_name = k_guest_agent_port;
    command.name = "virtbench-" + (m_options.run_id.empty() ? std::string("qemu") : m_options.run_id);
    command.extra_args = m_options.values.list("qemu-arg");
    m_argv = build_qemu_argv(command);

    log(fmt::format("qemu: booting ({}, {} vCPUs, {} MiB, cache={}, aio={}; {})", m_accel, m_vm.vcpus,
                    m_vm.memory_bytes >> 20, m_cache_mode, m_aio, m_accel_reason));
    m_process.emplace(executor);
    m_started_at = Clock::now();
    if (m_remote) {
      // ssh runs it there; its wrapper ends QEMU when this ssh's stdin (held here) closes.
      m_process->start(m_options.host->long_lived_argv(m_argv, remote_pid_file()), true);
    } else {
      m_process->start(m_argv);
    }
    m_process->on_exit([this] { on_qemu_exit(); });
    if (m_remote)
      co_await forward_sockets();

    // QMP: greeting, capabilities, versions. A QEMU that dies here (bad --qemu-arg, no
    // KVM) must fail at once, not after the connect timeout.
    m_qmp.emplace(executor);
    m_qmp->on_event([this](const QmpEvent& e) {
      if (e.name == "BLOCK_IO_ERROR" || e.name == "GUEST_PANICKED")
        log("qemu: event " + e.name + " " + json::serialize(e.data));
    });
    std::exception_ptr failure;
    {
      std::string path = m_remote ? m_local_qmp_socket.string() : m_qmp_socket.string();
      auto r = co_await (captured(m_qmp->connect(path, std::chrono::seconds(30))) || m_process->wait_for_exit(24h));
      if (r.index() == 1 && std::get<1>(r))
        throw PlatformLost(lost_message("connect to QMP", exit_reason()));
      if (r.index() == 0)
        failure = std::get<0>(r);
    }
    if (failure)
      co_await rethrow(failure, "QMP");
    json::object none;
    try {
      std::string cmd = "query-version";
      auto version = parse_query_version(co_await m_qmp->execute(cmd, none, k_qmp_timeout));
      m_qemu_version = version.version;
      m_qemu_package = version.package;
      cmd = "query-kvm";
      m_kvm = co_await m_qmp->execute(cmd, none, k_qmp_timeout);
      cmd = "query-status";
      auto status = co_await m_qmp->execute(cmd, none, k_qmp_timeout);
      if (auto state = parse_query_status(status); state != "running")
        throw Error("QEMU is not running the guest after its start: query-status says " + json::serialize(status));
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure)
      co_await rethrow(failure, "QMP");

    // Boot: until the guest agent answers.
    m_transport.emplace(executor, m_remote ? m_local_agent_socket.string() : m_agent_socket.string());
    vm::AgentTimeouts timeouts;
    timeouts.call = m_vm.agent_timeout;
    m_agent.emplace(*m_transport, timeouts);
    auto limit = m_accel == "kvm" ? 30s : 120s;
    bool lost = false;
    {
      auto r = co_await (captured(m_agent->wait_until_ready(limit)) || m_process->wait_for_exit(limit + 60s));
      lost = r.index() == 1 && std::get<1>(r);
      if (r.index() == 0)
        failure = std::get<0>(r);
    }
    if (m_remote && (lost || (failure && !is_cancellation(failure))))
      co_await fetch_console();
    if (lost || (failure && !m_process->running()))
      throw PlatformLost(lost_message("boot the guest", exit_reason()));
    if (failure) {
      if (is_cancellation(failure))
        std::rethrow_exception(failure);
      throw Error(fmt::format("boot the guest: its agent did not answer within {} s (accel {})\n{}", limit.count(),
                              m_accel, console_tail()));
    }
    m_boot_to_ready_s = std::chrono::duration<double>(Clock::now() - m_started_at).count();
    log(fmt::format("qemu: guest agent answered {:.2f} s after QEMU started", m_boot_to_ready_s));
    co_await fetch_console(); // a remote QEMU's, for the boot timeline
    co_await record_boot_timeline(m_started_at);

    co_await prepare_guest_scratch(); // the scratch disk, mounted where fileio's files go
    m_booted = true;
  }

  awaitable<void> stop() override {
    if (m_stopped)
      co_return;
    m_stopped = true;
    if (m_process && m_process->running()) {
      bool exited = false;
      // Gracefully first: a running guest powers off when the agent asks it to.
      if (m_frozen && m_qmp && m_qmp->is_open()) {
        try {
          std::string cont = "cont";
          json::object none;
          co_await m_qmp->execute(cont, none, 3s);
          m_frozen = false;
        } catch (const std::exception&) {
        }
      }
      if (m_booted && !m_frozen) {
        try {
          co_await m_agent->shutdown(3s);
          exited = co_await m_process->wait_for_exit(10s);
        } catch (const std::exception&) {
        }
      }
      if (!exited && m_qmp && m_qmp->is_open()) {
        try {
          std::string quit = "quit";
          json::object none;
          co_await m_qmp->execute(quit, none, 3s);
        } catch (const std::exception&) {
        }
        try {
          exited = co_await m_process->wait_for_exit(5s);
        } catch (const std::exception&) {
        }
      }
      if (!exited)
        log("qemu: QEMU did not exit after guest-shutdown and QMP quit; sending SIGTERM, then SIGKILL");
      if (!exited && m_remote)
        co_await kill_remote(5); // the local ssh ends with it
    }
    if (m_process) {
      try {
        auto problems = co_await m_process->terminate(5s);
        if (!problems.empty())
          log("qemu: " + problems);
      } catch (const std::exception&) {
      }
    }
    if (m_qmp)
      m_qmp->close("the qemu platform was stopped");
    if (m_transport)
      m_transport->close("the qemu platform was stopped");
    if (m_process && !m_process->stderr_text().empty() && !m_raw_dir.empty()) {
      try {
        write_file_atomic(m_raw_dir / "qemu.stderr.log", m_process->stderr_text());
      } catch (const std::exception&) {
      }
    }
    if (m_remote)
      co_await stop_remote();
    if (m_dir)
      m_dir->remove(); // overlay, scratch disk, sockets
  }

  awaitable<void> freeze() override {
    co_await qmp_command("stop");
    m_frozen = true;
  }

  awaitable<void> thaw() override {
    co_await qmp_command("cont");
    m_frozen = false;
  }

  awaitable<std::optional<CpuSeconds>> host_accounting() override {
    if (!m_process || !m_process->running())
      co_return std::nullopt;
    if (m_remote)
      co_return co_await remote_accounting();
    // /proc/PID/stat sums every thread of QEMU, also the ones that have exited
    // (I/O workers come and go), which /proc/PID/task/*/stat would miss.
    std::string stat;
    try {
      stat = virtbench::read_file(fmt::format("/proc/{}/stat", m_process->pid()));
    } catch (const std::exception&) {
      co_return std::nullopt;
    }
    auto [user, kernel] = parse_proc_pid_stat_cpu(stat, ::sysconf(_SC_CLK_TCK));
    co_return CpuSeconds{user, kernel};
  }

  // The scratch disk is a sparse file in the run's runtime directory.
  std::optional<HostStorage> fileio_host_storage() const override {
    if (m_options.host && !m_options.host->location().empty())
      return HostStorage{m_options.host->remote_scratch_dir()}; // on the remote host (its free_bytes)
    return HostStorage{m_options.runtime_dir.empty() ? runtime_parent_dir() : m_options.runtime_dir};
  }

private:
  void describe_platform(json::object& d) const override {
    d["qemu_version"] = m_qemu_version;
    if (!m_qemu_package.empty())
      d["qemu_package"] = m_qemu_package;
    if (!m_kvm.is_null())
      d["query_kvm"] = m_kvm;
    if (!m_argv.empty())
      d["qemu_command"] = format_argv(m_argv);
    if (!m_kernel_cmdline.empty())
      d["kernel_cmdline"] = m_kernel_cmdline;
    if (m_remote)
      d["host"] = m_options.host->location(); // QEMU ran there
    if (m_qmp) {
      json::array events;
      auto& all = m_qmp->events();
      auto first = all.size() > k_max_events_described ? all.size() - k_max_events_described : 0;
      for (auto i = first; i < all.size(); ++i) {
        json::object e{{"event", all[i].name}, {"timestamp", all[i].timestamp}};
        if (!all[i].data.is_null())
          e["data"] = all[i].data;
        events.push_back(std::move(e));
      }
      d["qemu_events"] = std::move(events);
    }
  }

  void on_qemu_exit() {
    auto reason = "QEMU exited (" + m_process->exit_description() + ")";
    if (m_qmp)
      m_qmp->close(reason);
    if (m_transport)
      m_transport->close(reason);
    if (!m_stopped)
      log("qemu: " + reason);
  }

  // How QEMU ended, with the tail of its stderr (for PlatformLost).
  std::string exit_reason() const {
    std::string how = m_process && !m_process->running() ? m_process->exit_description() : "still running";
    auto err = m_process ? tail_lines(m_process->stderr_text(), 10) : std::string();
    if (m_remote && how == "exit code 255")
      how += fmt::format(": ssh's own failure, the SSH connection to {} was lost", m_options.host->location());
    return fmt::format("QEMU{} exited ({}){}", m_remote ? " on " + m_options.host->location() : "", how,
                       err.empty() ? "" : "; its stderr:\n" + err);
  }

  awaitable<std::optional<std::string>> gone_reason(bool may_wait) override {
    bool gone = false;
    if (m_process && m_process->started()) {
      if (!m_process->running())
        gone = true;
      else if (may_wait)
        gone = co_await m_process->wait_for_exit(2s);
    }
    if (!gone)
      co_return std::nullopt;
    co_return exit_reason();
  }

  // Does QEMU still answer QMP, with the guest running (or paused by freeze())?
  awaitable<std::string> check_alive() override {
    if (!m_qmp || !m_qmp->is_open())
      co_return "QMP is closed";
    std::exception_ptr failure;
    try {
      std::string cmd = "query-status";
      json::object none;
      auto status = co_await m_qmp->execute(cmd, none, k_liveness_timeout);
      auto state = parse_query_status(status);
      if (state == "running" || (state == "paused" && m_frozen))
        co_return "";
      co_return "QMP query-status says the VM is " + (state.empty() ? json::serialize(status) : state);
    } catch (...) {
      failure = std::current_exception();
    }
    if (is_cancellation(failure))
      std::rethrow_exception(failure);
    co_return fmt::format("QMP query-status did not answer within {} s either ({})",
                          std::chrono::duration<double>(k_liveness_timeout).count(), what_of(failure));
  }

  // SIGKILL works on a stopped process too.
  awaitable<std::string> end_hung() override {
    if (m_remote)
      co_await kill_remote(0);
    auto done = m_remote ? fmt::format("QEMU on {} was killed", m_options.host->location())
                         : fmt::format("QEMU (pid {}) was killed", m_process->pid());
    auto problems = co_await m_process->terminate(std::chrono::milliseconds(0));
    if (!problems.empty())
      done += " (" + problems + ")";
    co_return done;
  }

  // --- QEMU on a remote host (--host): everything through m_options.host ---

  std::string remote_pid_file() const { return m_remote_dir + "/qemu.pid"; }

  // A command there that must succeed; throws Error naming it, its exit and stderr.
  awaitable<ExecResult> remote_checked(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    ExecRequest request{argv, "", timeout};
    auto r = co_await m_options.host->exec(std::move(request));
    if (r.exit_code != 0 || r.timed_out)
      throw Error(fmt::format("{} on {}: {}{}", format_argv(argv), m_options.host->location(),
                              r.timed_out ? "timed out" : fmt::format("exit code {}", r.exit_code),
                              r.err.empty() ? "" : ": " + tail_lines(r.err, 3)));
    co_return r;
  }

  awaitable<RemoteQemuFacts> probe_remote() {
    std::vector<std::string> argv{"sh", "-c", k_remote_probe_script};
    auto r = co_await remote_checked(argv, std::chrono::seconds(30));
    auto facts = parse_remote_probe(r.out);
    if (!facts.missing.empty()) {
      throw Error(fmt::format("qemu on {}: {} not installed there (not in its PATH); install {} there",
                              m_options.host->location(), missing_tools_text(facts), k_remote_qemu_packages));
    }
    co_return facts;
  }

  // The run's remote directory's qemu-XXXX/ with the overlay and the scratch disk.
  awaitable<void> create_remote_disks() {
    std::vector<std::string> mkdir{"mkdir", "-m", "700", "--", m_remote_dir};
    co_await remote_checked(mkdir, std::chrono::seconds(30));
    m_remote_dir_made = true;
    if (vm::cache_mode_bypasses_host_cache(m_cache_mode)) {
      std::vector<std::string> probe{"dd", "if=/dev/zero", "of=" + m_remote_dir + "/.o_direct_probe", "bs=4096",
                                     "count=1", "oflag=direct", "status=none"};
      ExecRequest request{probe, "", std::chrono::seconds(30)};
      auto r = co_await m_options.host->exec(std::move(request));
      if (r.exit_code != 0)
        throw Error(fmt::format("--cache-mode {} needs O_DIRECT, which the filesystem of {} on {} does not support "
                                "({}); use --cache-mode writeback, or --scratch-dir DIR on a disk filesystem there",
                                m_cache_mode, m_remote_dir, m_options.host->location(), tail_lines(r.err, 1)));
    }
    std::string scratch;
    auto steps = vm::remote_disk_argvs(m_image.base_qcow2.string(), m_remote_dir, m_options.scratch_bytes,
                                       m_vm.scratch_format, scratch);
    for (auto& argv : steps)
      co_await remote_checked(argv, std::chrono::minutes(5));
    m_overlay = m_remote_dir + "/root-overlay.qcow2";
    m_scratch_disk = scratch; // (its pages in the remote's cache are not measured: m_host_scratch_disk stays empty)
  }

  // Until QEMU made its sockets there, then both forwarded into the local directory. QEMU
  // dying first is PlatformLost with its stderr.
  awaitable<void> forward_sockets() {
    std::exception_ptr failure;
    bool exited = false;
    try {
      auto wait = wait_for_sockets_argv(m_qmp_socket.string(), m_agent_socket.string());
      auto r = co_await (remote_checked(wait, std::chrono::seconds(40)) || m_process->wait_for_exit(24h));
      exited = r.index() == 1;
    } catch (...) {
      failure = std::current_exception();
    }
    if (exited || (failure && !is_cancellation(failure) && !m_process->running())) {
      co_await fetch_console();
      throw PlatformLost(lost_message("start QEMU", exit_reason()));
    }
    if (failure)
      std::rethrow_exception(failure);
    co_await m_options.host->forward_socket(m_local_qmp_socket.string(), m_qmp_socket.string());
    m_qmp_forwarded = true;
    co_await m_options.host->forward_socket(m_local_agent_socket.string(), m_agent_socket.string());
    m_agent_forwarded = true;
  }

  // The remote console log into raw/qemu/console.log (the last MiB). Best effort.
  awaitable<void> fetch_console() {
    if (!m_remote || m_remote_console.empty())
      co_return;
    try {
      ExecRequest request{{"tail", "-c", "1048576", "--", m_remote_console}, "", std::chrono::seconds(30)};
      auto r = co_await m_options.host->exec(std::move(request));
      if (r.exit_code == 0)
        write_file_atomic(m_console_log, r.out);
    } catch (...) {
      if (is_cancellation(std::current_exception()))
        throw;
    }
  }

  // SIGTERM (SIGKILL after grace_s) to QEMU there, until it is gone. Best effort: when the
  // connection is gone, the ssh running QEMU is too, and the wrapper ends QEMU.
  awaitable<void> kill_remote(int grace_s) {
    try {
      ExecRequest request{kill_remote_qemu_argv(remote_pid_file(), m_remote_dir, grace_s), "",
                          std::chrono::seconds(grace_s + 20)};
      auto r = co_await m_options.host->exec(std::move(request));
      if (r.exit_code != 0)
        log(fmt::format("qemu: QEMU on {} did not end after SIGKILL ({})", m_options.host->location(),
                        tail_lines(r.err, 2)));
      if (m_process)
        co_await m_process->wait_for_exit(5s); // the wrapper exits with QEMU, ssh with it
    } catch (...) {
      if (is_cancellation(std::current_exception()))
        throw;
    }
  }

  // stop()'s remote part once QEMU is gone: console log back, forwards cancelled, its
  // directory there removed (the run's remote directory goes at the end in any case).
  awaitable<void> stop_remote() {
    co_await fetch_console();
    if (m_qmp_forwarded)
      m_options.host->cancel_forward(m_local_qmp_socket.string(), m_qmp_socket.string());
    if (m_agent_forwarded)
      m_options.host->cancel_forward(m_local_agent_socket.string(), m_agent_socket.string());
    m_qmp_forwarded = m_agent_forwarded = false;
    if (m_remote_dir_made) {
      try {
        ExecRequest request{{"rm", "-rf", "--", m_remote_dir}, "", std::chrono::seconds(60)};
        co_await m_options.host->exec(std::move(request));
        m_remote_dir_made = false;
      } catch (...) {
        if (is_cancellation(std::current_exception()))
          throw;
      }
    }
  }

  // QEMU's CPU seconds from its /proc/PID/stat there, through the host's reader.
  awaitable<std::optional<CpuSeconds>> remote_accounting() {
    try {
      if (m_remote_pid <= 0) {
        auto text = co_await m_options.host->read_host_file(remote_pid_file());
        m_remote_pid = std::stol(text);
      }
      auto stat = co_await m_options.host->read_host_file(fmt::format("/proc/{}/stat", m_remote_pid));
      auto [user, kernel] = parse_proc_pid_stat_cpu(stat, ::sysconf(_SC_CLK_TCK));
      co_return CpuSeconds{user, kernel};
    } catch (...) {
      if (is_cancellation(std::current_exception()))
        throw;
    }
    co_return std::nullopt;
  }

  awaitable<void> qmp_command(std::string command) {
    std::exception_ptr failure;
    try {
      if (!m_qmp)
        throw Error("QEMU is not running");
      json::object none;
      co_await m_qmp->execute(command, none, k_qmp_timeout);
      co_return;
    } catch (...) {
      failure = std::current_exception();
    }
    co_await rethrow(failure, "QMP " + command);
  }

  std::optional<TempDir> m_dir; // overlay, scratch disk, sockets; destroyed after the process
  // On a remote host: QEMU's directory there, the sockets' local ends (forwarded to
  // m_qmp_socket and m_agent_socket there), the console log there, QEMU's pid there.
  bool m_remote = false, m_remote_dir_made = false, m_qmp_forwarded = false, m_agent_forwarded = false;
  std::string m_remote_dir, m_remote_console;
  fs::path m_local_qmp_socket, m_local_agent_socket;
  long m_remote_pid = 0;
  fs::path m_overlay, m_scratch_disk, m_qmp_socket, m_agent_socket, m_raw_dir;
  std::vector<std::string> m_argv;
  std::optional<QemuProcess> m_process;
  std::optional<QmpClient> m_qmp;
  std::optional<vm::UnixAgentTransport> m_transport; // m_agent (GuestPlatform's) uses it
  Clock::time_point m_started_at;
  std::string m_kernel_cmdline;
  std::string m_qemu_version, m_qemu_package;
  json::value m_kvm;
  bool m_booted = false, m_frozen = false, m_stopped = false;
};

} // namespace

std::unique_ptr<Platform> make_platform(const PlatformOptions& options) {
  return std::make_unique<QemuPlatform>(options);
}

} // namespace virtbench::qemu
