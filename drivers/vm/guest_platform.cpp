#include "drivers/vm/guest_platform.hpp"

#include "drivers/vm/boot_timeline.hpp"
#include "drivers/vm/disks.hpp"
#include "drivers/vm/guest_ops.hpp"
#include "util/error.hpp"
#include "util/failure.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <cmath>

namespace virtbench::vm {

namespace json = boost::json;

namespace {

// True when the (first) failure is an E: ChannelTimeout (a missing answer, the agent's or
// QMP's), ChannelCommandError (an error answer: the other side is alive).
template <typename E>
bool is_a(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(first_of(e));
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

} // namespace

std::string format_console_tail(std::string_view text, const std::string& path) {
  std::string cleaned(text);
  std::erase(cleaned, '\r');
  auto tail = tail_lines(cleaned, 20);
  std::string out = "last console lines (" + path + "):\n";
  if (tail.empty())
    return out + "  (no console output)";
  std::size_t start = 0;
  while (start <= tail.size()) {
    auto nl = tail.find('\n', start);
    out += "  | " + tail.substr(start, nl == std::string::npos ? std::string::npos : nl - start) + "\n";
    if (nl == std::string::npos)
      break;
    start = nl + 1;
  }
  out.pop_back();
  return out;
}

GuestPlatform::GuestPlatform(PlatformOptions options)
    : m_options(std::move(options)), m_vm(vm_config(m_options.values)) {
  m_cache_mode = m_vm.cache_mode;
  m_aio = aio_for_cache_mode(m_cache_mode);
}

awaitable<void> GuestPlatform::record_boot_timeline(std::chrono::steady_clock::time_point started_at) {
  std::optional<double> kernel_started_s;
  try {
    auto before = std::chrono::steady_clock::now();
    std::string path = "/proc/uptime";
    auto uptime = parse_proc_uptime(co_await agent().read_file(path));
    auto middle = before + (std::chrono::steady_clock::now() - before) / 2;
    if (uptime)
      kernel_started_s = std::chrono::duration<double>(middle - started_at).count() - *uptime;
  } catch (...) {
    auto failure = std::current_exception();
    if (is_cancellation(failure))
      throw;
    log(name() + ": could not read the guest's /proc/uptime for the boot timeline: " + what_of(failure));
  }
  std::vector<BootStep> steps;
  try {
    steps = parse_boot_timeline(virtbench::read_file(m_console_log));
  } catch (const std::exception&) {
  }
  if (steps.empty())
    log(name() + ": no boot steps (\"virtbench-init: STEP (uptime N.NNs)\") on the console " + m_console_log +
        "; rebuild the image with `virtbench image build`");
  m_boot_timeline = boot_timeline_json(steps, kernel_started_s, m_boot_to_ready_s);
}

awaitable<void> GuestPlatform::prepare_guest_scratch() {
  std::exception_ptr failure;
  try {
    m_guest_sysbench_version = co_await prepare_guest(agent(), k_guest_scratch_dir);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure)
    co_await rethrow(failure, "prepare the guest");
}

std::string GuestPlatform::scratch_dir() const { return k_guest_scratch_dir; }

void GuestPlatform::log(const std::string& line) const {
  if (m_options.log)
    m_options.log(line);
}

GuestAgent& GuestPlatform::agent() {
  if (!m_agent)
    throw Error(name() + ": the guest is not running (start() did not finish)");
  return *m_agent;
}

std::string GuestPlatform::console_tail() const {
  if (!m_console_host.empty())
    return "last console lines: the console log is on " + m_console_host + ": " + m_console_log;
  std::string text;
  try {
    text = virtbench::read_file(m_console_log);
  } catch (const std::exception&) {
  }
  return format_console_tail(text, m_console_log);
}

std::string GuestPlatform::lost_message(const std::string& what, const std::string& reason) const {
  return what + ": " + reason + "\n" + console_tail();
}

awaitable<void> GuestPlatform::rethrow(std::exception_ptr failure, std::string what) {
  if (!m_lost_reason.empty())
    throw PlatformLost(what + ": " + m_lost_reason);
  if (is_cancellation(failure))
    std::rethrow_exception(failure);
  if (auto gone = co_await gone_reason(!is_a<ChannelCommandError>(failure)))
    throw PlatformLost(lost_message(what, *gone));
  if (is_a<ChannelTimeout>(failure)) {
    if (auto hung = co_await check_alive(); !hung.empty()) {
      // A hung VM (stopped, wedged) would cost every remaining call its timeout: the
      // platform is lost.
      m_lost_reason = what_of(failure) + "; " + hung;
      m_lost_reason += "; " + co_await end_hung();
      throw PlatformLost(what + ": " + m_lost_reason);
    }
  }
  try {
    std::rethrow_exception(first_of(failure));
  } catch (const ChannelTimeout& e) {
    throw Error(what + ": " + e.what() + "\n" + console_tail());
  } catch (const UsageError&) {
    throw;
  } catch (const PlatformLost& e) {
    throw PlatformLost(what + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error(what + ": " + e.what());
  }
}

awaitable<ExecResult> GuestPlatform::exec(ExecRequest request) {
  std::exception_ptr failure;
  try {
    co_return to_exec_result(co_await agent().exec(request.argv, request.cwd, request.timeout));
  } catch (...) {
    failure = std::current_exception();
  }
  co_await rethrow(failure, "run " + format_argv(request.argv) + " in the guest");
  throw Error("unreachable");
}

awaitable<std::string> GuestPlatform::read_file(std::string path) {
  std::exception_ptr failure;
  try {
    co_return co_await agent().read_file(path);
  } catch (...) {
    failure = std::current_exception();
  }
  co_await rethrow(failure, "read " + path + " in the guest");
  throw Error("unreachable");
}

awaitable<std::vector<CacheDrop>> GuestPlatform::drop_caches() {
  std::vector<CacheDrop> drops;
  std::exception_ptr failure;
  try {
    drops.push_back(co_await drop_guest_caches(agent()));
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure)
    co_await rethrow(failure, "drop caches in the guest");
  // The host caches the disk files unless QEMU opens them with O_DIRECT; a remote host's
  // cache is out of reach (recorded by its absence).
  if (m_host_cache_reachable) {
    // Dropped and recorded also with cache=none, where it cannot hold the data set.
    drops.push_back(m_options.host->drop_caches());
    drops.back().holds_data_set = !cache_mode_bypasses_host_cache(m_cache_mode);
    if (drops.back().holds_data_set && !m_host_scratch_disk.empty())
      drops.back().resident_after_kib = m_options.host->resident_kib(m_host_scratch_disk); // the host's pages of the data set's disk
  }
  co_return drops;
}

json::object GuestPlatform::describe() const {
  json::object d{{"name", name()},
                 {"accel", m_accel},
                 {"accel_reason", m_accel_reason},
                 {"machine", m_machine},
                 {"cpu_model", m_cpu_model},
                 {"vcpus", m_vm.vcpus},
                 {"memory_bytes", m_vm.memory_bytes},
                 {"cache_mode", m_cache_mode},
                 {"aio", m_aio},
                 {"scratch_format", m_vm.scratch_format},
                 {"image_digest", m_image.recipe_hash},
                 {"sysbench_sha256", m_image.sysbench_sha256},
                 {"guest_kernel", m_image.kernel_version},
                 {"boot_to_ready_s", std::round(m_boot_to_ready_s * 1000) / 1000},
                 {"fileio_storage", "virtio scratch disk (" + m_vm.scratch_format + ", ext4)"}};
  if (!m_guest_sysbench_version.empty())
    d["sysbench_version"] = m_guest_sysbench_version;
  if (!m_boot_timeline.empty())
    d["boot_timeline"] = m_boot_timeline;
  describe_platform(d);
  return d;
}

} // namespace virtbench::vm
