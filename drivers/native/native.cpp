#include "drivers/native/native.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <boost/process/v2/environment.hpp>

#include <fmt/format.h>

#include <sys/vfs.h>

namespace virtbench::native {

namespace {

class NativePlatform final : public Platform {
public:
  explicit NativePlatform(PlatformOptions options) : m_options(std::move(options)) {}
  ~NativePlatform() override { m_scratch.reset(); }

  std::string name() const override { return "native"; }

  awaitable<void> start() override {
    auto sysbench = boost::process::v2::environment::find_executable("sysbench");
    if (sysbench.empty())
      throw Error("start native: sysbench is not installed on the host; run tools/setup (or apt-get install sysbench)");
    // Arguments of co_await calls are named locals: GCC 12 miscompiles braced temporaries
    // there (double destruction, seen here as "free(): invalid pointer").
    std::vector<std::string> version_argv{"sysbench", "--version"};
    ProcessOptions quick{std::chrono::seconds(30)};
    auto version = co_await check_process(version_argv, quick);
    m_sysbench_version = m_options.host->sysbench_version(version.out);
    std::vector<std::string> sum_argv{"sha256sum", sysbench.string()};
    auto sum = co_await check_process(sum_argv, quick);
    m_sysbench_sha256 = sum.out.substr(0, sum.out.find(' '));
    m_sysbench_path = sysbench.string();
    m_scratch.emplace(scratch_parent(), "native-");
    m_scratch->record_owner(); // a later run sweeps it if this one is killed (cli.cpp)
  }

  awaitable<void> stop() override {
    m_scratch.reset();
    co_return;
  }

  awaitable<void> freeze() override { co_return; }
  awaitable<void> thaw() override { co_return; }

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

  awaitable<std::string> read_file(std::string path) override { co_return virtbench::read_file(path); }

  awaitable<std::vector<CacheDrop>> drop_caches() override { co_return std::vector<CacheDrop>{m_options.host->drop_caches()}; }

  awaitable<std::optional<CpuSeconds>> host_accounting() override { co_return std::nullopt; }

  bool has_guest_view() const override { return false; }

  std::optional<HostStorage> fileio_host_storage() const override { return HostStorage{scratch_parent()}; }

  std::string scratch_dir() const override { return m_scratch ? m_scratch->path().string() : std::string(); }

  boost::json::object describe() const override {
    return {{"name", "native"},
            {"sysbench_version", m_sysbench_version},
            {"sysbench_path", m_sysbench_path},
            {"sysbench_sha256", m_sysbench_sha256},
            {"fileio_storage", "host directory " + scratch_dir() + " (" + filesystem_type(scratch_dir()) + ")"}};
  }

private:
  std::filesystem::path scratch_parent() const {
    auto& dir = m_options.values.text("scratch-dir");
    return dir.empty() ? m_options.data_dir / "scratch" : std::filesystem::path(dir);
  }

  PlatformOptions m_options;
  std::optional<TempDir> m_scratch;
  std::string m_sysbench_version, m_sysbench_path, m_sysbench_sha256;
};

} // namespace

std::unique_ptr<Platform> make_platform(const PlatformOptions& options) {
  return std::make_unique<NativePlatform>(options);
}

} // namespace virtbench::native
