#include "drivers/native/native.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <boost/process/v2/environment.hpp>

#include <fmt/format.h>

namespace virtbench::native {

namespace {

// sysbench as a process on the host the run measures: this one, or the --host, where every
// command goes through the core's HostServices::exec (one SSH connection) and fileio's files
// live in the run's remote directory.
class NativePlatform final : public Platform {
public:
  explicit NativePlatform(PlatformOptions options) : m_options(std::move(options)) {}
  ~NativePlatform() override { m_scratch.reset(); }

  std::string name() const override { return "native"; }

  awaitable<void> start() override {
    if (remote()) {
      co_await start_remote();
      co_return;
    }
    std::string sysbench = sysbench_name().find('/') != std::string::npos
                               ? sysbench_name()
                               : boost::process::v2::environment::find_executable(sysbench_name()).string();
    if (sysbench.empty() || !std::filesystem::exists(sysbench))
      throw Error(fmt::format("start native: sysbench ({}) is not installed on the host; run tools/setup (or "
                              "apt-get install sysbench)",
                              sysbench_name()));
    // Arguments of co_await calls are named locals: GCC 12 miscompiles braced temporaries
    // there (double destruction, seen here as "free(): invalid pointer").
    std::vector<std::string> version_argv{sysbench, "--version"};
    ProcessOptions quick{std::chrono::seconds(30)};
    auto version = co_await check_process(version_argv, quick);
    m_sysbench_version = m_options.host->sysbench_version(version.out);
    std::vector<std::string> sum_argv{"sha256sum", sysbench};
    auto sum = co_await check_process(sum_argv, quick);
    m_sysbench_sha256 = sum.out.substr(0, sum.out.find(' '));
    m_sysbench_path = sysbench;
    m_scratch.emplace(scratch_parent(), "native-");
    m_scratch->record_owner(); // a later run sweeps it if this one is killed (cli.cpp)
  }

  awaitable<void> stop() override {
    m_scratch.reset();
    if (!m_remote_scratch.empty()) {
      // Removed with the run's remote directory too (RemoteHost::close), also after a lost
      // connection: this is only the early, common case.
      auto dir = std::exchange(m_remote_scratch, std::string());
      try {
        std::vector<std::string> argv{"rm", "-rf", "--", dir};
        co_await exec_remote(argv, std::chrono::seconds(60));
      } catch (...) {
      }
    }
    co_return;
  }

  awaitable<void> freeze() override { co_return; }
  awaitable<void> thaw() override { co_return; }

  awaitable<ExecResult> exec(ExecRequest request) override {
    if (!request.argv.empty() && request.argv.front() == "sysbench" && !m_sysbench_path.empty())
      request.argv.front() = m_sysbench_path;
    co_return co_await m_options.host->exec(std::move(request));
  }

  awaitable<std::string> read_file(std::string path) override {
    if (!remote())
      co_return virtbench::read_file(path);
    std::vector<std::string> argv{"cat", "--", path};
    auto r = co_await exec_remote(argv, std::chrono::seconds(30));
    co_return r.out;
  }

  awaitable<std::vector<CacheDrop>> drop_caches() override { co_return std::vector<CacheDrop>{m_options.host->drop_caches()}; }

  awaitable<std::optional<CpuSeconds>> host_accounting() override { co_return std::nullopt; }

  bool has_guest_view() const override { return false; }

  std::optional<HostStorage> fileio_host_storage() const override {
    if (remote())
      return HostStorage{remote_scratch_path()};
    return HostStorage{scratch_parent()};
  }

  std::string scratch_dir() const override {
    if (remote())
      return m_remote_scratch;
    return m_scratch ? m_scratch->path().string() : std::string();
  }

  boost::json::object describe() const override {
    boost::json::object d{{"name", "native"},
                          {"sysbench_version", m_sysbench_version},
                          {"sysbench_path", m_sysbench_path},
                          {"sysbench_sha256", m_sysbench_sha256}};
    if (remote()) {
      d["fileio_storage"] = fmt::format("directory {} on {}{}", m_remote_scratch, m_options.host->location(),
                                        m_remote_fs_type.empty() ? "" : " (" + m_remote_fs_type + ")");
      d["host"] = m_options.host->location();
    } else {
      d["fileio_storage"] = "host directory " + scratch_dir() + " (" + filesystem_type(scratch_dir()) + ")";
    }
    return d;
  }

private:
  bool remote() const { return m_options.host && !m_options.host->location().empty(); }

  const std::string& sysbench_name() const { return m_options.values.text("sysbench"); }

  std::filesystem::path scratch_parent() const {
    auto& dir = m_options.values.text("scratch-dir");
    return dir.empty() ? m_options.data_dir / "scratch" : std::filesystem::path(dir);
  }

  // On a remote host: the run's remote directory's native/ (its parent comes from
  // --scratch-dir, default /var/tmp: RemoteHost).
  std::string remote_scratch_path() const { return m_options.host->remote_scratch_dir() + "/native"; }

  // A command on the remote host that must succeed.
  awaitable<ExecResult> exec_remote(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    ExecRequest request{argv, "", timeout};
    auto r = co_await m_options.host->exec(std::move(request));
    if (r.exit_code != 0 || r.timed_out)
      throw Error(fmt::format("{} on {}: {}\n{}", format_argv(argv), m_options.host->location(),
                              r.timed_out ? std::string("timed out") : fmt::format("exit code {}", r.exit_code),
                              tail_lines(r.err, 10)));
    co_return r;
  }

  awaitable<void> start_remote() {
    auto where = m_options.host->location();
    try {
      // `command -v` in the remote's own shell and PATH, the name as data ($1), never as code.
      std::vector<std::string> find_argv{"sh", "-c", "command -v \"$1\"", "sh", sysbench_name()};
      ExecRequest find{find_argv, "", std::chrono::seconds(30)};
      auto found = co_await m_options.host->exec(std::move(find));
      auto path = found.out.substr(0, found.out.find('\n'));
      if (found.exit_code != 0 || path.empty())
        throw Error(fmt::format("sysbench ({}) is not installed on the remote host (not found in its PATH); "
                                "install it there (apt-get install sysbench), or name it with --sysbench PATH",
                                sysbench_name()));
      std::vector<std::string> version_argv{path, "--version"};
      auto version = co_await exec_remote(version_argv, std::chrono::seconds(30));
      m_sysbench_version = m_options.host->sysbench_version(version.out);
      std::vector<std::string> sum_argv{"sha256sum", "--", path};
      auto sum = co_await exec_remote(sum_argv, std::chrono::seconds(30));
      m_sysbench_sha256 = sum.out.substr(0, sum.out.find(' '));
      m_sysbench_path = path;
      auto dir = remote_scratch_path();
      std::vector<std::string> mkdir_argv{"mkdir", "-m", "700", "--", dir};
      co_await exec_remote(mkdir_argv, std::chrono::seconds(30));
      m_remote_scratch = dir;
      std::vector<std::string> fs_argv{"stat", "-f", "-c", "%T", "--", dir};
      auto fs_type = co_await exec_remote(fs_argv, std::chrono::seconds(30));
      m_remote_fs_type = fs_type.out.substr(0, fs_type.out.find('\n'));
    } catch (...) {
      rethrow_with_context("start native on " + where);
    }
  }

  PlatformOptions m_options;
  std::optional<TempDir> m_scratch;
  std::string m_remote_scratch, m_remote_fs_type;
  std::string m_sysbench_version, m_sysbench_path, m_sysbench_sha256;
};

} // namespace

std::unique_ptr<Platform> make_platform(const PlatformOptions& options) {
  return std::make_unique<NativePlatform>(options);
}

} // namespace virtbench::native
