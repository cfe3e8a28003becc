#include "doctor.hpp"

#include "drivers/docker/docker.hpp"
#include "drivers/qemu/accel.hpp"
#include "drivers/libvirt/libvirt.hpp"
#include "host.hpp"
#include "image.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <boost/json.hpp>
#include <boost/process/v2/environment.hpp>
#include <fmt/format.h>

#include <sys/statvfs.h>
#include <unistd.h>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

// The first line a program prints for `--version`, or empty when it is not installed.
std::string program_version(const std::string& program, const std::string& flag = "--version") {
  if (boost::process::v2::environment::find_executable(program).empty())
    return {};
  asio::io_context io;
  std::string line;
  std::vector<std::string> argv{program, flag};
  ProcessOptions po;
  po.timeout = std::chrono::seconds(10);
  asio::co_spawn(io, run_process(argv, po), [&](std::exception_ptr e, ProcessResult r) {
    if (!e)
      line = (r.out.empty() ? r.err : r.out).substr(0, (r.out.empty() ? r.err : r.out).find('\n'));
  });
  io.run();
  return line.empty() ? std::string("installed") : line;
}

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

  auto sysbench = program_version("sysbench");
  add("sysbench", !sysbench.empty(), sysbench.empty() ? "not installed on the host" : sysbench,
      "run tools/setup (or apt-get install sysbench)");

  auto qemu = program_version("qemu-system-x86_64");
  add("qemu", !qemu.empty(), qemu.empty() ? "qemu-system-x86_64 not installed" : qemu,
      "run tools/setup (or apt-get install qemu-system-x86 qemu-utils)");
  auto qemu_img = program_version("qemu-img");
  add("qemu-img", !qemu_img.empty(), qemu_img.empty() ? "not installed" : qemu_img,
      "run tools/setup (or apt-get install qemu-utils)");

  auto debootstrap = boost::process::v2::environment::find_executable("debootstrap");
  add("debootstrap", !debootstrap.empty(), debootstrap.empty() ? "not installed" : debootstrap.string(),
      "run tools/setup (or apt-get install debootstrap); `virtbench image build` needs it", false);

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

  auto accel = qemu::choose_accel_for_host("auto");
  bool pvm = std::filesystem::exists("/sys/module/kvm_pvm");
  add("kvm", accel.kvm_usable,
      accel.kvm_usable ? "usable (hardware virtualization and /dev/kvm)"
                       : std::string(pvm ? "PVM-only (unusable for a stock guest kernel): " : "absent: ") +
                             accel.reason.substr(accel.reason.find("not usable: ") + 12),
      "nothing to do for correct results: QEMU runs under TCG (several times slower); for KVM use a host that "
      "exposes vmx/svm to this kernel",
      false);
  add("accelerator", true, "--accel auto will use " + accel.accel + " (" + accel.reason + ")", "");
  checks.push_back(docker::doctor_check());
  checks.push_back(libvirt::doctor_check("qemu:///system"));

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
