#include "drivers/vm/guest_ops.hpp"

#include "procstat.hpp"
#include "util/error.hpp"
#include "util/process.hpp"

#include <fmt/format.h>

namespace virtbench::vm {

using namespace std::chrono_literals;

ExecResult to_exec_result(GuestExecResult r) {
  ExecResult result;
  result.exit_code = r.timed_out ? -1 : r.exit_code;
  result.timed_out = r.timed_out;
  result.out = std::move(r.out);
  result.err = std::move(r.err);
  result.wall_s = r.wall_s;
  if (r.signal)
    result.err += fmt::format("\n(killed by signal {} in the guest)", r.signal);
  return result;
}

awaitable<GuestExecResult> checked_guest_exec(GuestAgent& agent, std::vector<std::string> argv,
                                              std::chrono::milliseconds timeout) {
  auto r = co_await agent.exec(argv, "", timeout);
  if (r.timed_out || r.exit_code != 0)
    throw Error(fmt::format("{} in the guest: {}\n{}", format_argv(argv),
                            r.timed_out ? "timed out" : fmt::format("exit code {}", r.exit_code),
                            tail_lines(r.err + r.out, 10)));
  co_return r;
}

awaitable<CacheDrop> drop_guest_caches(GuestAgent& agent) {
  CacheDrop guest;
  guest.where = "guest";
  guest.cached_before_kib = parse_meminfo_kib(co_await agent.read_file("/proc/meminfo"), "Cached");
  std::vector<std::string> sync_argv{"sync"};
  co_await checked_guest_exec(agent, sync_argv, 300s);
  std::string path = "/proc/sys/vm/drop_caches", three = "3";
  co_await agent.write_file(path, three);
  guest.cached_after_kib = parse_meminfo_kib(co_await agent.read_file("/proc/meminfo"), "Cached");
  co_return guest;
}

awaitable<std::string> prepare_guest(GuestAgent& agent, std::string dir) {
  std::vector<std::string> mkdir_argv{"mkdir", "-p", dir};
  co_await checked_guest_exec(agent, mkdir_argv, 60s);
  std::vector<std::string> mount_argv{"mount", "-t", "ext4", "/dev/vdb", dir};
  co_await checked_guest_exec(agent, mount_argv, 60s);
  std::vector<std::string> version_argv{"sysbench", "--version"};
  auto v = co_await agent.exec(version_argv, "", 60s);
  co_return v.out.substr(0, v.out.find('\n'));
}

} // namespace virtbench::vm
