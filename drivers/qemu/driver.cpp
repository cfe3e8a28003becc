// The qemu driver's registry entry.
#include "drivers/vm/accel.hpp"
#include "drivers/qemu/qemu.hpp"
#include "drivers/qemu/remote_qemu.hpp"
#include "drivers/vm/vm_options.hpp"

#include "driver.hpp"
#include "platform.hpp" // HostServices
#include "util/process.hpp"

#include <fmt/format.h>

#include <chrono>
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

// What `run --host URL --platform qemu` needs there: QEMU and the tools that make its disks,
// the accelerator it would get, and the guest image `image push --host` copies.
std::vector<Check> doctor_on_host(const DriverContext& ctx) {
  std::vector<Check> checks;
  auto where = ctx.host->location();
  try {
    ExecRequest probe{{"sh", "-c", k_remote_probe_script}, "", std::chrono::seconds(30)};
    auto facts = parse_remote_probe(run_sync(ctx.host->exec(std::move(probe))).out);
    if (!facts.missing.empty()) {
      checks.push_back({"remote qemu", "warn", "not installed on " + where + ": " + missing_tools_text(facts),
                        std::string("for --platform qemu there: apt-get install ") + k_remote_qemu_packages});
    } else {
      ExecRequest version{{"qemu-system-x86_64", "--version"}, "", std::chrono::seconds(30)};
      auto out = run_sync(ctx.host->exec(std::move(version))).out;
      vm::AccelFacts accel_facts;
      accel_facts.cpuinfo = facts.cpuinfo;
      accel_facts.dev_kvm_exists = facts.dev_kvm;
      accel_facts.kvm_pvm_loaded = facts.kvm_pvm;
      auto accel = vm::choose_accel("auto", accel_facts);
      checks.push_back({"remote qemu", "ok",
                        fmt::format("{}; --accel auto will use {} there ({})", out.substr(0, out.find('\n')), accel.accel,
                                    accel.reason),
                        ""});
    }
  } catch (const std::exception& e) {
    checks.push_back({"remote qemu", "fail", e.what(), "check the connection"});
  }
  try {
    auto image = ctx.host->host_guest_image(ctx.data_dir);
    checks.push_back({"remote image", "ok",
                      fmt::format("guest image recipe {} in {}", image.recipe_hash.substr(0, 12), image.dir.string()), ""});
  } catch (const std::exception& e) {
    // The message names the push command.
    checks.push_back({"remote image", "warn", e.what(), "needed for --platform qemu with --host"});
  }
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
      .doctor_on_host = doctor_on_host,
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
