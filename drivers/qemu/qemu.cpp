#include "drivers/qemu/qemu.hpp"

#include "drivers/qemu/accel.hpp"
#include "drivers/qemu/agent.hpp"
#include "drivers/qemu/boot_timeline.hpp"
#include "drivers/qemu/disks.hpp"
#include "drivers/qemu/guest_ops.hpp"
#include "drivers/qemu/qemu_command.hpp"
#include "drivers/qemu/qemu_process.hpp"
#include "drivers/qemu/qmp_client.hpp"
#include "host.hpp"
#include "image.hpp"
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
constexpr const char* k_qboot = "/usr/share/qemu/qboot.rom";
// How long QMP gets to answer query-status after an agent or QMP call timed out.
constexpr auto k_liveness_timeout = std::chrono::seconds(2);

// True for a failure that is a missing answer (the agent's or QMP's timeout).
bool is_timeout(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(first_of(e));
  } catch (const AgentTimeout&) {
    return true;
  } catch (const QmpTimeout&) {
    return true;
  } catch (...) {
    return false;
  }
}

// True for failures that prove the other side is alive (it answered with an error).
bool is_answer(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const AgentCommandError&) {
    return true;
  } catch (const QmpCommandError&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::string console_tail(const fs::path& console) {
  std::string text;
  try {
    text = read_file(console);
  } catch (const std::exception&) {
    return "  (no console output)";
  }
  std::string cleaned;
  for (char c : text)
    if (c != '\r')
      cleaned += c;
  auto tail = tail_lines(cleaned, 20);
  if (tail.empty())
    return "  (no console output)";
  std::string out;
  std::size_t start = 0;
  while (start <= tail.size()) {
    auto nl = tail.find('\n', start);
    out += "  | " + tail.substr(start, nl == std::string::npos ? std::string::npos : nl - start) + "\n";
    if (nl == std::string::npos)
      break;
    start = nl + 1;
  }
  if (!out.empty())
    out.pop_back();
  return out;
}

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

// Runs op and hands back its failure instead of throwing it. Asio's `a || b` waits for
// one *success*: a failing `a` would otherwise wait for `b` (QEMU's exit) to end.
template <typename T>
awaitable<std::exception_ptr> captured(awaitable<T> op) {
  try {
    co_await std::move(op);
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

class QemuPlatform final : public Platform {
public:
  explicit QemuPlatform(PlatformOptions options) : m_options(std::move(options)) {
    m_cache_mode = m_options.cache_mode.empty() ? "none" : m_options.cache_mode;
    m_aio = aio_for_cache_mode(m_cache_mode);
  }

  ~QemuPlatform() override {
    // stop() is the graceful path; this is the guarantee (QemuProcess kills its group,
    // TempDir removes overlay, scratch disk and sockets).
    if (m_process)
      m_process->on_exit(nullptr);
  }

  std::string name() const override { return "qemu"; }

  awaitable<void> start() override {
    auto executor = co_await asio::this_coro::executor;
    m_image = load_guest_image(m_options.data_dir);
    m_accel = choose_accel_for_host(m_options.accel);
    if (m_accel.accel.empty())
      throw UsageError(m_accel.reason);
    m_cpu_model = m_accel.accel == "kvm" ? "host" : "max";

    auto parent = m_options.runtime_dir.empty() ? runtime_parent_dir() : m_options.runtime_dir;
    m_dir.emplace(parent, "qemu-");
    auto dir = m_dir->path();
    m_qmp_socket = dir / "qmp.sock";
    m_agent_socket = dir / "qga.sock";
    if (m_agent_socket.string().size() > 100)
      throw Error("the socket path " + m_agent_socket.string() +
                  " is too long for a Unix socket; set XDG_RUNTIME_DIR to a shorter directory");
    if (cache_mode_bypasses_host_cache(m_cache_mode) && !supports_o_direct(dir))
      throw Error("--cache-mode " + m_cache_mode + " needs O_DIRECT, which the filesystem of " +
                  dir.string() + " does not support; use --cache-mode writeback, or point XDG_RUNTIME_DIR "
                  "at a directory on a disk filesystem");
    auto raw_dir = m_options.raw_dir.empty() ? dir : fs::absolute(m_options.raw_dir);
    fs::create_directories(raw_dir);
    m_console_log = raw_dir / "console.log";
    m_raw_dir = raw_dir;

    log("qemu: creating the disks in " + dir.string());
    m_overlay = dir / "root-overlay.qcow2";
    co_await create_overlay(m_image.base_qcow2, m_overlay);
    m_scratch_disk = co_await create_scratch_disk(dir, m_options.scratch_bytes, m_options.scratch_format);

    QemuCommand command;
    command.accel = m_accel.accel;
    command.machine = m_options.machine;
    // qboot (Debian's qemu-system-data) instead of SeaBIOS on q35: it only loads the kernel
    // (microvm uses it by default).
    if (command.machine == "q35" && fs::exists(k_qboot))
      command.firmware = k_qboot;
    command.cpu_model = m_cpu_model;
    command.vcpus = m_options.vcpus;
    command.memory_bytes = m_options.memory_bytes;
    // The uncompressed kernel boots through PVH, without the bzImage's decompression.
    command.kernel = m_image.vmlinux.empty() ? m_image.vmlinuz : m_image.vmlinux;
    command.initrd = m_image.initrd;
    command.kernel_cmdline = m_kernel_cmdline = guest_kernel_cmdline(m_image, true, command.machine);
    command.root_disk = m_overlay;
    command.scratch_disk = m_scratch_disk;
    command.scratch_format = m_options.scratch_format;
    command.cache_mode = m_cache_mode;
    command.aio = m_aio;
    command.console_log = m_console_log;
    command.qmp_socket = m_qmp_socket;
    command.agent_socket = m_agent_socket;
    command.agent_port_name = k_guest_agent_port;
    command.name = "virtbench-" + (m_options.run_id.empty() ? std::string("qemu") : m_options.run_id);
    command.extra_args = m_options.qemu_extra_args;
    m_argv = build_qemu_argv(command);

    log(fmt::format("qemu: booting ({}, {} vCPUs, {} MiB, cache={}, aio={}; {})", m_accel.accel, m_options.vcpus,
                    m_options.memory_bytes >> 20, m_cache_mode, m_aio, m_accel.reason));
    m_process.emplace(executor);
    m_started_at = Clock::now();
    m_process->start(m_argv);
    m_process->on_exit([this] { on_qemu_exit(); });

    // QMP: greeting, capabilities, versions. A QEMU that dies here (bad --qemu-arg, no
    // KVM) must fail at once, not after the connect timeout.
    m_qmp.emplace(executor);
    m_qmp->on_event([this](const QmpEvent& e) {
      if (e.name == "BLOCK_IO_ERROR" || e.name == "GUEST_PANICKED")
        log("qemu: event " + e.name + " " + json::serialize(e.data));
    });
    std::exception_ptr failure;
    {
      std::string path = m_qmp_socket.string();
      auto r = co_await (captured(m_qmp->connect(path, std::chrono::seconds(30))) || m_process->wait_for_exit(24h));
      if (r.index() == 1 && std::get<1>(r))
        throw PlatformLost(lost_message("connect to QMP"));
      if (r.index() == 0)
        failure = std::get<0>(r);
    }
    if (failure)
      co_await rethrow(failure, "QMP");
    json::object none;
    try {
      std::string cmd = "query-version";
      auto version = co_await m_qmp->execute(cmd, none, k_qmp_timeout);
      auto& q = version.as_object().at("qemu").as_object();
      m_qemu_version = fmt::format("{}.{}.{}", q.at("major").to_number<int>(), q.at("minor").to_number<int>(),
                                   q.at("micro").to_number<int>());
      if (auto* pkg = version.as_object().if_contains("package"); pkg && pkg->is_string() && !pkg->as_string().empty())
        m_qemu_package = pkg->as_string();
      cmd = "query-kvm";
      m_kvm = co_await m_qmp->execute(cmd, none, k_qmp_timeout);
      cmd = "query-status";
      auto status = co_await m_qmp->execute(cmd, none, k_qmp_timeout);
      if (auto* st = status.as_object().if_contains("status"); !st || *st != "running")
        throw Error("QEMU is not running the guest after its start: query-status says " + json::serialize(status));
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure)
      co_await rethrow(failure, "QMP");

    // Boot: until the guest agent answers.
    m_transport.emplace(executor, m_agent_socket.string());
    m_agent.emplace(*m_transport);
    auto limit = m_accel.accel == "kvm" ? 30s : 120s;
    bool lost = false;
    {
      auto r = co_await (captured(m_agent->wait_until_ready(limit)) || m_process->wait_for_exit(limit + 60s));
      lost = r.index() == 1 && std::get<1>(r);
      if (r.index() == 0)
        failure = std::get<0>(r);
    }
    if (lost || (failure && !m_process->running()))
      throw PlatformLost(lost_message("boot the guest"));
    if (failure) {
      if (is_cancellation(failure))
        std::rethrow_exception(failure);
      throw Error(fmt::format("boot the guest: its agent did not answer within {} s (accel {})\n"
                              "last console lines ({}):\n{}",
                              limit.count(), m_accel.accel, m_console_log.string(), console_tail(m_console_log)));
    }
    m_boot_to_ready_s = std::chrono::duration<double>(Clock::now() - m_started_at).count();
    log(fmt::format("qemu: guest agent answered {:.2f} s after QEMU started", m_boot_to_ready_s));
    co_await record_boot_timeline();

    // The scratch disk, mounted where fileio's files go.
    try {
      m_guest_sysbench_version = co_await prepare_guest(*m_agent, k_guest_scratch_dir);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure)
      co_await rethrow(failure, "prepare the guest");
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

  awaitable<ExecResult> exec(ExecRequest request) override {
    std::exception_ptr failure;
    try {
      co_return to_exec_result(co_await agent().exec(request.argv, request.cwd, request.timeout));
    } catch (...) {
      failure = std::current_exception();
    }
    co_await rethrow(failure, "run " + format_argv(request.argv) + " in the guest");
    throw Error("unreachable");
  }

  awaitable<std::string> read_file(std::string path) override {
    std::exception_ptr failure;
    try {
      co_return co_await agent().read_file(path);
    } catch (...) {
      failure = std::current_exception();
    }
    co_await rethrow(failure, "read " + path + " in the guest");
    throw Error("unreachable");
  }

  awaitable<std::vector<CacheDrop>> drop_caches() override {
    std::vector<CacheDrop> drops;
    std::exception_ptr failure;
    try {
      drops.push_back(co_await drop_guest_caches(agent()));
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure)
      co_await rethrow(failure, "drop caches in the guest");
    // The host caches the image files unless QEMU opens them with O_DIRECT.
    // Dropped and recorded also with cache=none, where it cannot hold the data set.
    drops.push_back(drop_host_caches());
    drops.back().holds_data_set = !cache_mode_bypasses_host_cache(m_cache_mode);
    if (drops.back().holds_data_set)
      drops.back().resident_after_kib = resident_kib(m_scratch_disk); // the host's pages of the data set's disk
    co_return drops;
  }

  awaitable<std::optional<CpuSeconds>> host_accounting() override {
    if (!m_process || !m_process->running())
      co_return std::nullopt;
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

  bool has_guest_view() const override { return true; }

  // The scratch disk is a sparse file in the run's runtime directory.
  std::optional<HostStorage> fileio_host_storage() const override {
    return HostStorage{m_options.runtime_dir.empty() ? runtime_parent_dir() : m_options.runtime_dir};
  }

  std::string scratch_dir() const override { return k_guest_scratch_dir; }

  json::object describe() const override {
    json::object d{{"name", "qemu"},
                   {"accel", m_accel.accel},
                   {"accel_reason", m_accel.reason},
                   {"qemu_version", m_qemu_version},
                   {"machine", m_options.machine},
                   {"cpu_model", m_cpu_model},
                   {"vcpus", m_options.vcpus},
                   {"memory_bytes", m_options.memory_bytes},
                   {"cache_mode", m_cache_mode},
                   {"aio", m_aio},
                   {"scratch_format", m_options.scratch_format},
                   {"image_digest", m_image.recipe_hash},
                   {"sysbench_sha256", m_image.sysbench_sha256},
                   {"guest_kernel", m_image.kernel_version},
                   {"boot_to_ready_s", std::round(m_boot_to_ready_s * 1000) / 1000},
                   {"fileio_storage", "virtio scratch disk (" + m_options.scratch_format + ", ext4)"}};
    if (!m_qemu_package.empty())
      d["qemu_package"] = m_qemu_package;
    if (!m_guest_sysbench_version.empty())
      d["sysbench_version"] = m_guest_sysbench_version;
    if (!m_kvm.is_null())
      d["query_kvm"] = m_kvm;
    if (!m_argv.empty())
      d["qemu_command"] = format_argv(m_argv);
    if (!m_kernel_cmdline.empty())
      d["kernel_cmdline"] = m_kernel_cmdline;
    if (!m_boot_timeline.empty())
      d["boot_timeline"] = m_boot_timeline;
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
    return d;
  }

private:
  void log(const std::string& line) const {
    if (m_options.log)
      m_options.log(line);
  }

  GuestAgent& agent() {
    if (!m_agent)
      throw Error("qemu: the guest is not running (start() did not finish)");
    return *m_agent;
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

  std::string lost_message(const std::string& what) const {
    if (!m_lost_reason.empty()) // killed as hung: that is the cause, not the kill
      return what + ": " + m_lost_reason;
    std::string how = m_process && !m_process->running() ? m_process->exit_description() : "still running";
    auto err = m_process ? tail_lines(m_process->stderr_text(), 10) : std::string();
    return fmt::format("{}: QEMU exited ({}){}\nlast console lines ({}):\n{}", what, how,
                       err.empty() ? "" : "; its stderr:\n" + err, m_console_log.string(),
                       console_tail(m_console_log));
  }

  // Rethrows a failure with context; as PlatformLost when QEMU is gone (waiting briefly:
  // a socket can see the end before the process watcher does).
  awaitable<void> rethrow(std::exception_ptr failure, const std::string& what) {
    bool gone = false;
    if (m_process && m_process->started()) {
      if (!m_process->running())
        gone = true;
      else if (!is_cancellation(failure) && !is_answer(failure))
        gone = co_await m_process->wait_for_exit(2s);
    }
    if (gone)
      throw PlatformLost(lost_message(what));
    if (is_cancellation(failure))
      std::rethrow_exception(failure);
    if (is_timeout(failure) && m_process && m_process->running()) {
      if (auto hung = co_await check_vm_alive(); !hung.empty()) {
        // A hung QEMU (stopped, wedged) would cost every remaining call its timeout: the
        // platform is lost; SIGKILL works on a stopped process too.
        m_lost_reason = fmt::format("{}; {}; QEMU (pid {}) was killed", what_of(failure), hung, m_process->pid());
        auto problems = co_await m_process->terminate(std::chrono::milliseconds(0));
        if (!problems.empty())
          m_lost_reason += " (" + problems + ")";
        throw PlatformLost(what + ": " + m_lost_reason);
      }
    }
    try {
      std::rethrow_exception(failure);
    } catch (const AgentTimeout& e) {
      throw Error(what + ": " + e.what() + "\nlast console lines:\n" + console_tail(m_console_log));
    } catch (const UsageError&) {
      throw;
    } catch (const PlatformLost&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(what + ": " + e.what());
    }
  }

  // After a timeout: does QEMU still answer QMP, with the guest running (or paused by
  // freeze())? Returns why not, or "" when it is alive.
  awaitable<std::string> check_vm_alive() {
    if (!m_qmp || !m_qmp->is_open())
      co_return "QMP is closed";
    std::exception_ptr failure;
    try {
      std::string cmd = "query-status";
      json::object none;
      auto status = co_await m_qmp->execute(cmd, none, k_liveness_timeout);
      auto* st = status.is_object() ? status.as_object().if_contains("status") : nullptr;
      std::string state = st && st->is_string() ? std::string(st->as_string()) : json::serialize(status);
      if (state == "running" || (state == "paused" && m_frozen))
        co_return "";
      co_return "QMP query-status says the VM is " + state;
    } catch (...) {
      failure = std::current_exception();
    }
    if (is_cancellation(failure))
      std::rethrow_exception(failure);
    co_return fmt::format("QMP query-status did not answer within {} s either ({})",
                          std::chrono::duration<double>(k_liveness_timeout).count(), what_of(failure));
  }

  // The guest's boot steps from its console, placed on QEMU's clock by the guest's uptime
  // read right after the agent's first answer. Best effort: a boot is not failed for it.
  awaitable<void> record_boot_timeline() {
    std::optional<double> kernel_started_s;
    try {
      auto before = Clock::now();
      std::string path = "/proc/uptime";
      auto uptime = parse_proc_uptime(co_await m_agent->read_file(path));
      auto middle = before + (Clock::now() - before) / 2;
      if (uptime)
        kernel_started_s = std::chrono::duration<double>(middle - m_started_at).count() - *uptime;
    } catch (...) {
      auto failure = std::current_exception();
      if (is_cancellation(failure))
        throw;
      log("qemu: could not read the guest's /proc/uptime for the boot timeline: " + what_of(failure));
    }
    std::vector<BootStep> steps;
    try {
      steps = parse_boot_timeline(virtbench::read_file(m_console_log));
    } catch (const std::exception&) {
    }
    if (steps.empty())
      log("qemu: no boot steps (\"virtbench-init: STEP (uptime N.NNs)\") on the console " + m_console_log.string() +
          "; rebuild the image with `virtbench image build`");
    m_boot_timeline = boot_timeline_json(steps, kernel_started_s, m_boot_to_ready_s);
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

  PlatformOptions m_options;
  GuestImage m_image;
  AccelDecision m_accel;
  std::string m_cpu_model, m_cache_mode, m_aio;
  std::optional<TempDir> m_dir; // overlay, scratch disk, sockets; destroyed after the process
  fs::path m_overlay, m_scratch_disk, m_qmp_socket, m_agent_socket, m_console_log, m_raw_dir;
  std::vector<std::string> m_argv;
  std::optional<QemuProcess> m_process;
  std::optional<QmpClient> m_qmp;
  std::optional<UnixAgentTransport> m_transport;
  std::optional<GuestAgent> m_agent; // uses m_transport
  Clock::time_point m_started_at;
  double m_boot_to_ready_s = 0;
  std::string m_kernel_cmdline;
  json::array m_boot_timeline; // describe()'s boot_timeline, set once the agent answered
  std::string m_qemu_version, m_qemu_package, m_guest_sysbench_version;
  json::value m_kvm;
  bool m_booted = false, m_frozen = false, m_stopped = false;
  std::string m_lost_reason; // why QEMU was killed as hung, once it was
};

} // namespace

std::unique_ptr<Platform> make_platform(const PlatformOptions& options) {
  return std::make_unique<QemuPlatform>(options);
}

} // namespace virtbench::qemu
