#include "doctor.hpp"

#include "data_dir.hpp"
#include "host.hpp"
#include "image.hpp"
#include "registry.hpp"
#include "remote_host.hpp"
#include "procstat.hpp"
#include "ssh.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <boost/json.hpp>
#include <boost/process/v2/environment.hpp> // find_executable
#include <fmt/format.h>

#include <sys/statvfs.h>
#include <unistd.h>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

std::string current_recipe_hash_hint(const GuestImage& image) { return image.recipe_hash.substr(0, 12); }

} // namespace

std::vector<Check> run_doctor(const fs::path& data_dir) {
  std::vector<Check> checks;
  auto add = [&](std::string name, bool ok, std::string detail, std::string fix, bool fatal = true) {
    checks.push_back({std::move(name), ok ? "ok" : (fatal ? "fail" : "warn"), std::move(detail), ok ? "" : std::move(fix)});
  };

  bool root = ::geteuid() == 0;
  add("root", root, root ? "running as root" : fmt::format("running as uid {}", ::geteuid()),
      "run as root: dropping caches, building the image and starting a private dockerd need it", false);

  auto debootstrap = boost::process::v2::environment::find_executable("debootstrap");
  add("debootstrap", !debootstrap.empty(), debootstrap.empty() ? "not installed" : debootstrap.string(),
      "run tools/setup (or apt-get install debootstrap); `virtbench image build` needs it", false);

  try {
    add("image recipe", true, default_recipe_dir().string(), "");
  } catch (const UsageError& e) {
    add("image recipe", false, e.what(), "pass --recipe DIR to `virtbench image build`", false);
  }

  try {
    auto image = load_guest_image(data_dir);
    add("guest image", true,
        fmt::format("{} (recipe {}, {}, sysbench {})", image.dir.string(), current_recipe_hash_hint(image),
                    image.kernel_version, image.sysbench_version),
        "");
  } catch (const Error& e) {
    add("guest image", false, e.what(), "run `virtbench image build` (as root; about 2 minutes)");
  }

  bool drop = can_drop_host_caches();
  add("drop caches", drop, drop ? "/proc/sys/vm/drop_caches is writable" : "/proc/sys/vm/drop_caches is not writable",
      "run as root, or pass --no-drop-caches to `virtbench run`", false);

  auto probe = data_dir;
  while (!probe.empty() && !fs::exists(probe))
    probe = probe.parent_path();
  struct statvfs sv{};
  if (!probe.empty() && ::statvfs(probe.c_str(), &sv) == 0) {
    double free_gib = static_cast<double>(sv.f_bavail) * sv.f_frsize / (1u << 30);
    add("free disk", free_gib >= 5, fmt::format("{:.1f} GiB free for {}", free_gib, data_dir.string()),
        "free some space, or point --data-dir at a bigger filesystem (an image build needs about 2 GiB, fileio "
        "up to twice --file-total-size)",
        free_gib < 2);
  }

  // Each driver's own rows (sysbench, qemu, kvm, docker, libvirt ...).
  DriverContext ctx{data_dir, &host_services(), {}, {}};
  for (auto* d : drivers())
    if (d->doctor)
      for (auto& c : d->doctor(ctx))
        checks.push_back(std::move(c));
  return checks;
}

std::vector<Check> run_remote_doctor(const std::string& host_url, const std::string& ssh_config,
                                     const std::filesystem::path& data_dir, const std::string& remote_data_dir) {
  std::vector<Check> checks;
  SshSettings settings{parse_ssh_url(host_url), ssh_config}; // UsageError: exit 2
  auto url = settings.target.url();
  TempDir runtime(runtime_parent_dir(), "run-");
  runtime.record_owner();
  SshConnection ssh(settings, runtime.path());
  try {
    ssh.open();
    checks.push_back({"ssh", "ok", "logged in to " + url + " (host key known, key accepted)", ""});
  } catch (const std::exception& e) {
    checks.push_back({"ssh", "fail", "cannot log in to " + url, e.what()});
    return checks;
  }
  RemoteHost remote(ssh, local_host(), "doctor", "");
  if (!remote_data_dir.empty())
    remote.set_data_dir(remote_data_dir);
  auto run = [&](std::vector<std::string> argv) {
    ExecRequest request{std::move(argv), "", std::chrono::seconds(30)};
    return run_sync(remote.exec(std::move(request)));
  };
  try {
    auto facts = remote.describe();
    checks.push_back({"remote host", "ok",
                      fmt::format("{}: {}, {} CPUs, {} MiB", facts["hostname"].as_string().c_str(),
                                  facts["kernel"].as_string().c_str(),
                                  facts.contains("cpus") ? facts["cpus"].to_number<long>() : 0,
                                  facts.contains("memory_bytes") ? facts["memory_bytes"].to_number<std::uint64_t>() >> 20 : 0),
                      ""});
  } catch (const std::exception& e) {
    checks.push_back({"remote host", "fail", e.what(), "check that a POSIX sh, uname and sed work there"});
  }
  try {
    auto stat = run({"cat", "/proc/stat"});
    auto meminfo = run({"cat", "/proc/meminfo"});
    if (stat.exit_code != 0 || meminfo.exit_code != 0)
      throw Error(tail_lines(stat.err + meminfo.err, 2));
    parse_proc_stat(stat.out);
    parse_meminfo_kib(meminfo.out, "Cached");
    checks.push_back({"remote /proc", "ok", "/proc/stat and /proc/meminfo readable", ""});
  } catch (const std::exception& e) {
    checks.push_back({"remote /proc", "fail", std::string("cannot read /proc/stat or /proc/meminfo: ") + e.what(),
                      "log in to a host whose /proc is mounted (not a restricted container)"});
  }
  try {
    auto found = run({"sh", "-c", "command -v sysbench"});
    auto path = found.out.substr(0, found.out.find('\n'));
    if (found.exit_code != 0 || path.empty()) {
      checks.push_back({"remote sysbench", "fail", "not installed on " + url + " (not in its PATH)",
                        "install it there: apt-get install sysbench"});
    } else {
      auto version = run({path, "--version"});
      checks.push_back({"remote sysbench", "ok", path + " " + version.out.substr(0, version.out.find('\n')), ""});
    }
  } catch (const std::exception& e) {
    checks.push_back({"remote sysbench", "fail", e.what(), "install it there: apt-get install sysbench"});
  }
  try {
    bool drop = remote.can_drop_caches();
    checks.push_back({"remote drop caches", drop ? "ok" : "warn",
                      drop ? "/proc/sys/vm/drop_caches is writable" : "/proc/sys/vm/drop_caches is not writable",
                      drop ? "" : "log in as root (ssh://root@...), or pass --no-drop-caches to `virtbench run`"});
  } catch (const std::exception& e) {
    checks.push_back({"remote drop caches", "fail", e.what(), "check the connection"});
  }
  try {
    auto free = remote.free_bytes("/var/tmp");
    double gib = static_cast<double>(free) / (1u << 30);
    checks.push_back({"remote free disk", gib >= 1 ? "ok" : "warn", fmt::format("{:.1f} GiB free in /var/tmp", gib),
                      gib >= 1 ? "" : "free some space there, or name another directory with --scratch-dir"});
  } catch (const std::exception& e) {
    checks.push_back({"remote free disk", "fail", e.what(), "check that df works there"});
  }
  // The platforms' rows (optional ones: a missing QEMU or engine is a warning).
  DriverContext ctx{data_dir, &remote, {}, runtime.path()};
  for (auto* d : drivers())
    if (d->doctor_on_host)
      for (auto& c : d->doctor_on_host(ctx))
        checks.push_back(std::move(c));
  return checks;
}

boost::json::object doctor_to_json(const std::vector<Check>& checks) {
  boost::json::array rows;
  bool ok = true;
  for (auto& c : checks) {
    boost::json::object row{{"name", c.name}, {"status", c.status}, {"detail", c.detail}};
    if (!c.fix.empty())
      row["fix"] = c.fix;
    rows.push_back(std::move(row));
    ok = ok && c.status != "fail";
  }
  return {{"ok", ok}, {"checks", std::move(rows)}};
}

} // namespace virtbench
