// The qemu driver's registry entry.
#include "drivers/vm/accel.hpp"
#include "drivers/qemu/qemu.hpp"
#include "drivers/vm/vm_options.hpp"

#include "driver.hpp"
#include "util/process.hpp"

#include <filesystem>

namespace virtbench::qemu {

namespace {

std::vector<Check> doctor(const DriverContext&) {
  std::vector<Check> checks;
  auto add = [&](std::string name, bool ok, std::string detail, std::string fix, bool fatal = true) {
    checks.push_back({std::move(name), ok ? "ok" : (fatal ? "fail" : "warn"), std::move(detail), ok ? "" : std::move(fix)});
  };
  auto qemu = program_version("qemu-system-x86_64");
  add("qemu", !qemu.empty(), qemu.empty() ? "qemu-system-x86_64 not installed" : qemu,
      "run tools/setup (or apt-get install qemu-system-x86 qemu-utils)");
  auto qemu_img = program_version("qemu-img");
  add("qemu-img", !qemu_img.empty(), qemu_img.empty() ? "not installed" : qemu_img,
      "run tools/setup (or apt-get install qemu-utils)");

  auto accel = vm::choose_accel_for_host("auto");
  bool pvm = std::filesystem::exists("/sys/module/kvm_pvm");
  add("kvm", accel.kvm_usable,
      accel.kvm_usable ? "usable (hardware virtualization and /dev/kvm)"
                       : std::string(pvm ? "PVM-only (unusable for a stock guest kernel): " : "absent: ") +
                             accel.reason.substr(accel.reason.find("not usable: ") + 12),
      "nothing to do for correct results: QEMU runs under TCG (several times slower); for KVM use a host that "
      "exposes vmx/svm to this kernel",
      false);
  add("accelerator", true, "--accel auto will use " + accel.accel + " (" + accel.reason + ")", "");
  return checks;
}

std::vector<OptionSpec> options() {
  auto all = vm::vm_options();
  all.push_back(OptionSpec::choice_option(
      "machine", "machine type; microvm (virtio-mmio, no PCI) boots faster, q35 is what production VMs use", "q35",
      {"q35", "microvm"}).as_axis());
  all.push_back(OptionSpec::list_option("qemu-arg", "extra argument appended to QEMU's argv (repeat for several)", "ARG"));
  return all;
}

} // namespace

const Driver& driver() {
  static const Driver k_driver{
      .name = "qemu",
      .summary = "a QEMU VM started by virtbench, driven by QMP and the guest agent",
      .options = options(),
      .make_platform = make_platform,
      .doctor = doctor,
      .commands = {},
      .fingerprint_keys = {"accel", "machine", "cpu_model", "cache_mode", "aio", "scratch_format", "vcpus",
                           "memory_bytes", "qemu_version", "sysbench_sha256", "image_digest", "guest_kernel"},
      .methodology = {"QMP `stop`", "the guest and the host (with `cache=none` QEMU bypasses the host cache, so that "
                                    "drop is recorded but has nothing to verify)",
                      "QEMU's threads"},
      .check_options = {},
  };
  return k_driver;
}

} // namespace virtbench::qemu
