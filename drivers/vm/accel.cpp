#include "drivers/vm/accel.hpp"

#include "procstat.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <unistd.h>

namespace virtbench::vm {

bool has_hardware_virtualization(std::string_view cpuinfo) {
  for (auto flags : cpuinfo_values(cpuinfo, "flags"))
    if (has_word(flags, "vmx") || has_word(flags, "svm"))
      return true;
  return false;
}

AccelDecision choose_accel(std::string_view requested, const AccelFacts& facts) {
  AccelDecision d;
  bool hw = has_hardware_virtualization(facts.cpuinfo);
  std::string why_not;
  if (!hw)
    why_not = "the CPU has no hardware virtualization flag (vmx/svm) in /proc/cpuinfo";
  else if (!facts.dev_kvm_exists)
    why_not = "/dev/kvm is missing or not accessible (load kvm_intel/kvm_amd, or add this user to the kvm group)";
  if (facts.kvm_pvm_loaded)
    why_not = (why_not.empty() ? "" : why_not + ", and ") +
              std::string("the KVM module is PVM (/sys/module/kvm_pvm), which boots only PVM-enabled guest kernels");
  d.kvm_usable = why_not.empty();

  if (requested == "tcg") {
    d.accel = "tcg";
    d.reason = "requested with --accel tcg";
  } else if (requested == "kvm") {
    if (d.kvm_usable) {
      d.accel = "kvm";
      d.reason = "requested with --accel kvm";
    } else {
      d.reason = "--accel kvm: KVM is not usable here: " + why_not + "; use --accel tcg (or auto)";
    }
  } else if (d.kvm_usable) {
    d.accel = "kvm";
    d.reason = "auto: hardware virtualization (vmx/svm) and /dev/kvm are present";
  } else {
    d.accel = "tcg";
    d.reason = "auto: KVM not usable: " + why_not;
  }
  return d;
}

AccelDecision choose_accel_for_host(std::string_view requested) {
  std::string cpuinfo;
  try {
    cpuinfo = read_file("/proc/cpuinfo");
  } catch (const std::exception&) {
  }
  AccelFacts facts;
  facts.cpuinfo = cpuinfo;
  facts.dev_kvm_exists = ::access("/dev/kvm", R_OK | W_OK) == 0;
  std::error_code ec;
  facts.kvm_pvm_loaded = std::filesystem::exists("/sys/module/kvm_pvm", ec);
  return choose_accel(requested, facts);
}

} // namespace virtbench::vm
