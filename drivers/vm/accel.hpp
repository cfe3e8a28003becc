#pragma once
// Which QEMU accelerator to use, decided from facts about the host without I/O, so the
// qemu driver and `virtbench doctor` agree and the decision is unit-tested.

#include <string>
#include <string_view>

namespace virtbench::vm {

// Facts about the host that decide whether KVM really works.
struct AccelFacts {
  std::string_view cpuinfo;    // /proc/cpuinfo text (its "flags" lines are read)
  bool dev_kvm_exists = false; // /dev/kvm exists (and is usable by this user)
  bool kvm_pvm_loaded = false; // /sys/module/kvm_pvm exists: KVM is PVM, which boots only PVM-enabled guest kernels
};

struct AccelDecision {
  std::string accel;  // "kvm" or "tcg"; empty when the request cannot be met
  std::string reason; // one sentence for describe()'s accel_reason, or the error with its fix
  bool kvm_usable = false;
};

// True when a "flags" line of cpuinfo names the hardware virtualization flag vmx or svm.
bool has_hardware_virtualization(std::string_view cpuinfo);

// requested: "auto" (KVM when really usable, else TCG), "kvm" (error unless usable) or "tcg".
AccelDecision choose_accel(std::string_view requested, const AccelFacts& facts);

// Reads /proc/cpuinfo, /dev/kvm and /sys/module/kvm_pvm and decides.
AccelDecision choose_accel_for_host(std::string_view requested);

} // namespace virtbench::vm
