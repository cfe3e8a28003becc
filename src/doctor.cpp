#include "doctor.hpp"

#include "data_dir.hpp"
#include "host.hpp"
#include "image.hpp"
#include "registry.hpp"
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
  DriverContext ctx{data_dir, &host_services(), {}};
  for (auto* d : drivers())
    if (d->doctor)
      for (auto& c : d->doctor(ctx))
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
