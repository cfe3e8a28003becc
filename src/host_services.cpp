// The core's HostServices for this host: what drivers get done on the host through
// PlatformOptions::host when the run is not on a remote --host (remote_host.cpp).
#include "host.hpp"
#include "image.hpp"
#include "sysbench.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <sys/statvfs.h>

namespace virtbench {

namespace {

class CoreHostServices final : public Host {
public:
  CacheDrop drop_caches() override { return drop_host_caches(); }
  std::uint64_t resident_kib(const std::filesystem::path& path) override { return virtbench::resident_kib(path); }
  GuestImage guest_image(const std::filesystem::path& data_dir) override { return load_guest_image(data_dir); }
  std::string guest_kernel_cmdline(const GuestImage& image, bool this_host, const std::string& machine) override {
    return virtbench::guest_kernel_cmdline(image, this_host, machine);
  }
  std::string sysbench_version(std::string_view version_output) override {
    return parse_sysbench_version(version_output);
  }

  awaitable<ExecResult> exec(ExecRequest request) override {
    ProcessOptions po;
    po.timeout = request.timeout;
    po.cwd = request.cwd;
    auto r = co_await run_process(request.argv, po);
    ExecResult result;
    result.exit_code = r.exit_code;
    result.timed_out = r.timed_out;
    result.out = std::move(r.out);
    result.err = std::move(r.err);
    if (r.output_limited)
      result.err += fmt::format("\nvirtbench: the command printed more than {} MiB on stdout or stderr and was "
                                "killed (a limit against runaway output)\n",
                                po.max_output >> 20);
    result.wall_s = r.wall_s;
    result.process_cpu = CpuSeconds{r.user_s, r.kernel_s};
    co_return result;
  }
  std::string location() const override { return {}; }
  std::string remote_scratch_dir() const override { return {}; }
  GuestImage host_guest_image(const std::filesystem::path& data_dir) override { return load_guest_image(data_dir); }
  std::vector<std::string> long_lived_argv(const std::vector<std::string>& argv, const std::string&) override {
    return argv;
  }
  awaitable<void> forward_socket(std::string local, std::string remote) override {
    if (local != remote)
      throw Error("forward " + local + " to " + remote + ": this host forwards no sockets (no --host)");
    co_return;
  }
  void cancel_forward(const std::string&, const std::string&) noexcept override {}
  awaitable<std::string> read_host_file(std::string path) override { co_return virtbench::read_file(path); }

  boost::json::object describe() override { return describe_host(); }
  bool can_drop_caches() override { return can_drop_host_caches(); }
  awaitable<std::string> read_proc_stat() override { return read_host_proc_stat(); }
  std::uint64_t free_bytes(const std::filesystem::path& path) override {
    struct statvfs sv{};
    if (::statvfs(path.c_str(), &sv) != 0)
      throw Error("preflight: statvfs " + path.string() + ": " + std::strerror(errno));
    return static_cast<std::uint64_t>(sv.f_bavail) * sv.f_frsize;
  }
};

} // namespace

Host& local_host() {
  static CoreHostServices k_services;
  return k_services;
}

HostServices& host_services() { return local_host(); }

} // namespace virtbench
